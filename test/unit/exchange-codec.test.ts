/**
 * Typed data (differential against starknet.js getMessageHash for every signed type, random
 * messages), account addresses (against starknet.js), class hashes, the transaction codec
 * (round trip, strictness, hashes), and genesis parsing.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { hash as snHash, typedData } from 'starknet';
import { encodeShortString, getStarkKey, P, starknetKeccak, toHex } from '../../node/crypto/index.ts';
import {
  accountAddress,
  applyGenesis,
  auditInvariants,
  checkInvariants,
  getAccountView,
  getMode,
  getVaultView,
  MemoryState,
  CONTRACT_CLASSES,
  cancelAllHash,
  cancelAllTypedData,
  cancelHash,
  cancelTypedData,
  deployAccountHash,
  deployAccountTypedData,
  depositHash,
  depositTypedData,
  oracleUpdateHash,
  oracleUpdateTypedData,
  orderHash,
  orderTypedData,
  parseExchangeGenesis,
  parseOrderMessage,
  parseTx,
  transferHash,
  transferTypedData,
  TX_TYPES,
  txCalldata,
  txHash,
  txNonce,
  txSender,
  txSignature,
  txToJson,
  withdrawHash,
  withdrawTypedData,
  ORDER_TYPES,
  SIDES,
  TIME_IN_FORCE,
  type Order,
  type PerpTx,
} from '../../contracts-ts/index.ts';
import { testGenesisJson } from './exchange-fixtures.ts';

const U128 = (1n << 128n) - 1n;
const felt = fc.bigInt({ min: 0n, max: P - 1n });
const addr = fc.bigInt({ min: 1n, max: 2n ** 251n - 257n });
const u128 = fc.oneof(fc.bigInt({ min: 0n, max: U128 }), fc.constantFrom(0n, 1n, U128));
const chain = fc.constantFrom('PERPNODE_DEVNET', 'SN_MAIN', 'PERPNODE_TEST', 'X');
const market = fc.constantFrom('BTC-USD-PERP', 'ETH-USD-PERP', 'SOL-USD-PERP', 'A');
const order: fc.Arbitrary<Order> = fc.record({
  account: addr,
  market,
  side: fc.constantFrom(...SIDES),
  orderType: fc.constantFrom(...ORDER_TYPES),
  timeInForce: fc.constantFrom(...TIME_IN_FORCE),
  size: u128,
  price: u128,
  triggerPrice: u128,
  reduceOnly: fc.boolean(),
  expiry: u128,
  salt: felt,
});

const sn = (td: ReturnType<typeof orderTypedData>, account: bigint) => BigInt(typedData.getMessageHash(td, toHex(account)));

describe('exchange typed data (SNIP-12 rev 1, differential against starknet.js)', () => {
  it('Order', () => {
    fc.assert(
      fc.property(order, chain, (o, c) => {
        expect(orderHash(o, encodeShortString(c))).to.equal(sn(orderTypedData(o, c), o.account));
      }),
      { numRuns: 60 },
    );
  });
  it('the protocol example order hashes as starknet.js does with the literal JSON message', () => {
    const td = {
      types: {
        StarknetDomain: [
          { name: 'name', type: 'shortstring' },
          { name: 'version', type: 'shortstring' },
          { name: 'chainId', type: 'shortstring' },
          { name: 'revision', type: 'shortstring' },
        ],
        Order: [
          { name: 'account', type: 'ContractAddress' },
          { name: 'market', type: 'shortstring' },
          { name: 'side', type: 'shortstring' },
          { name: 'orderType', type: 'shortstring' },
          { name: 'timeInForce', type: 'shortstring' },
          { name: 'size', type: 'u128' },
          { name: 'price', type: 'u128' },
          { name: 'triggerPrice', type: 'u128' },
          { name: 'reduceOnly', type: 'bool' },
          { name: 'expiry', type: 'timestamp' },
          { name: 'salt', type: 'felt' },
        ],
      },
      primaryType: 'Order',
      domain: { name: 'perpnode', version: '1', chainId: 'PERPNODE_DEVNET', revision: '1' },
      message: {
        account: '0x1234',
        market: 'BTC-USD-PERP',
        side: 'BUY',
        orderType: 'LIMIT',
        timeInForce: 'GTC',
        size: '100000000',
        price: '6500000000000',
        triggerPrice: '0',
        reduceOnly: false,
        expiry: '1767225600',
        salt: '0x99',
      },
    };
    const o = parseOrderMessage(td.message);
    expect(orderHash(o, encodeShortString('PERPNODE_DEVNET'))).to.equal(BigInt(typedData.getMessageHash(td as any, '0x1234')));
  });
  it('Cancel, CancelAll, Withdraw, Transfer', () => {
    fc.assert(
      fc.property(addr, felt, felt, u128, addr, chain, market, (a, h, n, amt, to, c, m) => {
        const cid = encodeShortString(c);
        expect(cancelHash({ account: a, orderHash: h }, cid)).to.equal(sn(cancelTypedData({ account: a, orderHash: h }, c), a));
        for (const mk of [m, 'ALL']) expect(cancelAllHash({ account: a, market: mk, nonce: n }, cid)).to.equal(sn(cancelAllTypedData({ account: a, market: mk, nonce: n }, c), a));
        expect(withdrawHash({ account: a, amount: amt, recipient: h, nonce: n }, cid)).to.equal(sn(withdrawTypedData({ account: a, amount: amt, recipient: h, nonce: n }, c), a));
        expect(transferHash({ account: a, recipient: to, amount: amt, nonce: n }, cid)).to.equal(sn(transferTypedData({ account: a, recipient: to, amount: amt, nonce: n }, c), a));
      }),
      { numRuns: 25 },
    );
  });
  it('DeployAccount, Deposit, OracleUpdate', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 2n ** 251n - 1n }),
        felt,
        addr,
        u128,
        chain,
        fc.array(fc.record({ market, price: u128 }), { minLength: 0, maxLength: 4 }),
        u128,
        (pk, id, to, amt, c, prices, ts) => {
          const cid = encodeShortString(c);
          expect(deployAccountHash(pk, cid)).to.equal(sn(deployAccountTypedData(pk, c), accountAddress(pk)));
          expect(depositHash({ depositId: id, recipient: to, amount: amt }, pk, cid)).to.equal(sn(depositTypedData({ depositId: id, recipient: to, amount: amt }, c), pk));
          expect(oracleUpdateHash({ timestamp: ts, prices }, pk, cid)).to.equal(sn(oracleUpdateTypedData({ timestamp: ts, prices }, c), pk));
        },
      ),
      { numRuns: 6 },
    );
  });
  it('the chain id is part of every hash', () => {
    const o: Order = { account: 1n, market: 'BTC-USD-PERP', side: 'BUY', orderType: 'LIMIT', timeInForce: 'GTC', size: 1n, price: 1n, triggerPrice: 0n, reduceOnly: false, expiry: 1n, salt: 1n };
    expect(orderHash(o, encodeShortString('A'))).to.not.equal(orderHash(o, encodeShortString('B')));
  });
});

describe('exchange classes and account addresses', () => {
  it('accountAddress equals starknet.js calculateContractAddressFromHash(key, class, [key], 0)', () => {
    const account = CONTRACT_CLASSES.find((c) => c.name === 'Account')!;
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 251n - 1n }), (k) => {
        expect(accountAddress(k)).to.equal(BigInt(snHash.calculateContractAddressFromHash(toHex(k), toHex(account.classHash), [toHex(k)], 0)));
      }),
      { numRuns: 5 },
    );
  });
  it('classes name their versioned TypeScript implementation; class hashes are distinct', () => {
    for (const c of CONTRACT_CLASSES) {
      expect(c.versionedName).to.equal(`perpnode.${c.name}.v3`);
      expect(c.sierra.sierra_program).to.deep.equal([encodeShortString('PERPNODE_TS_NOT_SIERRA'), encodeShortString(c.versionedName), 3n]);
      expect(c.compiledClassHash).to.equal(starknetKeccak(`perpnode.${c.name}.v3.compiled`));
    }
    expect(new Set(CONTRACT_CLASSES.map((c) => c.classHash)).size).to.equal(3);
  });
});

const sig = fc.tuple(felt, felt);
const signedOrder = fc.record({ order, hash: felt, signature: sig });
const i128 = fc.bigInt({ min: -(2n ** 127n), max: 2n ** 127n });
const v3Bound = fc.record({ maxAmount: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), maxPricePerUnit: fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }) });
const v3Bounds = fc.record({ l1Gas: v3Bound, l1DataGas: v3Bound, l2Gas: v3Bound });
const txArb: fc.Arbitrary<PerpTx> = fc.oneof(
  fc.record({ type: fc.constant('DEPLOY_ACCOUNT' as const), publicKey: felt, signature: sig }),
  fc.record({ type: fc.constant('DEPOSIT' as const), depositId: felt, recipient: felt, amount: u128, signature: sig }),
  fc.record({ type: fc.constant('WITHDRAW' as const), account: felt, amount: u128, recipient: felt, nonce: felt, signature: sig }),
  fc.record({ type: fc.constant('TRANSFER' as const), account: felt, recipient: felt, amount: u128, nonce: felt, signature: sig }),
  fc.record({ type: fc.constant('TRADE' as const), maker: signedOrder, taker: signedOrder, size: u128, price: u128 }),
  fc.record({ type: fc.constant('CANCEL' as const), account: felt, orderHash: felt, signature: sig }),
  fc.record({ type: fc.constant('CANCEL_ALL' as const), account: felt, market: fc.constantFrom('ALL', 'BTC-USD-PERP'), nonce: felt, signature: sig, orderHashes: fc.array(felt, { maxLength: 3 }) }),
  fc.record({ type: fc.constant('ORACLE_UPDATE' as const), signer: felt, timestamp: u128, prices: fc.array(fc.record({ market, price: u128 }), { maxLength: 3 }), signature: sig }),
  fc.record({ type: fc.constant('FUNDING' as const), timestamp: u128, markets: fc.array(fc.record({ market, premium: i128, seconds: u128, rate: i128, index: i128 }), { maxLength: 3 }) }),
  fc.record({ type: fc.constant('FUNDING_SAMPLE' as const), markets: fc.array(fc.record({ market, impactBid: u128, impactAsk: u128 }), { maxLength: 3 }) }),
  fc.record({ type: fc.constant('LIQUIDATE' as const), account: felt, market, size: u128, positionBefore: i128, block: u128 }),
  fc.record({ type: fc.constant('ADL' as const), account: felt, market, positionBefore: i128, block: u128 }),
  fc.record({ type: fc.constant('VAULT_UNWIND' as const), account: felt, market, maker: signedOrder, size: u128, price: u128, positionBefore: i128, block: u128 }),
  fc.record({ type: fc.constant('SET_MODE' as const), mode: fc.constantFrom('NORMAL' as const, 'CANCEL_ONLY' as const, 'POST_ONLY' as const, 'HALTED' as const), reason: fc.string({ maxLength: 31 }).filter((s) => /^[\x20-\x7e]*$/.test(s)), seq: felt }),
  fc.record({ type: fc.constant('REFUND' as const), incidentId: felt, account: felt, amount: u128 }),
  fc.record({ type: fc.constant('SYSTEM_CANCEL' as const), reason: fc.constantFrom('rollback', 'expired'), orders: fc.array(fc.record({ account: felt, orderHash: felt }), { maxLength: 3 }) }),
  fc.record({ type: fc.constant('TRIGGER' as const), order: signedOrder }),
  fc.record({ type: fc.constant('VOID_SIGNED' as const), hashes: fc.array(felt, { maxLength: 3 }), nonces: fc.array(fc.record({ account: felt, nonce: felt }), { maxLength: 3 }) }),
  fc.record({ type: fc.constant('PRUNE_ORDERS' as const), slots: fc.array(fc.record({ account: felt, orderHash: felt }), { maxLength: 3 }), orders: fc.array(signedOrder, { maxLength: 2 }) }),
  fc.record({
    type: fc.constant('INVOKE' as const),
    sender: fc.bigInt({ min: 0n, max: 2n ** 251n - 1n }),
    calldata: fc.array(felt, { maxLength: 4 }),
    nonce: felt,
    signature: fc.array(felt, { maxLength: 3 }),
    resourceBounds: v3Bounds,
    tip: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    paymasterData: fc.array(felt, { maxLength: 2 }),
    accountDeploymentData: fc.array(felt, { maxLength: 2 }),
    nonceDaMode: fc.constantFrom('L1' as const, 'L2' as const),
    feeDaMode: fc.constantFrom('L1' as const, 'L2' as const),
    query: fc.constant(false),
    cancelAllHashes: fc.array(fc.array(felt, { maxLength: 2 }), { maxLength: 2 }),
  }),
  fc.record({
    type: fc.constant('DEPLOY_ACCOUNT_V3' as const),
    classHash: felt,
    salt: felt,
    constructorCalldata: fc.array(felt, { maxLength: 2 }),
    nonce: felt,
    signature: fc.array(felt, { maxLength: 3 }),
    resourceBounds: v3Bounds,
    tip: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    paymasterData: fc.array(felt, { maxLength: 2 }),
    nonceDaMode: fc.constantFrom('L1' as const, 'L2' as const),
    feeDaMode: fc.constantFrom('L1' as const, 'L2' as const),
    query: fc.constant(false),
  }),
);

describe('exchange transaction codec', () => {
  it('parseTx(JSON round trip of txToJson(tx)) equals tx, for every type', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(txArb, (tx) => {
        seen.add(tx.type);
        const back = parseTx(JSON.parse(JSON.stringify(txToJson(tx))));
        expect(back).to.deep.equal(tx);
        expect(txHash(back, 7n)).to.equal(txHash(tx, 7n));
      }),
      { numRuns: 300 },
    );
    expect([...seen].sort()).to.deep.equal([...TX_TYPES].sort());
  });
  it('txHash is poseidon over calldata and the chain id: it differs across chains and fields', () => {
    const tx: PerpTx = { type: 'REFUND', incidentId: 1n, account: 2n, amount: 3n };
    expect(txHash(tx, 1n)).to.not.equal(txHash(tx, 2n));
    expect(txHash(tx, 1n)).to.not.equal(txHash({ ...tx, amount: 4n }, 1n));
    expect(txCalldata(tx)[0]).to.equal(encodeShortString('PERP_REFUND'));
    // Same content under two types never collides: the type prefix separates them.
    const c: PerpTx = { type: 'CANCEL', account: 2n, orderHash: 3n, signature: [1n, 1n] };
    expect(txHash(c, 1n)).to.not.equal(txHash({ type: 'DEPLOY_ACCOUNT', publicKey: 2n, signature: [1n, 1n] }, 1n));
  });
  it('accessors: sender, signature, nonce', () => {
    const w: PerpTx = { type: 'WITHDRAW', account: 5n, amount: 1n, recipient: 9n, nonce: 3n, signature: [7n, 8n] };
    expect(txSender(w)).to.equal(5n);
    expect(txSignature(w)).to.deep.equal([7n, 8n]);
    expect(txNonce(w)).to.equal(3n);
    const f: PerpTx = { type: 'FUNDING', timestamp: 1n, markets: [] };
    expect(txSender(f, 0x5e9n)).to.equal(0x5e9n);
    expect(txSignature(f)).to.deep.equal([]);
    expect(txNonce(f)).to.equal(undefined);
    expect(txNonce({ type: 'DEPLOY_ACCOUNT', publicKey: 3n, signature: [1n, 2n] })).to.equal(0n);
    expect(txSender({ type: 'DEPLOY_ACCOUNT', publicKey: 3n, signature: [1n, 2n] })).to.equal(accountAddress(3n));
  });
  it('rejects hostile JSON with clear errors', () => {
    const ok = { type: 'CANCEL', account: '0x1', orderHash: '0x2', signature: ['0x1', '0x2'] };
    expect(() => parseTx(ok)).to.not.throw();
    const bad: [unknown, RegExp][] = [
      [null, /object/],
      [[], /object/],
      [{ ...ok, type: 'NOPE' }, /type/],
      [{ ...ok, extra: 1 }, /unknown field "extra"/],
      [{ type: 'CANCEL', account: '0x1', signature: ['0x1', '0x2'] }, /missing field "orderHash"/],
      [{ ...ok, account: 1 }, /account must be a 0x/],
      [{ ...ok, account: '12' }, /account must be a 0x/],
      [{ ...ok, account: '0x' + 'f'.repeat(64) }, /field element/],
      [{ ...ok, account: '0x' + '1'.repeat(65) }, /0x-prefixed/],
      [{ ...ok, signature: ['0x1'] }, /\[r, s\]/],
      [{ type: 'WITHDRAW', account: '0x1', amount: '0x' + '1'.repeat(33), recipient: '0x1', nonce: '0x0', signature: ['0x1', '0x1'] }, /u128/],
      [{ type: 'SET_MODE', mode: 'PANIC', reason: 'x', seq: '0x1' }, /mode must be one of/],
      [{ type: 'SET_MODE', mode: 'HALTED', reason: 'x'.repeat(32), seq: '0x1' }, /31 characters/],
      [{ type: 'LIQUIDATE', account: '0x1', market: 'btc', size: '0x1', positionBefore: '0x1', block: '0x1' }, /market symbol/],
      [{ type: 'LIQUIDATE', account: '0x1', market: 'BTC-USD-PERP', size: '0x1', positionBefore: '0x1' }, /missing field "block"/],
      [{ type: 'ADL', account: '0x1', market: 'BTC-USD-PERP', positionBefore: '0x1', block: 2 }, /block must be a 0x/],
      [{ type: 'FUNDING', timestamp: '0x1', markets: [{ market: 'BTC-USD-PERP', premium: '0x0', seconds: '0x1', rate: '--0x1', index: '0x0' }] }, /negative/],
      [{ type: 'TRADE', maker: { order: {}, hash: '0x1', signature: ['0x1', '0x1'] }, taker: {}, size: '0x1', price: '0x1' }, /missing field/],
    ];
    for (const [v, re] of bad) expect(() => parseTx(v), JSON.stringify(v)).to.throw(re);
    const deep: any = { type: 'CANCEL_ALL', account: '0x1', market: 'ALL', nonce: '0x0', signature: ['0x1', '0x1'], orderHashes: new Array(100_001).fill('0x1') };
    expect(() => parseTx(deep)).to.throw(/more than/);
  });
  it('parseOrderMessage accepts wallet forms (decimal, hex, numbers) and rejects the rest', () => {
    const m = { account: '0x1', market: 'BTC-USD-PERP', side: 'SELL', orderType: 'MARKET', timeInForce: 'IOC', size: '100', price: 0, triggerPrice: '0x0', reduceOnly: true, expiry: 1767225600, salt: '0x5' };
    const o = parseOrderMessage(m);
    expect(o.size).to.equal(100n);
    expect(o.price).to.equal(0n);
    expect(() => parseOrderMessage({ ...m, reduceOnly: 'true' })).to.throw(/boolean/);
    expect(() => parseOrderMessage({ ...m, size: '1e3' })).to.throw(/integer/);
    expect(() => parseOrderMessage({ ...m, size: -1 })).to.throw(/integer/);
    expect(() => parseOrderMessage({ ...m, side: 'LONG' })).to.throw(/side/);
    expect(() => parseOrderMessage({ ...m, size: (1n << 128n).toString() })).to.throw(/range/);
  });
});

describe('exchange genesis parsing', () => {
  it('the devnet file parses and its dev accounts match their keys', () => {
    const g = JSON.parse(readFileSync(new URL('../../genesis/devnet.json', import.meta.url), 'utf8'));
    const cfg = parseExchangeGenesis(g.exchange);
    expect(cfg.markets.map((m) => m.symbol)).to.include.members(['BTC-USD-PERP', 'ETH-USD-PERP']);
    expect(cfg.devAccounts.length).to.be.at.least(10);
    expect(cfg.devAccounts.every((a) => a.privateKey !== undefined)).to.equal(true);
    expect(cfg.bridgeOperator.privateKey).to.not.equal(undefined);
    expect(cfg.oracles[0]!.privateKey).to.not.equal(undefined);
    expect(cfg.vaultInitialBalance > 0n).to.equal(true);
    expect(JSON.stringify(g.exchange)).to.match(/DEVNET ONLY/);
    const st = new MemoryState();
    applyGenesis(st, cfg, { block: { blockNumber: 0n, timestamp: BigInt(g.genesis_timestamp ?? 0), chainId: encodeShortString('PERPNODE_DEVNET'), sequencerAddress: 0n }, verify: () => false });
    expect(checkInvariants(st, cfg, cfg.devAccounts.map((a) => a.address))).to.deep.equal([]);
    expect(auditInvariants(st, cfg)).to.deep.equal([]);
    expect(getVaultView(st, cfg).balance).to.equal(cfg.vaultInitialBalance);
    for (const a of cfg.devAccounts) {
      expect(getAccountView(st, cfg, a.address)).to.deep.include({ deployed: true, publicKey: a.publicKey, collateral: a.balance, nonce: 1n });
      expect(getStarkKey(a.privateKey!)).to.equal(a.publicKey);
    }
    expect(getMode(st, cfg)).to.equal('NORMAL');
    expect(getMode(st)).to.equal('NORMAL'); // the devnet exchange sits at the default address
  });
  it('rejects bad parameters, naming the field', () => {
    const base = testGenesisJson();
    const mk = (patch: Record<string, unknown>) => ({ ...base, markets: [{ ...(base.markets as any[])[0], ...patch }] });
    const cases: [unknown, RegExp][] = [
      [{ ...base, version: 2 }, /version/],
      [{ ...base, surprise: 1 }, /unknown key "surprise"/],
      [{ ...base, collateral: { symbol: 'USDC', decimals: 18 } }, /decimals/],
      [mk({ tick_size: '0.000000001' }), /tick_size.*decimal places/],
      [mk({ tick_size: '0.00000001', step_size: '0.00000001' }), /multiple of 1e-12/],
      [mk({ initial_margin_fraction: '0.01' }), /initial_margin_fraction must exceed/],
      [mk({ maker_fee: '-0.001' }), /rebate/],
      [mk({ liquidation_penalty: '0.06' }), /liquidation_penalty/],
      [mk({ symbol: 'btc' }), /symbol/],
      [mk({ symbol: 'ALL' }), /symbol/],
      [mk({ initial_price: '65000.05' }), /multiple of tick_size/],
      [mk({ funding_interval_seconds: 99999 }), /funding_interval_seconds/],
      [mk({ min_size: '0.00015' }), /min_size/],
      [{ ...base, oracles: [] }, /oracles/],
      [{ ...base, dev_accounts: [{ public_key: '0x1', balance: '1', address: '0x2' }] }, /address is not the account address/],
      [{ ...base, bridge_operator: { public_key: '0x1', private_key: '0x2' } }, /does not match/],
      [{ ...base, markets: [...(base.markets as any[]), (base.markets as any[])[0]] }, /duplicate symbol/],
    ];
    for (const [v, re] of cases) expect(() => parseExchangeGenesis(v), String(re)).to.throw(re);
  });
});
