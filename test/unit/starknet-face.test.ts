/**
 * The contracts' Starknet face, against starknet.js as the reference: class hashes, v3
 * transaction hashes, Cairo 1 multicall calldata, and INVOKE / DEPLOY_ACCOUNT v3 executing
 * through the same rules as the perp_* transactions (and every bad input reverting whole).
 */
import { expect } from 'chai';
import { CallData, ec, hash as snHash, transaction, type Call } from 'starknet';
import { toHex } from '../../node/crypto/index.ts';
import { ACCOUNT_CLASS, accountAddress, CONTRACT_CLASSES, EXCHANGE_CLASS, getAccountView, makeSetModeTx, type PerpTx } from '../../contracts-ts/index.ts';
import { sierraClassJson } from '../../contracts-ts/starknet/class.ts';
import { selectorOf } from '../../contracts-ts/starknet/abi.ts';
import { callView, SRC6_ID, VALID } from '../../contracts-ts/starknet/entrypoints.ts';
import { deployAccountTxHash, invokeTxHash, parseBroadcastedV3, UnsupportedVersionError, type DeployAccountV3Tx, type InvokeTx } from '../../contracts-ts/starknet/tx.ts';
import { fromFelt } from '../../contracts-ts/math.ts';
import { CHAIN_ID, Harness, key, USDC, USERS, type User } from './exchange-fixtures.ts';

const ZERO_BOUNDS = { l1Gas: { maxAmount: 0n, maxPricePerUnit: 0n }, l1DataGas: { maxAmount: 0n, maxPricePerUnit: 0n }, l2Gas: { maxAmount: 0n, maxPricePerUnit: 0n } };

function invoke(u: User, calls: Call[], nonce: bigint, over: Partial<InvokeTx> = {}): InvokeTx {
  const calldata = transaction.getExecuteCalldata(calls, '1').map((x) => BigInt(x));
  const tx: InvokeTx = {
    type: 'INVOKE',
    sender: u.address,
    calldata,
    nonce,
    signature: [],
    resourceBounds: { l1Gas: { maxAmount: 0x10n, maxPricePerUnit: 0x20n }, l1DataGas: { maxAmount: 0x30n, maxPricePerUnit: 0x40n }, l2Gas: { maxAmount: 0x50n, maxPricePerUnit: 0x60n } },
    tip: 7n,
    paymasterData: [],
    accountDeploymentData: [],
    nonceDaMode: 'L1',
    feeDaMode: 'L1',
    query: false,
    cancelAllHashes: [],
    ...over,
  };
  if (!over.signature) {
    const s = ec.starkCurve.sign(toHex(invokeTxHash(tx, CHAIN_ID)), toHex(u.priv));
    tx.signature = [s.r, s.s];
  }
  return tx;
}

const ex = (h: Harness, entrypoint: string, args: Record<string, unknown> | unknown[]): Call => ({ contractAddress: toHex(h.cfg.exchangeAddress), entrypoint, calldata: CallData.compile(args as any) });

describe('Starknet face: classes, hashes, entry points', () => {
  it('each class hash is Starknet\'s Sierra class hash of the served class (starknet.js computes the same)', () => {
    expect(CONTRACT_CLASSES.map((c) => c.name)).to.deep.equal(['Account', 'Exchange', 'LiquidatorVault']);
    for (const c of CONTRACT_CLASSES) {
      const j: any = sierraClassJson(c.sierra);
      expect(j.contract_class_version).to.equal('0.1.0');
      expect(BigInt(snHash.computeSierraContractClassHash({ ...j, abi: JSON.parse(j.abi) }))).to.equal(c.classHash);
      for (const e of j.entry_points_by_type.EXTERNAL) expect(c.abi.functions[e.function_idx]!.name).to.satisfy((n: string) => BigInt(snHash.getSelectorFromName(n)) === BigInt(e.selector));
      // sorted by selector, as Starknet requires
      const sels = j.entry_points_by_type.EXTERNAL.map((e: any) => BigInt(e.selector));
      expect(sels).to.deep.equal([...sels].sort((a: bigint, b: bigint) => (a < b ? -1 : 1)));
    }
  });

  it('INVOKE and DEPLOY_ACCOUNT v3 hashes equal starknet.js\'s (also for the query version)', () => {
    const u = USERS[0]!;
    for (const query of [false, true]) {
      const tx = invoke(u, [{ contractAddress: '0x123', entrypoint: 'withdraw', calldata: ['0x5', '0x6'] }], 3n, { query, paymasterData: [9n], accountDeploymentData: [8n], nonceDaMode: 'L2' });
      const ref = snHash.calculateInvokeTransactionHash({
        senderAddress: toHex(u.address),
        version: query ? '0x100000000000000000000000000000003' : '0x3',
        compiledCalldata: tx.calldata.map(toHex),
        chainId: toHex(CHAIN_ID) as any,
        nonce: 3,
        accountDeploymentData: ['0x8'],
        nonceDataAvailabilityMode: 1 as any,
        feeDataAvailabilityMode: 0 as any,
        resourceBounds: { l1_gas: { max_amount: 0x10n, max_price_per_unit: 0x20n }, l1_data_gas: { max_amount: 0x30n, max_price_per_unit: 0x40n }, l2_gas: { max_amount: 0x50n, max_price_per_unit: 0x60n } },
        tip: 7,
        paymasterData: ['0x9'],
      } as any);
      expect(invokeTxHash(tx, CHAIN_ID)).to.equal(BigInt(ref));
    }
    const k = key('deployer');
    const d: DeployAccountV3Tx = { type: 'DEPLOY_ACCOUNT_V3', classHash: ACCOUNT_CLASS.classHash, salt: k.pub, constructorCalldata: [k.pub], nonce: 0n, signature: [], resourceBounds: ZERO_BOUNDS, tip: 0n, paymasterData: [], nonceDaMode: 'L1', feeDaMode: 'L1', query: false };
    const address = accountAddress(k.pub);
    expect(BigInt(snHash.calculateContractAddressFromHash(toHex(k.pub), toHex(ACCOUNT_CLASS.classHash), [toHex(k.pub)], 0))).to.equal(address);
    const ref = snHash.calculateDeployAccountTransactionHash({
      contractAddress: toHex(address),
      classHash: toHex(ACCOUNT_CLASS.classHash),
      compiledConstructorCalldata: [toHex(k.pub)],
      salt: toHex(k.pub),
      version: '0x3',
      chainId: toHex(CHAIN_ID) as any,
      nonce: 0,
      nonceDataAvailabilityMode: 0 as any,
      feeDataAvailabilityMode: 0 as any,
      resourceBounds: { l1_gas: { max_amount: 0n, max_price_per_unit: 0n }, l1_data_gas: { max_amount: 0n, max_price_per_unit: 0n }, l2_gas: { max_amount: 0n, max_price_per_unit: 0n } },
      tip: 0,
      paymasterData: [],
    } as any);
    expect(deployAccountTxHash(d, address, CHAIN_ID)).to.equal(BigInt(ref));
  });

  it('an INVOKE multicall (withdraw + transfer) runs the perp rules once, with one nonce and the same events', () => {
    const h = new Harness();
    const [a, b] = [USERS[0]!, USERS[1]!];
    const n0 = h.st.getNonce(a.address);
    const c0 = h.view(a).collateral;
    const cb = h.view(b).collateral;
    const tx = invoke(a, [ex(h, 'withdraw', { amount: 5n * USDC, recipient: '0xabc' }), ex(h, 'transfer', { recipient: toHex(b.address), amount: 7n * USDC })], n0);
    const events = h.exec(tx);
    expect(h.view(a).collateral).to.equal(c0 - 12n * USDC);
    expect(h.view(b).collateral).to.equal(cb + 7n * USDC);
    expect(h.st.getNonce(a.address)).to.equal(n0 + 1n);
    // the same events the perp_* WITHDRAW and TRANSFER emit, each with the transaction nonce
    const twin = new Harness();
    const e1 = twin.exec(twin.withdrawTx(a, 5n * USDC, n0, 0xabcn));
    const tw = twin.transferTx(a, b.address, 7n * USDC, n0 + 1n);
    const e2 = twin.exec(tw);
    expect(events[0]).to.deep.equal(e1[0]);
    expect(events[1]!.keys).to.deep.equal(e2[0]!.keys);
    expect(events[1]!.data).to.deep.equal([7n * USDC, n0]);
    h.expectInvariants();
  });

  it('bad INVOKEs revert whole and change nothing: nonce, signature, selector, calldata, callee, rule, atomicity', () => {
    const h = new Harness();
    const a = USERS[0]!;
    const n = h.st.getNonce(a.address);
    const w = (amount: bigint) => ex(h, 'withdraw', { amount, recipient: '0xabc' });
    h.expectRevert(invoke(a, [w(USDC)], n + 1n), 'INVALID_NONCE');
    h.expectRevert(invoke(a, [w(USDC)], n - 1n), 'INVALID_NONCE');
    h.expectRevert(invoke(a, [w(USDC)], n, { signature: [1n, 2n] }), 'BAD_SIGNATURE');
    h.expectRevert(invoke(a, [w(USDC)], n, { signature: [1n] }), 'BAD_SIGNATURE');
    // signed by another key
    const other = invoke(USERS[1]!, [w(USDC)], n);
    h.expectRevert({ ...other, sender: a.address }, 'BAD_SIGNATURE');
    h.expectRevert(invoke(a, [{ contractAddress: toHex(h.cfg.exchangeAddress), entrypoint: 'steal', calldata: [] }], n), 'ENTRYPOINT_NOT_FOUND');
    h.expectRevert(invoke(a, [{ contractAddress: toHex(h.cfg.exchangeAddress), entrypoint: 'withdraw', calldata: ['0x1'] }], n), 'INVALID_CALLDATA');
    h.expectRevert(invoke(a, [{ contractAddress: toHex(h.cfg.exchangeAddress), entrypoint: 'withdraw', calldata: ['0x1', '0x2', '0x3'] }], n), 'INVALID_CALLDATA');
    h.expectRevert(invoke(a, [{ contractAddress: toHex(h.cfg.exchangeAddress), entrypoint: 'withdraw', calldata: [toHex(1n << 128n), '0x2'] }], n), 'INVALID_CALLDATA');
    h.expectRevert(invoke(a, [], n, { calldata: [2n, 1n] }), 'INVALID_CALLDATA');
    h.expectRevert(invoke(a, [{ contractAddress: '0x999', entrypoint: 'withdraw', calldata: ['0x1', '0x2'] }], n), 'CONTRACT_NOT_FOUND');
    h.expectRevert(invoke(a, [{ contractAddress: toHex(USERS[1]!.address), entrypoint: '__execute__', calldata: ['0x0'] }], n), 'INVALID_CALLER');
    h.expectRevert(invoke(a, [w(10n ** 12n * USDC)], n), 'INSUFFICIENT_COLLATERAL');
    h.expectRevert(invoke(a, [w(USDC), w(10n ** 12n * USDC)], n), 'INSUFFICIENT_COLLATERAL'); // the first call is undone too
    h.expectRevert(invoke(a, [w(0n)], n), 'INVALID_AMOUNT');
    h.expectRevert(invoke(USERS[5]!, [w(USDC)], 0n), 'NON_ACCOUNT');
    expect(h.st.getNonce(a.address)).to.equal(n);
  });

  it('the mode gate applies to each call: CANCEL_ONLY still withdraws, HALTED refuses', () => {
    const h = new Harness();
    const a = USERS[0]!;
    h.exec(makeSetModeTx(h.st, h.cfg, 'CANCEL_ONLY', 'test') as PerpTx);
    h.exec(invoke(a, [ex(h, 'withdraw', { amount: USDC, recipient: '0xabc' })], h.st.getNonce(a.address)));
    h.exec(makeSetModeTx(h.st, h.cfg, 'HALTED', 'test') as PerpTx);
    h.expectRevert(invoke(a, [ex(h, 'withdraw', { amount: USDC, recipient: '0xabc' })], h.st.getNonce(a.address)), 'MODE_HALTED');
  });

  it('cancel_order and cancel_all through a multicall mark orders cancelled on-chain', () => {
    const h = new Harness();
    const a = USERS[0]!;
    const o1 = h.order(a, { side: 'BUY', size: 10_000_000n, price: 6_000_000_000_000n });
    const o2 = h.order(a, { side: 'BUY', size: 10_000_000n, price: 6_000_000_000_000n });
    const btc = '0x' + Buffer.from('BTC-USD-PERP').toString('hex');
    const events = h.exec(invoke(a, [ex(h, 'cancel_order', [toHex(o1.hash)]), ex(h, 'cancel_all', [btc])], h.st.getNonce(a.address), { cancelAllHashes: [[o2.hash]] }));
    expect(events.map((e) => e.keys[0])).to.deep.equal([selectorOf('OrderCancelled'), selectorOf('OrderCancelled'), selectorOf('CancelAll')]);
    h.expectRevert(h.trade(o1, h.order(USERS[1]!, { side: 'SELL', size: 10_000_000n, price: 6_000_000_000_000n, timeInForce: 'IOC' }), 10_000_000n, 6_000_000_000_000n), 'ORDER_CANCELLED', 'maker');
    h.expectRevert(invoke(a, [ex(h, 'cancel_all', ['0x1234'])], h.st.getNonce(a.address)), 'UNKNOWN_MARKET');
  });

  it('views answer from state; is_valid_signature says VALID for the account key only (SNIP-6); SRC5', () => {
    const h = new Harness();
    const a = USERS[0]!;
    const v = (addr: bigint, name: string, cd: bigint[] = []) => callView(h.st, h.cfg, addr, selectorOf(name), cd, h.ctx().verify);
    const btc = BigInt('0x' + Buffer.from('BTC-USD-PERP').toString('hex'));
    expect(fromFelt(v(h.cfg.exchangeAddress, 'get_collateral', [a.address])[0]!)).to.equal(getAccountView(h.st, h.cfg, a.address).collateral);
    h.open(a, USERS[1]!, 10_000_000n, 6_500_000_000_000n);
    const pos = v(h.cfg.exchangeAddress, 'get_position', [USERS[1]!.address, btc]).map(fromFelt);
    expect(pos[0]).to.equal(-10_000_000n);
    expect(v(h.cfg.exchangeAddress, 'get_mark_price', [btc])[0]).to.be.a('bigint');
    expect(v(h.cfg.exchangeAddress, 'get_mode')).to.deep.equal([BigInt('0x' + Buffer.from('NORMAL').toString('hex'))]);
    expect(v(a.address, 'get_public_key')).to.deep.equal([a.pub]);
    const msg = 0x1234n;
    const s = ec.starkCurve.sign(toHex(msg), toHex(a.priv));
    expect(v(a.address, 'is_valid_signature', [msg, 2n, s.r, s.s])).to.deep.equal([VALID]);
    expect(v(USERS[1]!.address, 'is_valid_signature', [msg, 2n, s.r, s.s])).to.deep.equal([0n]);
    expect(v(a.address, 'supports_interface', [SRC6_ID])).to.deep.equal([1n]);
    expect(v(a.address, 'supports_interface', [5n])).to.deep.equal([0n]);
    expect(() => v(h.cfg.exchangeAddress, 'get_position', [a.address])).to.throw(/deserialize/);
    expect(() => v(h.cfg.exchangeAddress, 'withdraw', [1n, 2n])).to.throw(/only inside a transaction/);
    expect(() => v(h.cfg.exchangeAddress, 'get_mark_price', [5n])).to.throw(/no such market/);
    expect(() => v(0x999n, 'get_mode')).to.throw(/no contract/);
    expect(() => v(h.cfg.exchangeAddress, 'nope')).to.throw(/no entry point/);
    expect(EXCHANGE_CLASS.abi.functions.map((f) => f.name)).to.include.members(['withdraw', 'transfer', 'cancel_order', 'cancel_all', 'get_collateral', 'get_position', 'get_mark_price', 'get_funding_index', 'get_mode']);
  });

  it('DEPLOY_ACCOUNT v3 deploys at the derived address with nonce 1; wrong class, salt, nonce or signature revert', () => {
    const h = new Harness();
    const k = key('v3 deployer');
    const base: DeployAccountV3Tx = { type: 'DEPLOY_ACCOUNT_V3', classHash: ACCOUNT_CLASS.classHash, salt: k.pub, constructorCalldata: [k.pub], nonce: 0n, signature: [], resourceBounds: ZERO_BOUNDS, tip: 0n, paymasterData: [], nonceDaMode: 'L1', feeDaMode: 'L1', query: false };
    const signed = (t: DeployAccountV3Tx) => {
      const s = ec.starkCurve.sign(toHex(deployAccountTxHash(t, accountAddress(k.pub), CHAIN_ID)), toHex(k.priv));
      return { ...t, signature: [s.r, s.s] };
    };
    h.expectRevert(signed({ ...base, classHash: EXCHANGE_CLASS.classHash }), 'CLASS_HASH_NOT_FOUND');
    h.expectRevert(signed({ ...base, salt: 5n }), 'INVALID_CALLDATA');
    h.expectRevert(signed({ ...base, nonce: 1n }), 'INVALID_NONCE');
    h.expectRevert({ ...base, signature: [1n, 2n] }, 'BAD_SIGNATURE');
    const events = h.exec(signed(base));
    const addr = accountAddress(k.pub);
    expect(events[0]!.keys).to.deep.equal([selectorOf('AccountDeployed'), addr]);
    expect(h.st.getClassHash(addr)).to.equal(ACCOUNT_CLASS.classHash);
    expect(h.st.getNonce(addr)).to.equal(1n);
    h.expectRevert(signed(base), 'ACCOUNT_EXISTS');
  });

  it('the broadcast codec takes v3 only: v1 / unknown versions are UnsupportedVersionError, queries only where allowed', () => {
    const j = { type: 'INVOKE', sender_address: '0x1', calldata: [], version: '0x1', signature: [], nonce: '0x0', max_fee: '0x0' };
    expect(() => parseBroadcastedV3(j, true)).to.throw(UnsupportedVersionError);
    const v3 = { type: 'INVOKE', sender_address: '0x1', calldata: [], version: '0x100000000000000000000000000000003', signature: [], nonce: '0x0', resource_bounds: { l1_gas: { max_amount: '0x0', max_price_per_unit: '0x0' }, l1_data_gas: { max_amount: '0x0', max_price_per_unit: '0x0' }, l2_gas: { max_amount: '0x0', max_price_per_unit: '0x0' } }, tip: '0x0', paymaster_data: [], account_deployment_data: [], nonce_data_availability_mode: 'L1', fee_data_availability_mode: 'L1' };
    expect(() => parseBroadcastedV3(v3, false)).to.throw(UnsupportedVersionError);
    expect((parseBroadcastedV3(v3, true) as InvokeTx).query).to.equal(true);
    expect(() => parseBroadcastedV3({ ...v3, version: '0x3', tip: '0x10000000000000000' }, false)).to.throw(/64 bits/);
    expect(() => parseBroadcastedV3({ ...v3, version: '0x3', extra: 1 }, false)).to.throw(/unknown field/);
  });
});
