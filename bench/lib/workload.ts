/**
 * The workload: a deterministic stream of wallet actions from a seeded PRNG, signed ahead of
 * the run (signing is the wallets' work, not the node's) and cached in chunks.
 *
 * Who does what (account indices are roles):
 *  - market makers (a few per market) quote GTC / POST_ONLY limit orders 1-12 bps around the
 *    oracle and cancel their oldest quote when they hold 8;
 *  - takers (most accounts) cross: IOC limits, MARKET orders, GTC limits whose remainder rests,
 *    small FOKs, and reduce-only orders against the position the generator expects them to hold;
 *  - "degen" pairs open ~14x leveraged positions against each other (one rests, one takes);
 *  - the oracle moves every 40 actions (a ±10 bps random walk pulled back to the initial price,
 *    with a 3 x 1.5 % shock and recovery every 30 updates), which liquidates the degens on the
 *    wrong side; funding ticks come from the chain itself (funding every second).
 * The generator estimates positions (it assumes orders fill), so some orders are rejected, as
 * real clients' are (reduce-only without a position, POST_ONLY that would cross, ...).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CancelTx, OracleUpdateTx, Order, OrderType, SignedOrder, TimeInForce } from '../../contracts-ts/index.ts';
import type { Genesis } from '../../node/chain/genesis.ts';
import { Prng } from './prng.ts';
import type { Account } from './setup.ts';
import type { TaskPool } from './tasks.ts';
import type { Progress } from './progress.ts';

export const GEN_VERSION = 2;
/**
 * The bench node's clock (bench/run.ts) starts here at every run: the genesis time plus a
 * minute. Block timestamps, order expiries and oracle times are then the same at every run,
 * whenever the workload was signed.
 */
export const benchEpochS = (g: Genesis): bigint => g.timestamp + 60n;
/** Order life: every order expires a day after the epoch, after any run's load; the run's expiry step then moves the clock past it. */
export const ORDER_LIFETIME_S = 86_400n;
export const orderExpiry = (g: Genesis): bigint => benchEpochS(g) + ORDER_LIFETIME_S;
const E8 = 10n ** 8n;
const BPS = 10_000n;

export type Role = 'maker' | 'taker' | 'degen';

type PlanOrder = { k: 'o'; idx: number; acct: number; m: number; side: 'BUY' | 'SELL'; type: OrderType; tif: TimeInForce; size: bigint; price: bigint; ro: boolean; role: Role };
type PlanCancel = { k: 'c'; acct: number; target: number };
type PlanOracle = { k: 'x'; ts: bigint; prices: bigint[] };
type PlanEvent = PlanOrder | PlanCancel | PlanOracle;

export type BenchEvent =
  | { k: 'o'; signed: SignedOrder; role: Role; acct: number }
  | { k: 'c'; tx: CancelTx }
  | { k: 'x'; tx: OracleUpdateTx };

interface MarketState {
  symbol: string;
  tick: bigint;
  step: bigint;
  min: bigint;
  init: bigint;
  price: bigint;
}

const floorTo = (x: bigint, q: bigint) => x - (x % q);
const ceilTo = (x: bigint, q: bigint) => (x % q === 0n ? x : x - (x % q) + q);
const abs = (x: bigint) => (x < 0n ? -x : x);

/** Account roles for N accounts and M markets. */
export function roles(n: number, markets: number): { makersPerMarket: number; degens: number; takers: number; minAccounts: number } {
  const makersPerMarket = Math.max(2, Math.min(25, Math.floor(n / (20 * markets))));
  let degens = Math.max(2, Math.min(400, Math.floor(n / 100)));
  degens -= degens % 2;
  const minAccounts = makersPerMarket * markets + degens + 4;
  return { makersPerMarket, degens, takers: n - makersPerMarket * markets - degens, minAccounts };
}

/** The deterministic plan: unsigned actions, cheap to regenerate (no crypto). */
class Planner {
  private readonly rng: Prng;
  private readonly mk: number;
  private readonly makers: number[][];
  private readonly degenFirst: number;
  private readonly degenCount: number;
  private readonly takerFirst: number;
  private readonly takerCount: number;
  private readonly quotes = new Map<number, number[]>();
  private readonly pos = new Map<number, bigint>();
  private readonly recentTakers: number[] = [];
  private orderIdx = 0;
  private oracleTs: bigint;
  private oracleUpdates = 0;
  private degenNext = 0;
  private sinceOracle = 0;
  readonly markets: MarketState[];
  readonly expiry: bigint;

  constructor(
    readonly n: number,
    g: Genesis,
    seed: number,
  ) {
    this.rng = new Prng(seed);
    const M = g.exchange.markets.length;
    const r = roles(n, M);
    this.mk = r.makersPerMarket;
    this.makers = Array.from({ length: M }, (_, m) => Array.from({ length: this.mk }, (_, j) => m * this.mk + j));
    this.degenFirst = M * this.mk;
    this.degenCount = r.degens;
    this.takerFirst = this.degenFirst + this.degenCount;
    this.takerCount = r.takers;
    this.markets = g.exchange.markets.map((m) => ({ symbol: m.symbol, tick: m.tickSize, step: m.stepSize, min: m.minSize, init: m.initialPrice, price: m.initialPrice }));
    this.oracleTs = g.timestamp;
    this.expiry = orderExpiry(g);
  }

  private newOrder(o: Omit<PlanOrder, 'k' | 'idx'>): PlanOrder {
    return { k: 'o', idx: this.orderIdx++, ...o };
  }

  private posKey(acct: number, m: number): number {
    return acct * 64 + m;
  }

  private move(acct: number, m: number, side: 'BUY' | 'SELL', size: bigint): void {
    const k = this.posKey(acct, m);
    this.pos.set(k, (this.pos.get(k) ?? 0n) + (side === 'BUY' ? size : -size));
  }

  private oracle(): PlanOracle {
    const u = this.oracleUpdates++;
    // Shock cycle: updates 0..2 of every 30 move 1.5 % one way, 15..17 move back.
    const phase = u % 30;
    const down = Math.floor(u / 30) % 2 === 0;
    const prices = this.markets.map((mk) => {
      let bps = BigInt(this.rng.below(21) - 10);
      if (mk.price > (mk.init * 103n) / 100n) bps -= 5n;
      if (mk.price < (mk.init * 97n) / 100n) bps += 5n;
      if (phase < 3) bps += down ? -150n : 150n;
      else if (phase >= 15 && phase < 18) bps += down ? 150n : -150n;
      let p = (mk.price * (BPS + bps)) / BPS;
      p = floorTo(p, mk.tick);
      if (p <= 0n) p = mk.tick;
      mk.price = p;
      return p;
    });
    this.oracleTs += 1n;
    return { k: 'x', ts: this.oracleTs, prices };
  }

  private makerQuote(out: PlanEvent[]): void {
    const m = this.rng.below(this.markets.length);
    const mk = this.markets[m]!;
    const acct = this.makers[m]![this.rng.below(this.mk)]!;
    const q = this.quotes.get(acct) ?? [];
    this.quotes.set(acct, q);
    if (q.length >= 8) out.push({ k: 'c', acct, target: q.shift()! });
    const side = this.rng.chance(1, 2) ? 'BUY' : 'SELL';
    const off = BigInt(1 + this.rng.below(12));
    const price = side === 'BUY' ? floorTo((mk.price * (BPS - off)) / BPS, mk.tick) : ceilTo((mk.price * (BPS + off)) / BPS, mk.tick);
    const size = mk.min * BigInt(1 + this.rng.below(4));
    const o = this.newOrder({ acct, m, side, type: 'LIMIT', tif: this.rng.chance(3, 10) ? 'POST_ONLY' : 'GTC', size, price, ro: false, role: 'maker' });
    q.push(o.idx);
    out.push(o);
  }

  private cross(mk: MarketState, side: 'BUY' | 'SELL', bps: bigint): bigint {
    return side === 'BUY' ? ceilTo((mk.price * (BPS + bps)) / BPS, mk.tick) : floorTo((mk.price * (BPS - bps)) / BPS, mk.tick);
  }

  private taker(out: PlanEvent[]): void {
    const acct = this.takerFirst + this.rng.below(this.takerCount);
    const m = this.rng.below(this.markets.length);
    const mk = this.markets[m]!;
    const side = this.rng.chance(1, 2) ? 'BUY' : 'SELL';
    const f = this.rng.below(100);
    let size = mk.min * BigInt(1 + this.rng.below(3));
    let o: PlanOrder;
    if (f < 35) o = this.newOrder({ acct, m, side, type: 'LIMIT', tif: 'IOC', size, price: this.cross(mk, side, BigInt(5 + this.rng.below(20))), ro: false, role: 'taker' });
    else if (f < 60) o = this.newOrder({ acct, m, side, type: 'MARKET', tif: 'IOC', size, price: side === 'BUY' ? this.cross(mk, side, 600n) : 0n, ro: false, role: 'taker' });
    else if (f < 80) o = this.newOrder({ acct, m, side, type: 'LIMIT', tif: 'GTC', size, price: this.cross(mk, side, BigInt(2 + this.rng.below(8))), ro: false, role: 'taker' });
    else if (f < 88) {
      size = mk.min;
      o = this.newOrder({ acct, m, side, type: 'LIMIT', tif: 'FOK', size, price: this.cross(mk, side, 30n), ro: false, role: 'taker' });
    } else o = this.newOrder({ acct, m, side, type: 'LIMIT', tif: 'POST_ONLY', size, price: this.cross(mk, side, -BigInt(3 + this.rng.below(20))), ro: false, role: 'taker' });
    if (o.tif !== 'POST_ONLY') {
      this.move(acct, m, side, size);
      this.recentTakers.push(acct * 64 + m);
      if (this.recentTakers.length > 2000) this.recentTakers.splice(0, 1000);
    }
    out.push(o);
  }

  private reduceOnly(out: PlanEvent[]): void {
    if (this.recentTakers.length === 0) return this.taker(out);
    const k = this.recentTakers[this.rng.below(this.recentTakers.length)]!;
    const acct = Math.floor(k / 64);
    const m = k % 64;
    const p = this.pos.get(this.posKey(acct, m)) ?? 0n;
    if (p === 0n) return this.taker(out);
    const mk = this.markets[m]!;
    const side = p > 0n ? 'SELL' : 'BUY';
    let size = mk.min * BigInt(1 + this.rng.below(3));
    if (size > abs(p)) size = floorTo(abs(p), mk.step);
    if (size < mk.min) size = mk.min;
    const market = this.rng.chance(1, 2);
    out.push(
      this.newOrder({
        acct,
        m,
        side,
        type: market ? 'MARKET' : 'LIMIT',
        tif: 'IOC',
        size,
        price: market ? (side === 'BUY' ? this.cross(mk, side, 600n) : 0n) : this.cross(mk, side, 20n),
        ro: true,
        role: 'taker',
      }),
    );
    this.move(acct, m, side, size);
  }

  private degenPair(out: PlanEvent[]): void {
    if (this.degenNext + 2 > this.degenCount) return this.taker(out);
    const a = this.degenFirst + this.degenNext++;
    const b = this.degenFirst + this.degenNext++;
    const m = 0;
    const mk = this.markets[m]!;
    const price = floorTo(mk.price, mk.tick);
    // ~14x: notional 140,000 USD on a 10,000 USDC deposit (size 1e-8 units, price 1e-8 USD).
    const size = floorTo((140_000n * E8 * E8) / price, mk.step);
    const sideA = this.rng.chance(1, 2) ? 'BUY' : 'SELL';
    const sideB = sideA === 'BUY' ? 'SELL' : 'BUY';
    out.push(this.newOrder({ acct: a, m, side: sideA, type: 'LIMIT', tif: 'GTC', size, price, ro: false, role: 'degen' }));
    out.push(this.newOrder({ acct: b, m, side: sideB, type: 'LIMIT', tif: 'IOC', size, price, ro: false, role: 'degen' }));
  }

  private buffer: PlanEvent[] = [];

  /** Exactly n actions (a step may emit two; the overflow starts the next call). */
  take(n: number): PlanEvent[] {
    while (this.buffer.length < n) this.next(this.buffer);
    return this.buffer.splice(0, n);
  }

  /** The next action(s). */
  private next(out: PlanEvent[]): void {
    if (this.sinceOracle++ >= 40) {
      this.sinceOracle = 0;
      out.push(this.oracle());
      return;
    }
    const r = this.rng.below(1000);
    if (r < 450) this.makerQuote(out);
    else if (r < 850) this.taker(out);
    else if (r < 930) this.reduceOnly(out);
    else if (r < 937) this.degenPair(out);
    else {
      // A maker pulls a random quote (cancel without re-quote).
      const m = this.rng.below(this.markets.length);
      const acct = this.makers[m]![this.rng.below(this.mk)]!;
      const q = this.quotes.get(acct);
      if (q && q.length) out.push({ k: 'c', acct, target: q.splice(this.rng.below(q.length), 1)[0]! });
      else this.makerQuote(out);
    }
  }
}

export interface WorkloadSpec {
  cacheDir: string;
  /** Actions per cached chunk (part of the cache key). */
  chunk: number;
  genesisId: string;
  g: Genesis;
  accounts: Account[];
  seed: number;
}

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

const hx = (x: bigint) => x.toString(16);

function workloadDir(cacheDir: string, genesisId: string, n: number, seed: number, chunk: number): string {
  const id = sha(JSON.stringify({ v: GEN_VERSION, genesis: genesisId, n, seed, chunk })).slice(0, 16);
  return join(cacheDir, `work-${id}`);
}

/** How many consecutive chunks of this workload are already signed and cached. */
export function cachedChunks(cacheDir: string, genesisId: string, n: number, seed: number, chunk: number): number {
  const dir = workloadDir(cacheDir, genesisId, n, seed, chunk);
  let c = 0;
  while (existsSync(join(dir, `chunk-${c}.json`))) c++;
  return c;
}

/**
 * The first `chunks` chunks of the signed workload (spec.chunk actions each), from the cache or
 * generated (hashes and signatures on the worker pool) and cached.
 */
export async function loadWorkload(spec: WorkloadSpec, chunks: number, tasks: () => Promise<TaskPool>, progress?: Progress): Promise<BenchEvent[]> {
  const { g, accounts } = spec;
  const dir = workloadDir(spec.cacheDir, spec.genesisId, accounts.length, spec.seed, spec.chunk);
  mkdirSync(dir, { recursive: true });
  const planner = new Planner(accounts.length, g, spec.seed);
  const oracle = g.exchange.oracles.find((k) => k.privateKey !== undefined);
  if (!oracle) throw new Error('bench genesis has no oracle private key');
  const chainId = g.chainId;
  const events: BenchEvent[] = [];
  const orderHashes: bigint[] = [];
  const missing = Array.from({ length: chunks }, (_, c) => c).filter((c) => !existsSync(join(dir, `chunk-${c}.json`)));
  if (missing.length) progress?.start(`signing the workload (${missing.length} x ${spec.chunk} actions)`, missing.length * spec.chunk);
  try {
    for (let c = 0; c < chunks; c++) {
      const plan = planner.take(spec.chunk);
      const path = join(dir, `chunk-${c}.json`);
      let crypto: [bigint, bigint, bigint][];
      if (existsSync(path)) {
        const j = JSON.parse(readFileSync(path, 'utf8')) as { events: string[][] };
        crypto = j.events.map((e) => [BigInt('0x' + e[0]), BigInt('0x' + e[1]), BigInt('0x' + e[2])]);
        if (crypto.length !== plan.length) throw new Error(`${path} is stale: delete ${dir}`);
      } else {
        crypto = await signChunk(plan, planner, spec, orderHashes, tasks, chainId, oracle.publicKey, oracle.privateKey!, progress);
        writeFileSync(path, JSON.stringify({ events: crypto.map((x) => x.map(hx)) }));
      }
      for (let i = 0; i < plan.length; i++) {
        const p = plan[i]!;
        const [h, r, s] = crypto[i]!;
        if (p.k === 'o') {
          orderHashes[p.idx] = h;
          events.push({ k: 'o', signed: { order: toOrder(p, planner, accounts), hash: h, signature: [r, s] }, role: p.role, acct: p.acct });
        } else if (p.k === 'c') {
          events.push({ k: 'c', tx: { type: 'CANCEL', account: accounts[p.acct]!.addr, orderHash: orderHashes[p.target]!, signature: [r, s] } });
        } else {
          events.push({ k: 'x', tx: { type: 'ORACLE_UPDATE', signer: oracle.publicKey, timestamp: p.ts, prices: oraclePrices(p, planner), signature: [r, s] } });
        }
      }
    }
  } finally {
    progress?.done();
  }
  return events;
}

function toOrder(p: PlanOrder, planner: Planner, accounts: Account[]): Order {
  return {
    account: accounts[p.acct]!.addr,
    market: planner.markets[p.m]!.symbol,
    side: p.side,
    orderType: p.type,
    timeInForce: p.tif,
    size: p.size,
    price: p.price,
    triggerPrice: 0n,
    reduceOnly: p.ro,
    expiry: planner.expiry,
    salt: BigInt(p.idx) + 1n,
  };
}

function oraclePrices(p: PlanOracle, planner: Planner): { market: string; price: bigint }[] {
  return p.prices.map((price, m) => ({ market: planner.markets[m]!.symbol, price }));
}

async function signChunk(
  plan: PlanEvent[],
  planner: Planner,
  spec: WorkloadSpec,
  orderHashes: bigint[],
  tasks: () => Promise<TaskPool>,
  chainId: bigint,
  oraclePk: bigint,
  oracleSk: bigint,
  progress?: Progress,
): Promise<[bigint, bigint, bigint][]> {
  const pool = await tasks();
  const { accounts } = spec;
  const out: [bigint, bigint, bigint][] = new Array(plan.length);
  const orders = plan.map((p, i) => ({ p, i })).filter((x) => x.p.k === 'o') as { p: PlanOrder; i: number }[];
  const per = 50;
  // Orders first (cancels in this chunk may name them), oracle updates alongside.
  const orderTasks: Promise<void>[] = [];
  for (let k = 0; k < orders.length; k += per) {
    const part = orders.slice(k, k + per);
    orderTasks.push(
      pool.run({ kind: 'orders', chainId, items: part.map(({ p }) => ({ order: toOrder(p, planner, accounts), sk: accounts[p.acct]!.sk })) }).then((r) => {
        if (r.kind !== 'signed') throw new Error('unexpected task result');
        part.forEach(({ p, i }, j) => {
          out[i] = [r.hashes[j]!, r.sigs[j]![0], r.sigs[j]![1]];
          orderHashes[p.idx] = r.hashes[j]!;
        });
        progress?.tick(part.length);
      }),
    );
  }
  const oracles = plan.map((p, i) => ({ p, i })).filter((x) => x.p.k === 'x') as { p: PlanOracle; i: number }[];
  if (oracles.length)
    orderTasks.push(
      pool.run({ kind: 'oracles', chainId, signerPk: oraclePk, signerSk: oracleSk, items: oracles.map(({ p }) => ({ timestamp: p.ts, prices: oraclePrices(p, planner) })) }).then((r) => {
        if (r.kind !== 'signed') throw new Error('unexpected task result');
        oracles.forEach(({ i }, j) => (out[i] = [r.hashes[j]!, r.sigs[j]![0], r.sigs[j]![1]]));
        progress?.tick(oracles.length);
      }),
    );
  await Promise.all(orderTasks);
  const cancels = plan.map((p, i) => ({ p, i })).filter((x) => x.p.k === 'c') as { p: PlanCancel; i: number }[];
  const cancelTasks: Promise<void>[] = [];
  for (let k = 0; k < cancels.length; k += per) {
    const part = cancels.slice(k, k + per);
    cancelTasks.push(
      pool.run({ kind: 'cancels', chainId, items: part.map(({ p }) => ({ account: accounts[p.acct]!.addr, orderHash: orderHashes[p.target]!, sk: accounts[p.acct]!.sk })) }).then((r) => {
        if (r.kind !== 'signed') throw new Error('unexpected task result');
        part.forEach(({ i }, j) => (out[i] = [r.hashes[j]!, r.sigs[j]![0], r.sigs[j]![1]]));
        progress?.tick(part.length);
      }),
    );
  }
  await Promise.all(cancelTasks);
  return out;
}
