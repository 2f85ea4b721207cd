/**
 * Test harness for the exchange contracts: a MemoryState with a small two-market genesis, users
 * whose orders and messages are signed with starknet.js exactly as a wallet does
 * (`ec.starkCurve.sign(typedData.getMessageHash(td, account), priv)`), and helpers to run
 * transactions at a controllable block time.
 */
import { expect } from 'chai';
import { ec, typedData, type TypedData } from 'starknet';
import { encodeShortString, getStarkKey, starknetKeccak, toHex, verify } from '../../node/crypto/index.ts';
import {
  accountAddress,
  applyGenesis,
  auditInvariants,
  cancelAllTypedData,
  cancelTypedData,
  checkInvariants,
  deployAccountTypedData,
  depositTypedData,
  executeTransaction,
  getAccountView,
  MemoryState,
  oracleUpdateTypedData,
  orderTypedData,
  parseExchangeGenesis,
  transferTypedData,
  TxRevert,
  withdrawTypedData,
  type ContractEvent,
  type ExchangeConfig,
  type ExecContext,
  type Order,
  type PerpTx,
  type SignedOrder,
} from '../../contracts-ts/index.ts';

export const CHAIN = 'PERPNODE_TEST';
export const CHAIN_ID = encodeShortString(CHAIN);
export const T0 = 1_767_225_600n;

export const USDC = 1_000_000n;
export const E8 = 100_000_000n;

export function key(label: string): { priv: bigint; pub: bigint } {
  const priv = starknetKeccak(`perpnode test ${label}`);
  return { priv, pub: getStarkKey(priv) };
}

export const ORACLE = key('oracle');
export const BRIDGE = key('bridge');

export interface User {
  priv: bigint;
  pub: bigint;
  address: bigint;
}

export function user(label: string): User {
  const k = key(label);
  return { ...k, address: accountAddress(k.pub) };
}

export const USERS: User[] = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map(user);

export function walletSign(td: TypedData, account: bigint, priv: bigint): [bigint, bigint] {
  const h = typedData.getMessageHash(td, toHex(account));
  const s = ec.starkCurve.sign(h, toHex(priv));
  return [s.r, s.s];
}

export interface GenesisOpts {
  vault?: string;
  balances?: string[];
  users?: User[];
  btc?: Record<string, unknown>;
  eth?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}

export function testGenesisJson(o: GenesisOpts = {}): Record<string, unknown> {
  const users = o.users ?? USERS.slice(0, 4);
  return {
    version: 1,
    exchange_address: '0x4558434841',
    vault_address: '0x5641554c54',
    collateral: { symbol: 'USDC', decimals: 6 },
    bridge_operator: { public_key: toHex(BRIDGE.pub) },
    oracles: [{ public_key: toHex(ORACLE.pub) }],
    oracle_max_future_skew_seconds: 10,
    post_only_band_bps: 100,
    vault_initial_balance: o.vault ?? '1000',
    markets: [
      {
        symbol: 'BTC-USD-PERP',
        initial_price: '65000',
        tick_size: '0.1',
        step_size: '0.0001',
        min_size: '0.001',
        initial_margin_fraction: '0.1',
        maintenance_margin_fraction: '0.05',
        maker_fee: '-0.0001',
        taker_fee: '0.0005',
        funding_period_seconds: 28800,
        funding_interval_seconds: 60,
        funding_rate_clamp: '0.01',
        price_band_bps: 500,
        open_interest_cap: '100',
        liquidation_penalty: '0.01',
        liquidation_step_fraction: '0.5',
        oracle_max_jump: '0.5',
        ...o.btc,
      },
      {
        symbol: 'ETH-USD-PERP',
        initial_price: '3500',
        tick_size: '0.01',
        step_size: '0.001',
        min_size: '0.01',
        initial_margin_fraction: '0.1',
        maintenance_margin_fraction: '0.05',
        maker_fee: '0',
        taker_fee: '0.0005',
        funding_period_seconds: 28800,
        funding_interval_seconds: 60,
        funding_rate_clamp: '0.01',
        price_band_bps: 500,
        open_interest_cap: '1000',
        liquidation_penalty: '0.01',
        liquidation_step_fraction: '0.5',
        oracle_max_jump: '0.5',
        ...o.eth,
      },
    ],
    dev_accounts: users.map((u, i) => ({ public_key: toHex(u.pub), balance: o.balances?.[i] ?? '10000' })),
    ...o.extra,
  };
}

/** A verifier with a cache keyed by the whole input (what the node's signature cache does). */
export function cachedVerify(): ExecContext['verify'] {
  const cache = new Map<string, boolean>();
  return (h, k, r, s) => {
    const id = `${h}:${k}:${r}:${s}`;
    let v = cache.get(id);
    if (v === undefined) {
      v = verify(h, k, [r, s]);
      cache.set(id, v);
    }
    return v;
  };
}

const sharedVerify = cachedVerify();

let saltCounter = 1n;

export class Harness {
  st = new MemoryState();
  cfg: ExchangeConfig;
  now = T0;
  blockNumber = 1n;
  /** Every transaction that executed successfully, in order (for replay tests). */
  log: { tx: PerpTx; now: bigint; blockNumber: bigint }[] = [];
  oracleTs = T0;
  depositId = 1n;

  constructor(opts: GenesisOpts = {}) {
    this.cfg = parseExchangeGenesis(testGenesisJson(opts));
    applyGenesis(this.st, this.cfg, this.ctx(0n));
  }

  ctx(blockNumber = this.blockNumber): ExecContext {
    return { block: { blockNumber, timestamp: this.now, chainId: CHAIN_ID, sequencerAddress: 0x5345n }, verify: sharedVerify };
  }

  market(symbol = 'BTC-USD-PERP') {
    return this.cfg.marketBySymbol.get(symbol)!;
  }

  exec(tx: PerpTx): ContractEvent[] {
    const before = new Map(this.st.storage);
    const nonces = new Map(this.st.nonces);
    const classes = new Map(this.st.classes);
    try {
      const { events } = executeTransaction(tx, this.st, this.ctx(), this.cfg);
      this.log.push({ tx, now: this.now, blockNumber: this.blockNumber });
      if (tx.type === 'ORACLE_UPDATE') this.lastOracleBlock = this.blockNumber;
      return events;
    } catch (e) {
      // What the node's journal does: a reverted transaction leaves no trace.
      this.st.storage.clear();
      for (const [k, v] of before) this.st.storage.set(k, v);
      this.st.nonces.clear();
      for (const [k, v] of nonces) this.st.nonces.set(k, v);
      this.st.classes.clear();
      for (const [k, v] of classes) this.st.classes.set(k, v);
      throw e;
    }
  }

  /** Expects a TxRevert with `code` and an unchanged state. */
  expectRevert(tx: PerpTx, code: string, party?: 'maker' | 'taker'): TxRevert {
    const snapshot = JSON.stringify([...this.st.storage].map(([k, v]) => [k, v.toString()]));
    let err: unknown;
    try {
      this.exec(tx);
    } catch (e) {
      err = e;
    }
    expect(err, `expected revert ${code}`).to.be.instanceOf(TxRevert);
    expect((err as TxRevert).code, (err as TxRevert).message).to.equal(code);
    if (party) expect((err as TxRevert).party).to.equal(party);
    expect(JSON.stringify([...this.st.storage].map(([k, v]) => [k, v.toString()]))).to.equal(snapshot);
    return err as TxRevert;
  }

  advance(seconds: bigint): void {
    this.now += seconds;
    this.blockNumber += 1n;
  }

  order(u: User, o: Partial<Order> & Pick<Order, 'side' | 'size' | 'price'>): SignedOrder {
    const order: Order = {
      account: u.address,
      market: 'BTC-USD-PERP',
      orderType: 'LIMIT',
      timeInForce: 'GTC',
      triggerPrice: 0n,
      reduceOnly: false,
      expiry: this.now + 3600n,
      salt: saltCounter++,
      ...o,
    };
    const td = orderTypedData(order, CHAIN);
    const hash = BigInt(typedData.getMessageHash(td, toHex(order.account)));
    return { order, hash, signature: walletSign(td, order.account, u.priv) };
  }

  trade(maker: SignedOrder, taker: SignedOrder, size: bigint, price: bigint): PerpTx {
    return { type: 'TRADE', maker, taker, size, price };
  }

  /** Opens a position: `long` buys `size` from `short` at `price` (short rests as maker). */
  open(long: User, short: User, size: bigint, price: bigint, market = 'BTC-USD-PERP'): ContractEvent[] {
    const mk = this.order(short, { side: 'SELL', size, price, market });
    const tk = this.order(long, { side: 'BUY', size, price, market, timeInForce: 'IOC' });
    return this.exec(this.trade(mk, tk, size, price));
  }

  oracleTx(prices: Record<string, bigint>, ts?: bigint, signer = ORACLE): PerpTx {
    if (ts === undefined && this.oracleTs < this.now) this.oracleTs = this.now; // fresh: oracle_max_age_seconds is on by default
    const timestamp = ts ?? ++this.oracleTs;
    if (ts === undefined && timestamp > this.now + 10n) this.now = timestamp;
    // Without an explicit timestamp the update goes into a block of its own when this block already moved a price.
    if (ts === undefined && this.lastOracleBlock === this.blockNumber) this.blockNumber += 1n;
    const msg = { timestamp, prices: Object.entries(prices).map(([market, price]) => ({ market, price })) };
    const signature = walletSign(oracleUpdateTypedData(msg, CHAIN), signer.pub, signer.priv);
    return { type: 'ORACLE_UPDATE', signer: signer.pub, timestamp, prices: msg.prices, signature };
  }

  setPrice(prices: Record<string, bigint>): ContractEvent[] {
    if (this.oracleTs < this.now) this.oracleTs = this.now;
    return this.exec(this.oracleTx(prices));
  }
  /** Block of the last executed ORACLE_UPDATE (the exchange takes one price update per market per block). */
  private lastOracleBlock = -1n;

  /** A FUNDING_SAMPLE of impact prices ({bid, ask} per market; missing = 0, cannot fill). */
  sample(impacts: Record<string, { bid?: bigint; ask?: bigint }>): ContractEvent[] {
    return this.exec({ type: 'FUNDING_SAMPLE', markets: Object.entries(impacts).map(([market, i]) => ({ market, impactBid: i.bid ?? 0n, impactAsk: i.ask ?? 0n })) });
  }

  depositTx(u: User | bigint, amount: bigint, id = this.depositId++): PerpTx {
    const recipient = typeof u === 'bigint' ? u : u.address;
    const msg = { depositId: id, recipient, amount };
    return { type: 'DEPOSIT', ...msg, signature: walletSign(depositTypedData(msg, CHAIN), BRIDGE.pub, BRIDGE.priv) };
  }

  withdrawTx(u: User, amount: bigint, nonce = this.st.getNonce(u.address), recipient = 0xabcn): PerpTx {
    const msg = { account: u.address, amount, recipient, nonce };
    return { type: 'WITHDRAW', ...msg, signature: walletSign(withdrawTypedData(msg, CHAIN), u.address, u.priv) };
  }

  transferTx(u: User, to: bigint, amount: bigint, nonce = this.st.getNonce(u.address)): PerpTx {
    const msg = { account: u.address, recipient: to, amount, nonce };
    return { type: 'TRANSFER', ...msg, signature: walletSign(transferTypedData(msg, CHAIN), u.address, u.priv) };
  }

  cancelTx(u: User, orderHash: bigint): PerpTx {
    const msg = { account: u.address, orderHash };
    return { type: 'CANCEL', ...msg, signature: walletSign(cancelTypedData(msg, CHAIN), u.address, u.priv) };
  }

  cancelAllTx(u: User, market: string, orderHashes: bigint[], nonce = this.st.getNonce(u.address)): PerpTx {
    const msg = { account: u.address, market, nonce };
    return { type: 'CANCEL_ALL', ...msg, orderHashes, signature: walletSign(cancelAllTypedData(msg, CHAIN), u.address, u.priv) };
  }

  deployTx(k: { priv: bigint; pub: bigint }): PerpTx {
    return { type: 'DEPLOY_ACCOUNT', publicKey: k.pub, signature: walletSign(deployAccountTypedData(k.pub, CHAIN), accountAddress(k.pub), k.priv) };
  }

  view(u: User | bigint) {
    return getAccountView(this.st, this.cfg, typeof u === 'bigint' ? u : u.address);
  }

  /** Every account plus the vault, for the invariant checks. */
  allAccounts(): bigint[] {
    return [...this.cfg.devAccounts.map((a) => a.address), this.cfg.vaultAddress];
  }

  expectInvariants(): void {
    expect(checkInvariants(this.st, this.cfg, this.allAccounts())).to.deep.equal([]);
    expect(auditInvariants(this.st, this.cfg)).to.deep.equal([]);
  }
}

/** Storage, nonces and classes of a MemoryState as one comparable string. */
export function stateFingerprint(st: MemoryState): string {
  const s = [...st.storage].map(([k, v]) => `${k}=${v.toString(16)}`).sort();
  const n = [...st.nonces].map(([k, v]) => `${k.toString(16)}=${v}`).sort();
  const c = [...st.classes].map(([k, v]) => `${k.toString(16)}=${v.toString(16)}`).sort();
  return [...s, '|', ...n, '|', ...c].join('\n');
}
