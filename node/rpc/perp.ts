/**
 * perp_* trading API and devnet_mint.
 *
 * Wallet calls carry a typed-data message and its signature [r, s]; the node builds the
 * transaction, executes it into the open block at once, and answers with its hash (a fill is a
 * TRADE transaction; every transaction hash is answered by starknet_getTransactionStatus and
 * starknet_getTransactionReceipt). A call that breaks a rule is rejected synchronously with a
 * JSON-RPC error and changes nothing: contract revert codes map to spec codes where the meaning
 * matches (55 bad signature, 52 nonce, 59 duplicate) and to perpnode codes (10000+) otherwise,
 * with `data.reason` naming the rule. Reads come from the open block's state (the freshest).
 *
 * Amounts are decimal integer strings in chain units (see views.ts and docs/rpc.md).
 */
import { EventEmitter } from 'node:events';
import {
  accountAddress,
  ACCOUNT_CLASS,
  ERROR_CODES,
  EXCHANGE_CLASS,
  eventSelector,
  getAccountView,
  getFundingView,
  getMarketView,
  getMode,
  getOrderState,
  getVaultView,
  markPrice,
  orderHash,
  parseOrderMessage,
  parseSignature,
  parseTx,
  rpcErrorCode,
  TxParseError,
  TxRevert,
  typedDataDomain,
  TYPED_DATA_TYPES,
  VAULT_CLASS,
  depositHash,
  type CancelAllTx,
  type CancelTx,
  type DepositTx,
  type OracleUpdateTx,
  type PerpTx,
  type Sig,
  type StateAccess,
  type TransferTx,
  type WithdrawTx,
} from '../../contracts-ts/index.ts';
import { ACC, positionBase, POS } from '../../contracts-ts/layout.ts';
import { fromFelt } from '../../contracts-ts/math.ts';
import { decodeShortString, P, sign, verify } from '../crypto/index.ts';
import { cancelAllHash, cancelHash, deployAccountHash, transferHash, withdrawHash } from '../../contracts-ts/typed-data.ts';
import { messageContent } from '../../contracts-ts/message-hashes.ts';
import type { Order } from '../../contracts-ts/exchange/order.ts';
import type { SignatureCache } from '../sequencer/sigcache.ts';
import type { SigJob } from '../sequencer/verify-pool.ts';
import type { Receipt } from '../chain/block.ts';
import { RejectedError } from '../sequencer/producer.ts';
import type { OrderRecord } from '../sequencer/orderbook/index.ts';
import type { Methods } from './jsonrpc.ts';
import type { CallContext } from './http.ts';
import type { RpcModules } from './context.ts';
import { E, RpcError } from './errors.ts';
import { felt, int, obj, str } from './params.ts';
import { TokenBuckets } from './ratelimit.ts';
import { SPEC_VERSION } from './starknet.ts';
import { accountView, dec, fillView, fundingView, hex, marketView, orderView, vaultView } from './views.ts';

export interface PerpOptions {
  /** Trading calls per second per client address, charged before any signature check, and the burst. */
  clientRatePerSec: number;
  clientBurst: number;
  /** Trading calls per second per account (token bucket, charged once the signature verifies), and the burst. */
  accountRatePerSec: number;
  accountBurst: number;
  /** Trades and funding updates kept per market for perp_getTrades / perp_getFunding. */
  maxTradesPerMarket: number;
  maxFundingPerMarket: number;
  /** At most how many recent blocks the trade/funding history is filled from (head backwards) at first use or after a rollback. */
  backfillBlocks: number;
  /** Milliseconds clock for the per-account limiter (tests). */
  now?: () => number;
}

export const defaultPerpOptions: PerpOptions = { clientRatePerSec: 200, clientBurst: 400, accountRatePerSec: 50, accountBurst: 100, maxTradesPerMarket: 1000, maxFundingPerMarket: 500, backfillBlocks: 5000 };

// ---- errors --------------------------------------------------------------------------------------

/** The JSON-RPC error for a contract revert code (data.reason names the rule). */
export function revertError(code: string, detail: string): RpcError {
  const n = rpcErrorCode(code);
  const known = (ERROR_CODES as Record<string, { message: string }>)[code];
  const message = n === 55 ? 'Account validation failed' : n === 52 ? 'Invalid transaction nonce' : n === 59 ? 'A transaction with the same hash already exists' : known ? known.message : 'Transaction rejected';
  return new RpcError(n, message, { reason: code, message: detail });
}

/** Maps what executing a wallet transaction can throw to a JSON-RPC error. */
export function toRpcError(e: unknown): unknown {
  if (e instanceof RpcError) return e;
  if (e instanceof TxRevert) return revertError(e.code, e.message);
  if (e instanceof TxParseError) return E.invalidParams(e.message);
  if (e instanceof RejectedError) {
    switch (e.code) {
      case 'DUPLICATE_TX':
        return new RpcError(59, 'A transaction with the same hash already exists', { reason: 'DUPLICATE_TX', message: e.message });
      case 'HALTED':
        return E.halted(e.message);
      case 'SHUTTING_DOWN':
        return E.halted(e.message);
      case 'MEMPOOL_FULL':
        return E.mempoolFull();
      case 'STARTING':
        return E.starting(e.message);
      default:
        return E.rejected(e.code, e.message);
    }
  }
  return e;
}

async function guarded<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw toRpcError(e);
  }
}

// ---- wallet message parsing ------------------------------------------------------------------------

const DEC_OR_HEX = /^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$/;
const U128_MAX = (1n << 128n) - 1n;

/** A number as wallets send typed-data values: decimal or 0x-hex string, or a safe integer. */
function walletNumber(v: unknown, what: string, max: bigint): bigint {
  let x: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) x = BigInt(v);
  else if (typeof v === 'string' && DEC_OR_HEX.test(v)) x = BigInt(v);
  else throw E.invalidParams(`${what} must be a non-negative integer (decimal or 0x-hex string)`);
  if (x > max) throw E.invalidParams(`${what} is out of range`);
  return x;
}

function message(v: unknown, name: string, fields: readonly string[]): Record<string, unknown> {
  const o = obj(v, name);
  for (const k of Object.keys(o)) if (!fields.includes(k)) throw E.invalidParams(`${name}: unknown field "${k}"`);
  for (const k of fields) if (o[k] === undefined) throw E.invalidParams(`${name}: missing field "${k}"`);
  return o;
}

const ADDR = P - 1n;

function signature(v: unknown, name = 'signature'): Sig {
  try {
    return parseSignature(v, name);
  } catch (e) {
    throw E.invalidParams((e as Error).message);
  }
}

const SYMBOL = /^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$/;

// ---- trades and funding history ------------------------------------------------------------------------

export interface TradeJson {
  market: string;
  price: string;
  size: string;
  taker_side: string;
  maker: string;
  taker: string;
  maker_order_hash: string;
  taker_order_hash: string;
  maker_fee: string;
  taker_fee: string;
  transaction_hash: string;
  block_number: number;
  finality_status: 'PRE_CONFIRMED' | 'ACCEPTED_ON_L2';
}

export interface FundingUpdateJson {
  market: string;
  rate: string;
  index: string;
  elapsed_seconds: number;
  price: string;
  transaction_hash: string;
  block_number: number;
}

const TRADE = eventSelector('Trade');
const FUNDING = eventSelector('FundingApplied');

/** Trades in a receipt (from its Trade events). */
export function tradesOf(m: RpcModules, r: Receipt, blockNumber: bigint, finality: TradeJson['finality_status']): TradeJson[] {
  const out: TradeJson[] = [];
  for (const e of r.events) {
    if (e.keys[0] !== TRADE || e.data.length < 8 || e.keys.length < 3) continue;
    const market = m.genesis.exchange.marketById.get(e.data[0]!)?.symbol;
    if (!market) continue;
    let side: string;
    try {
      side = decodeShortString(e.data[5]!);
    } catch {
      side = hex(e.data[5]!);
    }
    out.push({
      market,
      price: dec(e.data[4]!),
      size: dec(e.data[3]!),
      taker_side: side,
      maker: hex(e.keys[1]!),
      taker: hex(e.keys[2]!),
      maker_order_hash: hex(e.data[1]!),
      taker_order_hash: hex(e.data[2]!),
      maker_fee: dec(fromFelt(e.data[6]!)),
      taker_fee: dec(fromFelt(e.data[7]!)),
      transaction_hash: hex(r.transaction_hash),
      block_number: Number(blockNumber),
      finality_status: finality,
    });
  }
  return out;
}

function fundingOf(m: RpcModules, r: Receipt, blockNumber: bigint): FundingUpdateJson[] {
  const out: FundingUpdateJson[] = [];
  for (const e of r.events) {
    if (e.keys[0] !== FUNDING || e.keys.length < 2 || e.data.length < 4) continue;
    const market = m.genesis.exchange.marketById.get(e.keys[1]!)?.symbol;
    if (!market) continue;
    out.push({
      market,
      rate: dec(fromFelt(e.data[0]!)),
      index: dec(fromFelt(e.data[1]!)),
      elapsed_seconds: Number(e.data[2]!),
      price: dec(e.data[3]!),
      transaction_hash: hex(r.transaction_hash),
      block_number: Number(blockNumber),
    });
  }
  return out;
}

/**
 * Recent trades and funding updates per market, read from sealed blocks' receipts. Synced lazily
 * on each query (it follows the head on a sequencer and on a follower alike); a rollback (the
 * chain's rolledBack event, chain/events.ts) rebuilds it from the new head.
 */
export class MarketFeed {
  private trades = new Map<string, TradeJson[]>();
  private funding = new Map<string, FundingUpdateJson[]>();
  private last: { number: bigint; hash: bigint } | null = null;
  private syncing: Promise<void> | null = null;
  /** A rollback happened since the last sync: rebuild from the head. */
  private rolledBack = false;

  constructor(
    private readonly m: RpcModules,
    private readonly opts: Pick<PerpOptions, 'maxTradesPerMarket' | 'maxFundingPerMarket' | 'backfillBlocks'>,
  ) {
    m.chain.events.on((e) => void (e.type === 'rolledBack' && (this.rolledBack = true)));
  }

  sync(): Promise<void> {
    if (!this.syncing) this.syncing = this.doSync().finally(() => (this.syncing = null));
    return this.syncing;
  }

  private async doSync(): Promise<void> {
    const head = await this.m.chain.head();
    if (!head) return;
    if (this.rolledBack) {
      this.rolledBack = false;
      this.last = null;
    }
    if (!this.last) {
      // Fill from the head backwards, stopping once every market's history is full.
      this.trades.clear();
      this.funding.clear();
      const trades = new Map<string, TradeJson[]>();
      const funding = new Map<string, FundingUpdateJson[]>();
      const markets = this.m.genesis.exchange.markets.map((mk) => mk.symbol);
      const full = () => markets.every((s) => (trades.get(s)?.length ?? 0) >= this.opts.maxTradesPerMarket && (funding.get(s)?.length ?? 0) >= this.opts.maxFundingPerMarket);
      const headHeader = await this.m.chain.header(head.number);
      if (!headHeader) return;
      for (let n = head.number, seen = 0; n >= 0n && seen < this.opts.backfillBlocks && !full(); n--, seen++) {
        const body = await this.m.chain.body(n);
        if (!body) break;
        for (let i = body.receipts.length - 1; i >= 0; i--) {
          const r = body.receipts[i]!;
          for (const t of tradesOf(this.m, r, n, 'ACCEPTED_ON_L2').reverse()) push(trades, t.market, t, Infinity);
          for (const f of fundingOf(this.m, r, n).reverse()) push(funding, f.market, f, Infinity);
        }
      }
      for (const [k, l] of trades) this.trades.set(k, l.slice(0, this.opts.maxTradesPerMarket).reverse());
      for (const [k, l] of funding) this.funding.set(k, l.slice(0, this.opts.maxFundingPerMarket).reverse());
      this.last = { number: head.number, hash: headHeader.hash };
      return;
    }
    for (let n = this.last.number + 1n; n <= head.number; n++) {
      const [body, h] = await Promise.all([this.m.chain.body(n), this.m.chain.header(n)]);
      if (!body || !h) break;
      for (const r of body.receipts) {
        for (const t of tradesOf(this.m, r, n, 'ACCEPTED_ON_L2')) push(this.trades, t.market, t, this.opts.maxTradesPerMarket);
        for (const f of fundingOf(this.m, r, n)) push(this.funding, f.market, f, this.opts.maxFundingPerMarket);
      }
      this.last = { number: n, hash: h.hash };
    }
  }

  /** Newest first: the open block's trades, then sealed ones. */
  async recentTrades(market: string, limit: number): Promise<TradeJson[]> {
    await this.sync();
    const open = this.m.producer?.openBlock;
    const pre: TradeJson[] = [];
    if (open && (!this.last || open.number > this.last.number)) for (const r of open.receipts) pre.push(...tradesOf(this.m, r, open.number, 'PRE_CONFIRMED').filter((t) => t.market === market));
    const sealed = this.trades.get(market) ?? [];
    return [...pre.reverse(), ...sealed.slice().reverse()].slice(0, limit);
  }

  async fundingHistory(market: string, limit: number): Promise<FundingUpdateJson[]> {
    await this.sync();
    return (this.funding.get(market) ?? []).slice().reverse().slice(0, limit);
  }
}

function push<T>(map: Map<string, T[]>, k: string, v: T, max: number): void {
  let l = map.get(k);
  if (!l) map.set(k, (l = []));
  l.push(v);
  if (l.length > max) l.splice(0, l.length - max);
}

// ---- signature checks on the pool, batched across requests ------------------------------------------------

/**
 * Hands the signature jobs of concurrent trading calls to the verify pool together: the jobs of
 * every request that arrives before the event loop's next check phase (setImmediate) go in one
 * `SignatureCache.prepare` call, i.e. one message per worker instead of one per request. Without
 * an attached pool `check` returns at once (execution, or the limiter, verifies inline). A pool
 * failure is not thrown: the checks then run inline, as without a pool.
 */
export class PoolBatcher {
  private jobs: SigJob[] = [];
  private flushed: Promise<void> | null = null;

  constructor(readonly cache: SignatureCache) {}

  check(job: SigJob): Promise<void> {
    if (!this.cache.attachedPool) return Promise.resolve();
    this.jobs.push(job);
    return (this.flushed ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        const jobs = this.jobs;
        this.jobs = [];
        this.flushed = null;
        this.cache.prepare(jobs).then(resolve, () => resolve());
      }),
    ));
  }
}

// ---- the methods ---------------------------------------------------------------------------------------------

/** Change notifications for WebSocket subscribers (order book and account views). */
export class PerpEvents extends EventEmitter {
  bookChanged(market: string): void {
    this.emit('book', market);
  }
  accountChanged(address: bigint): void {
    this.emit('account', address);
  }
}

export interface PerpApi {
  methods: Methods<CallContext>;
  feed: MarketFeed;
  events: PerpEvents;
}

function copyRecord(r: OrderRecord): OrderRecord {
  return { ...r, signed: { ...r.signed, order: { ...r.signed.order } } };
}

/** The freshest state: the open block's (sequencer) or the head's. */
export function liveState(m: RpcModules): StateAccess {
  return (m.producer?.openBlock?.pending ?? m.world) as StateAccess;
}

export function createPerpApi(m: RpcModules, options: Partial<PerpOptions> = {}): PerpApi {
  const opts = { ...defaultPerpOptions, ...options };
  const g = m.genesis;
  const cfg = g.exchange;
  const limiter = new TokenBuckets(opts.accountRatePerSec, opts.accountBurst, opts.now ?? Date.now);
  const feed = new MarketFeed(m, opts);
  const events = new PerpEvents();

  const clients = new TokenBuckets(opts.clientRatePerSec, opts.clientBurst, opts.now ?? Date.now);
  const checkSig = (msgHash: bigint, key: bigint, sig: readonly [bigint, bigint]) => (m.producer ? m.producer.sigCache.verify(msgHash, key, sig) : verify(msgHash, key, sig));
  const batcher = m.producer ? new PoolBatcher(m.producer.sigCache) : null;
  const keyOf = (account: bigint) => liveState(m).getStorage(account, ACC.publicKey);
  /**
   * Trading-call limits. The client address is charged first (before any signature work), so
   * one client cannot spend the node's verification time. The account is charged only when the
   * request's signature verifies under the account's key (the answer is cached: execution
   * does not check it again); a request with a bad or unverifiable signature costs its client,
   * never the account it names, so nobody can drain another account's budget.
   */
  const chargeClient = (ctx: CallContext | undefined) => {
    const ip = ctx?.ip ?? 'local';
    if (!clients.take(ip)) throw new RpcError(11004, 'Rate limit exceeded', `client ${ip}: at most ${opts.clientRatePerSec} trading calls per second (burst ${opts.clientBurst})`);
  };
  /** The account's charge, once the client's is paid: only when `ok` (the signature verified, or nothing is signed). */
  const chargeAccount = (account: bigint, ok: boolean) => {
    if (!ok) return; // refused on its signature later, uncharged
    if (!limiter.take(hex(account))) throw new RpcError(11004, 'Rate limit exceeded', `account ${hex(account)}: at most ${opts.accountRatePerSec} trading calls per second (burst ${opts.accountBurst})`);
  };
  /** Whether `sig` verifies for `msgHash` under `key` (0n: no account, never). Answered from the signature cache when the pool checked it. */
  const sigOk = (msgHash: bigint, key: bigint, sig: readonly [bigint, bigint]) => key !== 0n && checkSig(msgHash, key, sig);
  /**
   * A message whose hash is known here (deploy, withdraw, transfer, cancel-all): the client is
   * charged, the signature is checked on the verify pool when one is attached (else inline),
   * then the account is charged if it verified.
   */
  const limit = async (ctx: CallContext | undefined, account: bigint, signed?: { msgHash: bigint; sig: readonly [bigint, bigint]; key?: bigint }) => {
    chargeClient(ctx);
    if (!signed) return chargeAccount(account, true);
    const key = signed.key ?? keyOf(account);
    if (key !== 0n && batcher) await batcher.check({ kind: 'raw', msgHash: signed.msgHash, key, sig: signed.sig });
    chargeAccount(account, sigOk(signed.msgHash, key, signed.sig));
  };
  /**
   * An order: the client is charged, then the verify pool (when attached) hashes the order from
   * its fields and checks the signature off the main thread; the hash it computed is read back
   * from the signature cache's carried hashes (the same object, fields unchanged), so the main
   * thread neither hashes nor verifies it; without a pool (or for an account not deployed) it
   * hashes and verifies here, as before. Returns the order hash.
   */
  const limitOrder = async (ctx: CallContext | undefined, order: Order, sig: readonly [bigint, bigint]): Promise<bigint> => {
    chargeClient(ctx);
    const key = keyOf(order.account);
    if (key !== 0n && batcher) await batcher.check({ kind: 'order', order, content: messageContent('Order', order), chainId: g.chainId, key, sig });
    const hash = batcher?.cache.messageHashes.peek('Order', order, g.chainId) ?? orderHash(order, g.chainId);
    chargeAccount(order.account, sigOk(hash, key, sig));
    return hash;
  };
  /** A cancel: as an order (the pool's cancel hash is carried for the same CancelTx object). */
  const limitCancel = async (ctx: CallContext | undefined, tx: CancelTx) => {
    chargeClient(ctx);
    const key = keyOf(tx.account);
    const sig = tx.signature as [bigint, bigint];
    if (key !== 0n && batcher) await batcher.check({ kind: 'cancel', tx, content: messageContent('Cancel', tx), chainId: g.chainId, key, sig });
    const hash = batcher?.cache.messageHashes.peek('Cancel', tx, g.chainId) ?? cancelHash(tx, g.chainId);
    chargeAccount(tx.account, sigOk(hash, key, sig));
  };
  const producer = () => {
    if (!m.producer) throw E.notOnThisRole('this call submits a transaction: send it to the sequencer');
    return m.producer;
  };
  const exchange = () => {
    if (!m.exchange) throw E.notOnThisRole('the order book lives on the sequencer: send this call to it');
    return m.exchange;
  };
  const market = (v: unknown, name = 'market') => {
    const s = str(v, name, 31);
    if (!cfg.marketBySymbol.has(s)) throw new RpcError(rpcErrorCode('UNKNOWN_MARKET'), ERROR_CODES.UNKNOWN_MARKET.message, { reason: 'UNKNOWN_MARKET', market: s });
    return s;
  };
  const address = (v: unknown, name: string) => {
    const a = felt(v, name);
    if (a >= 1n << 251n) throw E.invalidParams(`${name} must be below 2^251`);
    return a;
  };
  const submit = async (tx: PerpTx, account: bigint) => {
    const r = await guarded(() => producer().submit(tx));
    events.accountChanged(account);
    return r;
  };

  const methods: Methods<CallContext> = {
    perp_getConfig: {
      params: [],
      handler: () => ({
        chain_id: hex(g.chainId),
        chain_id_name: g.chainIdName,
        spec_version: SPEC_VERSION,
        starknet_version: g.starknetVersion,
        typed_data_domain: typedDataDomain(g.chainIdName),
        typed_data_types: TYPED_DATA_TYPES,
        class_hashes: { account: hex(ACCOUNT_CLASS.classHash), exchange: hex(EXCHANGE_CLASS.classHash), vault: hex(VAULT_CLASS.classHash) },
        exchange_address: hex(cfg.exchangeAddress),
        vault_address: hex(cfg.vaultAddress),
        state_hash: g.stateHash,
        sequencer: { address: hex(g.sequencer.address), public_key: hex(g.sequencer.publicKey) },
        bridge_operator_public_key: hex(cfg.bridgeOperator.publicKey),
        oracle_public_keys: cfg.oracles.map((o) => hex(o.publicKey)),
        collateral: { symbol: cfg.collateralSymbol, decimals: cfg.collateralDecimals },
        units: { size_decimals: 8, price_decimals: 8, collateral_decimals: 6, fraction_decimals: 9 },
        account_storage: {
          public_key: hex(ACC.publicKey),
          collateral: hex(ACC.collateral),
          positions: Object.fromEntries(cfg.markets.map((mk) => [mk.symbol, { size: hex(positionBase(mk.id) + POS.size), cost: hex(positionBase(mk.id) + POS.cost), funding_snapshot: hex(positionBase(mk.id) + POS.fundingSnapshot) }])),
        },
        markets: cfg.markets.map((mk) => ({
          symbol: mk.symbol,
          market_id: hex(mk.id),
          tick_size: dec(mk.tickSize),
          step_size: dec(mk.stepSize),
          min_size: dec(mk.minSize),
          initial_margin_fraction: dec(mk.initialMarginFraction),
          maintenance_margin_fraction: dec(mk.maintenanceMarginFraction),
          maker_fee: dec(mk.makerFee),
          taker_fee: dec(mk.takerFee),
          price_band_bps: Number(mk.priceBandBps),
          open_interest_cap: dec(mk.openInterestCap),
          funding_period_seconds: Number(mk.fundingPeriod),
          funding_interval_seconds: Number(mk.fundingInterval),
        })),
        mode: getMode(liveState(m), cfg),
        devnet: cfg.bridgeOperator.privateKey !== undefined,
        role: m.producer ? 'sequencer' : 'follower',
        limits: { account_rate_per_sec: opts.accountRatePerSec, account_burst: opts.accountBurst, client_rate_per_sec: opts.clientRatePerSec, client_burst: opts.clientBurst },
      }),
    },

    perp_deployAccount: {
      params: ['public_key', 'signature'],
      handler: async (p, ctx) => {
        const publicKey = felt(p.public_key, 'public_key');
        if (publicKey === 0n || publicKey >= 1n << 251n) throw E.invalidParams('public_key must be a nonzero stark key below 2^251');
        const sig = signature(p.signature);
        const addr = accountAddress(publicKey);
        await limit(ctx, addr, { msgHash: deployAccountHash(publicKey, g.chainId), sig, key: publicKey });
        const r = await submit({ type: 'DEPLOY_ACCOUNT', publicKey, signature: sig }, addr);
        return { transaction_hash: hex(r.hash), address: hex(addr), public_key: hex(publicKey) };
      },
    },

    perp_submitOrder: {
      params: ['order', 'signature'],
      handler: async (p, ctx) => {
        let order;
        try {
          order = parseOrderMessage(p.order);
        } catch (e) {
          throw E.invalidParams((e as Error).message);
        }
        const sig = signature(p.signature);
        const hash = await limitOrder(ctx, order, sig);
        const res = await guarded(() => exchange().submitOrder({ order, hash, signature: sig }));
        const r = res.record;
        if (r.status === 'REJECTED' && r.reason === 'duplicate') throw new RpcError(59, 'A transaction with the same hash already exists', { reason: 'DUPLICATE_ORDER', message: 'this order hash is already open or was already processed', order_hash: hex(hash) });
        events.bookChanged(order.market);
        events.accountChanged(order.account);
        for (const f of res.fills) events.accountChanged(f.fill.maker.order.account);
        return {
          order_hash: hex(hash),
          status: r.status,
          reason: r.reason ?? null,
          ...(res.settleFailure ? { rule: res.settleFailure.rule, rule_message: res.settleFailure.message } : {}),
          filled: dec(r.filled),
          remaining: dec(r.remaining),
          fills: res.fills.map((f) => fillView(f.fill, f.txHash)),
        };
      },
    },

    perp_cancelOrder: {
      params: ['cancel', 'signature'],
      handler: async (p, ctx) => {
        const c = message(p.cancel, 'cancel', ['account', 'orderHash']);
        const account = walletNumber(c.account, 'cancel.account', ADDR);
        const tx: CancelTx = { type: 'CANCEL', account, orderHash: walletNumber(c.orderHash, 'cancel.orderHash', ADDR), signature: signature(p.signature) };
        await limitCancel(ctx, tx);
        const r = await guarded(() => exchange().cancel(tx));
        if (r.record) events.bookChanged(r.record.signed.order.market);
        events.accountChanged(account);
        return { transaction_hash: hex(r.hash), order_hash: hex(tx.orderHash), status: r.record?.status ?? 'CANCELLED' };
      },
    },

    perp_cancelAll: {
      params: ['cancel_all', 'signature'],
      handler: async (p, ctx) => {
        const c = message(p.cancel_all, 'cancel_all', ['account', 'market', 'nonce']);
        const account = walletNumber(c.account, 'cancel_all.account', ADDR);
        if (typeof c.market !== 'string' || c.market.length > 31 || !SYMBOL.test(c.market)) throw E.invalidParams('cancel_all.market must be a market symbol or "ALL"');
        const tx: Omit<CancelAllTx, 'orderHashes'> = { type: 'CANCEL_ALL', account, market: c.market, nonce: walletNumber(c.nonce, 'cancel_all.nonce', ADDR), signature: signature(p.signature) };
        await limit(ctx, account, { msgHash: cancelAllHash(tx, g.chainId), sig: tx.signature as [bigint, bigint] });
        const r = await guarded(() => exchange().cancelAll(tx));
        for (const mk of new Set(r.cancelled.map((x) => x.signed.order.market))) events.bookChanged(mk);
        events.accountChanged(account);
        return { transaction_hash: hex(r.hash), cancelled: r.cancelled.map((x) => hex(x.signed.hash)) };
      },
    },

    perp_submitOracleUpdate: {
      params: ['oracle_update', 'signature'],
      handler: async (p) => {
        const u = obj(p.oracle_update, 'oracle_update');
        let tx: PerpTx;
        try {
          tx = parseTx({ type: 'ORACLE_UPDATE', signer: u.signer, timestamp: u.timestamp, prices: u.prices, signature: p.signature });
        } catch (e) {
          throw E.invalidParams(`oracle_update: ${(e as Error).message}`);
        }
        const ex = exchange();
        const r = await guarded(() => ex.oracleUpdate(tx as OracleUpdateTx));
        return { transaction_hash: hex(r.hash), triggered_fills: r.fills.map((f) => hex(f.txHash)) };
      },
    },

    perp_withdraw: {
      params: ['withdraw', 'signature'],
      handler: async (p, ctx) => {
        const w = message(p.withdraw, 'withdraw', ['account', 'amount', 'recipient', 'nonce']);
        const account = walletNumber(w.account, 'withdraw.account', ADDR);
        const tx: WithdrawTx = {
          type: 'WITHDRAW',
          account,
          amount: walletNumber(w.amount, 'withdraw.amount', U128_MAX),
          recipient: walletNumber(w.recipient, 'withdraw.recipient', ADDR),
          nonce: walletNumber(w.nonce, 'withdraw.nonce', ADDR),
          signature: signature(p.signature),
        };
        await limit(ctx, account, { msgHash: withdrawHash(tx, g.chainId), sig: tx.signature as [bigint, bigint] });
        const r = await submit(tx, account);
        return { transaction_hash: hex(r.hash) };
      },
    },

    perp_transfer: {
      params: ['transfer', 'signature'],
      handler: async (p, ctx) => {
        const t = message(p.transfer, 'transfer', ['account', 'recipient', 'amount', 'nonce']);
        const account = walletNumber(t.account, 'transfer.account', ADDR);
        const tx: TransferTx = {
          type: 'TRANSFER',
          account,
          recipient: walletNumber(t.recipient, 'transfer.recipient', ADDR),
          amount: walletNumber(t.amount, 'transfer.amount', U128_MAX),
          nonce: walletNumber(t.nonce, 'transfer.nonce', ADDR),
          signature: signature(p.signature),
        };
        await limit(ctx, account, { msgHash: transferHash(tx, g.chainId), sig: tx.signature as [bigint, bigint] });
        const r = await submit(tx, account);
        events.accountChanged(tx.recipient);
        return { transaction_hash: hex(r.hash) };
      },
    },

    perp_getAccount: {
      params: ['address'],
      handler: async (p) => {
        const a = address(p.address, 'address');
        const st = liveState(m);
        const open = m.producer?.openBlock;
        const head = await m.chain.head();
        const v = accountView(getAccountView(st, cfg, a));
        return { ...v, open_orders: m.exchange ? m.exchange.matcher.ordersOf(a).length : null, block_number: Number(open ? open.number : (head?.number ?? 0n)), finality_status: open ? 'PRE_CONFIRMED' : 'ACCEPTED_ON_L2' };
      },
    },

    perp_getOrders: {
      params: ['address'],
      handler: async (p) => {
        const a = address(p.address, 'address');
        // open orders, then closed ones (including those closed since the last block), newest first
        const list = (await exchange().ordersOf(a)).map(copyRecord);
        return list.sort((x, y) => (x.seq > y.seq ? -1 : x.seq < y.seq ? 1 : 0)).slice(0, 200).map((r) => orderView(r));
      },
    },

    perp_getOrder: {
      params: ['order_hash'],
      handler: async (p) => {
        const h = felt(p.order_hash, 'order_hash');
        const ex = exchange();
        const found = await ex.getOrder(h); // the book, then changes since the last block, then history
        const r = found ? copyRecord(found) : undefined;
        if (!r) throw E.orderNotFound();
        return orderView(r, getOrderState(liveState(m), cfg, h, r.signed.order.account));
      },
    },

    perp_getOrderBook: {
      params: ['market', 'depth?'],
      handler: (p) => {
        const mk = market(p.market);
        const depth = p.depth === undefined ? 20 : int(p.depth, 'depth', 1, 500);
        const ex = exchange();
        const d = ex.matcher.depth(mk, depth);
        const bb = ex.matcher.bestBid(mk);
        const ba = ex.matcher.bestAsk(mk);
        return {
          market: mk,
          bids: d.bids.map(([px, sz]) => [dec(px), dec(sz)]),
          asks: d.asks.map(([px, sz]) => [dec(px), dec(sz)]),
          best_bid: bb === undefined ? null : dec(bb),
          best_ask: ba === undefined ? null : dec(ba),
          mark_price: dec(markPrice(liveState(m), cfg, mk)),
        };
      },
    },

    perp_getTrades: {
      params: ['market', 'limit?'],
      handler: async (p) => {
        const mk = market(p.market);
        const n = p.limit === undefined ? 100 : int(p.limit, 'limit', 1, opts.maxTradesPerMarket);
        return feed.recentTrades(mk, n);
      },
    },

    perp_getMarkets: {
      params: [],
      handler: () => {
        const st = liveState(m);
        return cfg.markets.map((mk) => marketView(getMarketView(st, cfg, mk.symbol)));
      },
    },

    perp_getFunding: {
      params: ['market'],
      handler: async (p) => {
        const mk = market(p.market);
        return { ...fundingView(getFundingView(liveState(m), cfg, mk)), history: await feed.fundingHistory(mk, opts.maxFundingPerMarket) };
      },
    },

    perp_getVault: {
      params: [],
      handler: () => vaultView(getVaultView(liveState(m), cfg)),
    },

    devnet_mint: {
      params: ['address', 'amount'],
      handler: async (p, ctx) => {
        const op = cfg.bridgeOperator.privateKey;
        if (op === undefined) throw E.notOnThisRole('devnet_mint needs a genesis that holds the bridge operator private key (devnet only)');
        const recipient = address(p.address, 'address');
        const amount = walletNumber(p.amount, 'amount', U128_MAX);
        if (amount === 0n) throw E.invalidParams('amount must be positive');
        await limit(ctx, recipient); // no wallet signature (the operator signs): the client, then the account
        // A fresh random deposit id: the contract refuses an id it has seen (DUPLICATE).
        const idBytes = crypto.getRandomValues(new Uint8Array(31));
        const depositId = BigInt('0x' + Buffer.from(idBytes).toString('hex'));
        const s = sign(depositHash({ depositId, recipient, amount }, cfg.bridgeOperator.publicKey, g.chainId), op);
        const tx: DepositTx = { type: 'DEPOSIT', depositId, recipient, amount, signature: [s.r, s.s] };
        const r = await submit(tx, recipient).catch((e) => {
          if (e instanceof RpcError && (e.data as { reason?: string } | undefined)?.reason === 'ACCOUNT_NOT_DEPLOYED')
            throw revertError('ACCOUNT_NOT_DEPLOYED', `no account is deployed at ${hex(recipient)}: deploy it first (perp_deployAccount, or \`perpnode wallet deploy --key <key> --wait\`), then mint`);
          throw e;
        });
        return { transaction_hash: hex(r.hash), deposit_id: hex(depositId), address: hex(recipient), amount: dec(amount) };
      },
    },
  };
  return { methods, feed, events };
}
