/**
 * The sequencer's matcher: one price-time-priority book per market plus the conditional orders
 * waiting for their trigger. Pure in-memory and deterministic — no clock, no randomness, no IO;
 * the node passes time and chain access in a MatchContext and persists `takeDirty()` per block.
 * Semantics are documented in docs/matching.md.
 */
import {
  canRest,
  cancelOwnerOk,
  orderShapeFault,
  type OrderShapeFault,
  isConditional,
  isMarketKind,
  isTriggered,
  ORDER_TYPES,
  reducible,
  SIDES,
  TIME_IN_FORCE,
  triggerDirection,
  type Order,
  type SignedOrder,
} from '../../../contracts-ts/exchange/order.ts';
import { BookSide, type QNode } from './book.ts';
import { MinHeap } from './heap.ts';
import { TriggerIndex, type TrigDir, type TrigEntry } from './triggers.ts';

// The order rules live once, in contracts-ts/exchange/order.ts (the contracts apply the same ones).
export { isMarketKind, isTriggered, reducible, triggerDirection };
import {
  isOpenStatus,
  REASONS,
  type Fill,
  type MarketSpec,
  type MatchContext,
  type MatcherOptions,
  type OrderRecord,
  type OrderStatus,
  type StpMode,
} from './types.ts';

const BPS = 10_000n;

/** The matcher's reason for each static-rule fault (the contracts revert with their own codes). */
const SHAPE_REASON: Record<OrderShapeFault, string> = {
  SIZE: REASONS.INVALID_SIZE,
  STEP: REASONS.INVALID_SIZE,
  MIN_SIZE: REASONS.INVALID_SIZE,
  NEGATIVE_PRICE: REASONS.INVALID_PRICE,
  MARKET_POST_ONLY: REASONS.INVALID_TIF,
  PRICE: REASONS.INVALID_PRICE,
  TICK: REASONS.INVALID_PRICE,
  TRIGGER: REASONS.INVALID_TRIGGER,
  NEGATIVE_TRIGGER: REASONS.INVALID_TRIGGER,
};

interface Live {
  rec: OrderRecord;
  /** Set while the order rests in a book. */
  node?: QNode;
  /** Set while the order waits for its trigger. */
  trig?: { e: TrigEntry; dir: TrigDir };
}

interface MarketBook {
  spec: MarketSpec;
  bids: BookSide;
  asks: BookSide;
  triggers: TriggerIndex;
}

interface ExpEntry {
  expiry: bigint;
  hash: bigint;
}

function crosses(makerPrice: bigint, limit: bigint, takerIsBuy: boolean): boolean {
  return takerIsBuy ? makerPrice <= limit : makerPrice >= limit;
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const bySeq = (a: OrderRecord, b: OrderRecord): number => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0);

function snap(r: OrderRecord): OrderRecord {
  const out: OrderRecord = { signed: r.signed, seq: r.seq, remaining: r.remaining, filled: r.filled, status: r.status };
  if (r.reason !== undefined) out.reason = r.reason;
  return out;
}

function assertSpec(m: MarketSpec): void {
  if (typeof m.symbol !== 'string' || m.symbol.length === 0) throw new Error('orderbook: market symbol required');
  for (const k of ['tickSize', 'stepSize', 'minSize'] as const) {
    if (typeof m[k] !== 'bigint' || m[k] <= 0n) throw new Error(`orderbook: ${m.symbol} ${k} must be a positive bigint`);
  }
}

export class Matcher {
  readonly stp: StpMode;
  private readonly books = new Map<string, MarketBook>();
  private readonly live = new Map<bigint, Live>();
  private readonly byAccount = new Map<bigint, Set<bigint>>();
  /** Closed (once accepted) order hashes -> expiry: duplicates stay rejected until expiry. */
  private readonly seen = new Map<bigint, bigint>();
  /** One entry per accepted hash (open or closed), popped by expire(). */
  private readonly expiries = new MinHeap<ExpEntry>(
    (x, y) => x.expiry < y.expiry || (x.expiry === y.expiry && x.hash < y.hash),
  );
  private dirty = new Map<bigint, OrderRecord>();
  private seqCounter = 0n;

  constructor(markets: MarketSpec[], opts: MatcherOptions = {}) {
    this.stp = opts.stp ?? 'cancel_taker';
    if (!['cancel_taker', 'cancel_maker', 'cancel_both'].includes(this.stp)) throw new Error(`orderbook: bad stp mode ${this.stp}`);
    for (const m of markets) this.addMarket(m);
  }

  /** The seq the next submit (or trigger) will take. Persist it with the records. */
  get nextSeq(): bigint {
    return this.seqCounter;
  }

  addMarket(m: MarketSpec): void {
    assertSpec(m);
    if (m.symbol === 'ALL') throw new Error('orderbook: "ALL" is reserved (cancelAll for every market)');
    if (this.books.has(m.symbol)) throw new Error(`orderbook: duplicate market ${m.symbol}`);
    this.books.set(m.symbol, {
      spec: { ...m },
      bids: new BookSide(true),
      asks: new BookSide(false),
      triggers: new TriggerIndex(),
    });
  }

  markets(): string[] {
    return [...this.books.keys()];
  }

  // ---------------------------------------------------------------- entry

  submit(signed: SignedOrder, ctx: MatchContext): { record: OrderRecord; fills: Fill[] } {
    const seq = this.seqCounter++;
    const size = typeof signed?.order?.size === 'bigint' ? signed.order.size : 0n;
    const rec: OrderRecord = { signed, seq, remaining: size, filled: 0n, status: 'OPEN' };
    const fills: Fill[] = [];
    const bad = this.validate(signed, ctx.now);
    if (bad) {
      this.reject(rec, bad);
      return { record: snap(rec), fills };
    }
    const o = signed.order;
    const mb = this.books.get(o.market)!;
    if (isConditional(o.orderType)) {
      rec.status = 'UNTRIGGERED';
      const l = this.register(rec);
      const e: TrigEntry = { trigger: o.triggerPrice, seq, hash: signed.hash };
      const dir = triggerDirection(o);
      mb.triggers.add(e, dir);
      l.trig = { e, dir };
      // Level-triggered: if the mark already satisfies the condition, it fires now.
      const mark = ctx.markPrice(o.market);
      if (mark !== undefined && !ctx.postOnlyBand?.(o.market) && isTriggered(o, mark)) {
        mb.triggers.remove(e, dir);
        l.trig = undefined;
        this.fire(rec, mb, ctx, fills);
      }
      return { record: snap(rec), fills };
    }
    this.enter(rec, mb, ctx, true, fills);
    return { record: snap(rec), fills };
  }

  private validate(signed: SignedOrder, now: bigint): string | undefined {
    const R = REASONS;
    if (!signed || typeof signed !== 'object' || !signed.order || typeof signed.hash !== 'bigint') return R.INVALID_ORDER;
    const o = signed.order;
    if (
      typeof o.account !== 'bigint' ||
      typeof o.market !== 'string' ||
      !SIDES.includes(o.side) ||
      !ORDER_TYPES.includes(o.orderType) ||
      !TIME_IN_FORCE.includes(o.timeInForce) ||
      typeof o.size !== 'bigint' ||
      typeof o.price !== 'bigint' ||
      typeof o.triggerPrice !== 'bigint' ||
      typeof o.reduceOnly !== 'boolean' ||
      typeof o.expiry !== 'bigint'
    )
      return R.INVALID_ORDER;
    const mb = this.books.get(o.market);
    if (!mb) return R.UNKNOWN_MARKET;
    const fault = orderShapeFault(o, mb.spec); // the contracts' static rules (checkOrderStatic)
    if (fault) return SHAPE_REASON[fault];
    // Expiry before duplicates: an expired hash is rejected the same way whether or not its
    // closed record is still remembered (so a restored matcher answers exactly like the original).
    if (o.expiry <= now) return R.EXPIRED;
    if (this.live.has(signed.hash) || this.seen.has(signed.hash)) return R.DUPLICATE;
    return undefined;
  }

  /**
   * An order entering the book: fresh from submit, or a conditional order that just triggered
   * (fresh = false: it is already registered, so failures cancel instead of reject).
   */
  private enter(rec: OrderRecord, mb: MarketBook, ctx: MatchContext, fresh: boolean, fills: Fill[]): void {
    const o = rec.signed.order;
    const isBuy = o.side === 'BUY';
    const opp = isBuy ? mb.asks : mb.bids;
    const marketKind = isMarketKind(o.orderType);
    const fail = (reason: string): void => {
      if (fresh) this.reject(rec, reason);
      else this.closeLive(rec, 'CANCELLED', reason);
    };

    let postOnly = o.timeInForce === 'POST_ONLY';
    const band = ctx.postOnlyBand?.(o.market);
    if (band) {
      if (!canRest(o)) return fail(REASONS.POST_ONLY_MODE);
      if (o.price < band.min || o.price > band.max) return fail(REASONS.OUTSIDE_POST_ONLY_BAND);
      postOnly = true;
    }

    let limit = o.price;
    if (marketKind) {
      const mark = ctx.markPrice(o.market);
      if (mark === undefined) return fail(REASONS.NO_MARK_PRICE);
      const bps = max(ctx.priceBandBps(o.market), 0n);
      const dev = (mark * bps) / BPS; // floor: the band never widens by rounding
      limit = isBuy ? min(o.price, mark + dev) : max(o.price, mark - dev);
    }

    if (o.reduceOnly) {
      const red = reducible(o.side, ctx.positionOf(o.account, o.market));
      if (red === 0n) return fail(REASONS.REDUCE_ONLY_WOULD_INCREASE);
      if (rec.remaining > red) rec.remaining = red;
    }

    if (postOnly) {
      const top = this.firstLivePrice(opp, ctx.now);
      if (top !== undefined && crosses(top, limit, isBuy)) return fail(REASONS.POST_ONLY_WOULD_CROSS);
    } else if (o.timeInForce === 'FOK') {
      const why = this.proveFok(rec, opp, limit, ctx);
      if (why) {
        if (fresh) this.register(rec);
        return this.closeLive(rec, 'CANCELLED', why);
      }
    }

    if (fresh) this.register(rec);
    if (postOnly) {
      // Only expired orders can be crossed here; drop them so the book never looks crossed.
      this.purgeExpiredCrossing(opp, limit, isBuy, ctx.now);
      return this.rest(rec, mb);
    }

    let stop: string | undefined;
    try {
      stop = this.match(rec, opp, limit, ctx, fills);
    } catch (err) {
      if (isOpenStatus(rec.status) && this.live.has(rec.signed.hash)) this.closeLive(rec, 'CANCELLED', REASONS.SETTLE_ERROR);
      throw err;
    }

    if (rec.remaining === 0n) return this.closeLive(rec, 'FILLED');
    if (stop) return this.closeLive(rec, 'CANCELLED', stop);
    if (marketKind) return this.closeLive(rec, 'CANCELLED', REASONS.MARKET_REMAINDER);
    if (o.timeInForce === 'IOC') return this.closeLive(rec, 'CANCELLED', REASONS.IOC_REMAINDER);
    // FOK only gets here when a maker's settlement failed after the liquidity check.
    if (o.timeInForce === 'FOK') return this.closeLive(rec, 'CANCELLED', REASONS.FOK_NOT_FILLABLE);
    if (o.reduceOnly) {
      const red = reducible(o.side, ctx.positionOf(o.account, o.market));
      if (red === 0n) return this.closeLive(rec, 'CANCELLED', REASONS.REDUCE_ONLY);
      if (rec.remaining > red) rec.remaining = red;
    }
    this.rest(rec, mb);
  }

  /**
   * Takes liquidity for `rec` while the best opposite level crosses `limit`.
   * Returns why it stopped early (the remainder must be cancelled), or undefined.
   */
  private match(rec: OrderRecord, opp: BookSide, limit: bigint, ctx: MatchContext, fills: Fill[]): string | undefined {
    const o = rec.signed.order;
    const isBuy = o.side === 'BUY';
    while (rec.remaining > 0n) {
      const level = opp.best();
      if (!level || !crosses(level.price, limit, isBuy)) return undefined;
      const node = level.head!;
      const maker = node.rec;
      const mo = maker.signed.order;
      if (mo.expiry <= ctx.now) {
        this.closeLive(maker, 'EXPIRED', REASONS.EXPIRED);
        continue;
      }
      if (mo.account === o.account) {
        if (this.stp === 'cancel_taker') return REASONS.SELF_TRADE;
        this.closeLive(maker, 'CANCELLED', REASONS.SELF_TRADE);
        if (this.stp === 'cancel_both') return REASONS.SELF_TRADE;
        continue;
      }
      let size = min(rec.remaining, maker.remaining);
      if (o.reduceOnly) {
        const red = reducible(o.side, ctx.positionOf(o.account, o.market));
        if (red === 0n) return REASONS.REDUCE_ONLY;
        size = min(size, red);
      }
      if (mo.reduceOnly) {
        const red = reducible(mo.side, ctx.positionOf(mo.account, mo.market));
        if (red === 0n) {
          this.closeLive(maker, 'CANCELLED', REASONS.REDUCE_ONLY);
          continue;
        }
        size = min(size, red);
      }
      const fill: Fill = { market: o.market, maker: maker.signed, taker: rec.signed, size, price: level.price };
      const res = ctx.settle(fill);
      if (res === 'maker_failed') {
        this.closeLive(maker, 'CANCELLED', REASONS.SETTLE_FAILED);
        continue;
      }
      if (res === 'taker_failed') return REASONS.SETTLE_FAILED;
      if (res !== 'ok') throw new Error(`orderbook: settle returned ${String(res)}`);
      this.makerFilled(opp, node, size);
      rec.remaining -= size;
      rec.filled += size;
      fills.push(fill);
    }
    return undefined;
  }

  /** A resting order's fill was settled on chain: the book follows (one rule for trades and vault unwinds). */
  private makerFilled(opp: BookSide, node: QNode, size: bigint): void {
    const maker = node.rec;
    opp.reduce(node, size);
    maker.remaining -= size;
    maker.filled += size;
    if (maker.remaining === 0n) this.closeLive(maker, 'FILLED');
    else {
      maker.status = 'PARTIALLY_FILLED';
      this.dirty.set(maker.signed.hash, maker);
    }
  }

  /**
   * The Liquidator Vault's unwind (VAULT_UNWIND): takes up to `maxSize` from the resting orders
   * on `side` of `market`, best price first and in time priority, while `priceOk(price)` (the
   * contract's band; the walk stops at the first level outside it). Expired makers are dropped;
   * a reduce-only maker fills at most what reduces its position (none: cancelled, as in
   * matching). `settle` executes the fill on chain: 'maker_failed' cancels that maker
   * (settle_failed, as for a TRADE), 'stop' ends the walk. Returns the settled fills.
   */
  fillForVault(
    market: string,
    side: 'BUY' | 'SELL',
    maxSize: bigint,
    ctx: Pick<MatchContext, 'now' | 'positionOf'>,
    priceOk: (price: bigint) => boolean,
    settle: (maker: SignedOrder, size: bigint, price: bigint) => 'ok' | 'maker_failed' | 'stop',
  ): { maker: SignedOrder; size: bigint; price: bigint }[] {
    const mb = this.books.get(market);
    const out: { maker: SignedOrder; size: bigint; price: bigint }[] = [];
    if (!mb) return out;
    const book = side === 'BUY' ? mb.bids : mb.asks;
    let left = maxSize;
    while (left > 0n) {
      const level = book.best();
      if (!level || !priceOk(level.price)) break;
      const node = level.head!;
      const maker = node.rec;
      const mo = maker.signed.order;
      if (mo.expiry <= ctx.now) {
        this.closeLive(maker, 'EXPIRED', REASONS.EXPIRED);
        continue;
      }
      let size = min(left, maker.remaining);
      if (mo.reduceOnly) {
        const red = reducible(mo.side, ctx.positionOf(mo.account, mo.market));
        if (red === 0n) {
          this.closeLive(maker, 'CANCELLED', REASONS.REDUCE_ONLY);
          continue;
        }
        size = min(size, red);
      }
      const res = settle(maker.signed, size, level.price);
      if (res === 'stop') break;
      if (res === 'maker_failed') {
        this.closeLive(maker, 'CANCELLED', REASONS.SETTLE_FAILED);
        continue;
      }
      this.makerFilled(book, node, size);
      out.push({ maker: maker.signed, size, price: level.price });
      left -= size;
    }
    return out;
  }

  /** Price of the best opposite level holding an unexpired order (pure). */
  private firstLivePrice(opp: BookSide, now: bigint): bigint | undefined {
    for (let i = 0; i < opp.levelCount; i++) {
      const level = opp.levelFromBest(i)!;
      for (let n = level.head; n; n = n.next) if (n.rec.signed.order.expiry > now) return level.price;
    }
    return undefined;
  }

  /**
   * The fills rec.remaining would get against the book as it stands (pure: no state change, no
   * settlement), in the order match() would settle them. Applies the same skips as match():
   * expired makers, self-trade prevention, reduce-only makers' capacity. Stops once it covers
   * rec.remaining, or at a self-trade that would stop match().
   */
  private plan(rec: OrderRecord, opp: BookSide, limit: bigint, ctx: MatchContext): { maker: OrderRecord; size: bigint; price: bigint }[] {
    const o = rec.signed.order;
    const isBuy = o.side === 'BUY';
    const used = new Map<bigint, bigint>(); // reduce-only capacity consumed per maker account
    const out: { maker: OrderRecord; size: bigint; price: bigint }[] = [];
    let left = rec.remaining;
    for (let i = 0; i < opp.levelCount && left > 0n; i++) {
      const level = opp.levelFromBest(i)!;
      if (!crosses(level.price, limit, isBuy)) break;
      for (let n = level.head; n && left > 0n; n = n.next) {
        const mo = n.rec.signed.order;
        if (mo.expiry <= ctx.now) continue;
        if (mo.account === o.account) {
          if (this.stp === 'cancel_maker') continue;
          return out;
        }
        let take = min(n.rec.remaining, left);
        if (mo.reduceOnly) {
          const u = used.get(mo.account) ?? 0n;
          const cap = reducible(mo.side, ctx.positionOf(mo.account, mo.market)) - u;
          if (cap <= 0n) continue;
          take = min(take, cap);
          used.set(mo.account, u + take);
        }
        out.push({ maker: n.rec, size: take, price: level.price });
        left -= take;
      }
    }
    return out;
  }

  /**
   * Fill-or-kill, atomic across any number of makers: the planned fills must cover the whole
   * remaining size, and (when the node offers ctx.trySettle) must all settle, proven before any
   * is settled. A maker whose fill would fail is cancelled (settle_failed) and the plan is made
   * again without it; a failing taker kills the FOK. Returns why it is killed, or undefined.
   */
  private proveFok(rec: OrderRecord, opp: BookSide, limit: bigint, ctx: MatchContext): string | undefined {
    for (;;) {
      const plan = this.plan(rec, opp, limit, ctx);
      let total = 0n;
      for (const p of plan) total += p.size;
      if (total < rec.remaining) return REASONS.FOK_NOT_FILLABLE;
      if (!ctx.trySettle) return undefined;
      const res = ctx.trySettle(plan.map((p) => ({ market: rec.signed.order.market, maker: p.maker.signed, taker: rec.signed, size: p.size, price: p.price })));
      if (res === 'ok') return undefined;
      if (res.party === 'taker') return REASONS.SETTLE_FAILED;
      this.closeLive(plan[res.index]!.maker, 'CANCELLED', REASONS.SETTLE_FAILED);
    }
  }

  private purgeExpiredCrossing(opp: BookSide, limit: bigint, takerIsBuy: boolean, now: bigint): void {
    for (;;) {
      const level = opp.best();
      if (!level || !crosses(level.price, limit, takerIsBuy)) return;
      const maker = level.head!.rec;
      if (maker.signed.order.expiry > now) return; // cannot happen after the post-only check
      this.closeLive(maker, 'EXPIRED', REASONS.EXPIRED);
    }
  }

  private rest(rec: OrderRecord, mb: MarketBook): void {
    const l = this.live.get(rec.signed.hash)!;
    rec.status = rec.filled > 0n ? 'PARTIALLY_FILLED' : 'OPEN';
    l.node = (rec.signed.order.side === 'BUY' ? mb.bids : mb.asks).insert(rec);
    this.dirty.set(rec.signed.hash, rec);
  }

  /** A conditional order's trigger fired: it enters as MARKET/LIMIT with priority = now. */
  private fire(rec: OrderRecord, mb: MarketBook, ctx: MatchContext, fills: Fill[]): void {
    rec.seq = this.seqCounter++;
    rec.status = 'OPEN';
    this.dirty.set(rec.signed.hash, rec);
    // The trigger is recorded (on chain) when it fires, so a limit that rests fills later.
    if (ctx.onTrigger && !ctx.onTrigger(rec.signed)) return this.closeLive(rec, 'CANCELLED', REASONS.TRIGGER_FAILED);
    this.enter(rec, mb, ctx, false, fills);
  }

  // ---------------------------------------------------------------- bookkeeping

  private reject(rec: OrderRecord, reason: string): void {
    // Never recorded as dirty: a rejected order never entered, and its record must not overwrite
    // the stored history of an earlier order with the same hash.
    rec.status = 'REJECTED';
    rec.reason = reason;
  }

  private register(rec: OrderRecord): Live {
    const hash = rec.signed.hash;
    const l: Live = { rec };
    this.live.set(hash, l);
    const acct = rec.signed.order.account;
    let s = this.byAccount.get(acct);
    if (!s) this.byAccount.set(acct, (s = new Set()));
    s.add(hash);
    this.expiries.push({ expiry: rec.signed.order.expiry, hash });
    this.dirty.set(hash, rec);
    return l;
  }

  private closeLive(rec: OrderRecord, status: OrderStatus, reason?: string): void {
    const hash = rec.signed.hash;
    const l = this.live.get(hash);
    if (!l) throw new Error('orderbook: closing an order that is not open');
    const o = rec.signed.order;
    const mb = this.books.get(o.market)!;
    if (l.node) (o.side === 'BUY' ? mb.bids : mb.asks).remove(l.node);
    if (l.trig) mb.triggers.remove(l.trig.e, l.trig.dir);
    l.node = undefined;
    l.trig = undefined;
    this.live.delete(hash);
    const s = this.byAccount.get(o.account);
    if (s) {
      s.delete(hash);
      if (s.size === 0) this.byAccount.delete(o.account);
    }
    this.seen.set(hash, o.expiry);
    rec.status = status;
    if (reason !== undefined) rec.reason = reason;
    this.dirty.set(hash, rec);
  }

  // ---------------------------------------------------------------- cancels, triggers, expiry

  /**
   * Cancels an open order. With `by` (the account that signed the cancel), only that account's
   * order is cancelled (cancelOwnerOk, the contracts' rule): another's stays and undefined is returned.
   */
  cancel(orderHash: bigint, reason: string = REASONS.CANCELLED, by?: bigint): OrderRecord | undefined {
    const l = this.live.get(orderHash);
    if (!l) return undefined;
    if (by !== undefined && !cancelOwnerOk(l.rec.signed.order.account, by)) return undefined;
    this.closeLive(l.rec, 'CANCELLED', reason);
    return snap(l.rec);
  }

  cancelAll(account: bigint, market: string | 'ALL', opts: { reason?: string } = {}): OrderRecord[] {
    const hashes = this.byAccount.get(account);
    if (!hashes) return [];
    const recs: OrderRecord[] = [];
    for (const h of hashes) {
      const r = this.live.get(h)!.rec;
      const o = r.signed.order;
      if (market !== 'ALL' && o.market !== market) continue;
      recs.push(r);
    }
    return this.closeMany(recs, opts.reason ?? REASONS.CANCELLED);
  }

  private closeMany(recs: OrderRecord[], reason: string): OrderRecord[] {
    recs.sort(bySeq);
    for (const r of recs) this.closeLive(r, 'CANCELLED', reason);
    return recs.map(snap);
  }

  /**
   * Fires the conditional orders of `market` that the current mark satisfies, oldest (lowest seq)
   * first, each entering with a fresh seq. Nothing fires while the market is in POST_ONLY mode.
   */
  onMarkPrice(market: string, ctx: MatchContext): Fill[] {
    const mb = this.books.get(market);
    if (!mb) return [];
    const mark = ctx.markPrice(market);
    if (mark === undefined || ctx.postOnlyBand?.(market)) return [];
    const fills: Fill[] = [];
    for (const e of mb.triggers.takeDue(mark)) {
      const l = this.live.get(e.hash);
      if (!l || l.rec.status !== 'UNTRIGGERED') throw new Error('orderbook: trigger index out of sync');
      l.trig = undefined;
      if (l.rec.signed.order.expiry <= ctx.now) this.closeLive(l.rec, 'EXPIRED', REASONS.EXPIRED);
      else this.fire(l.rec, mb, ctx, fills);
    }
    return fills;
  }

  /** Removes every open order with expiry <= now; returns them in seq order. Also forgets expired closed hashes. */
  expire(ctx: MatchContext): OrderRecord[] {
    const out: OrderRecord[] = [];
    for (let top = this.expiries.peek(); top && top.expiry <= ctx.now; top = this.expiries.peek()) {
      this.expiries.pop();
      const l = this.live.get(top.hash);
      if (l && l.rec.signed.order.expiry === top.expiry) {
        this.closeLive(l.rec, 'EXPIRED', REASONS.EXPIRED);
        out.push(l.rec);
      }
      if (this.seen.get(top.hash) === top.expiry) this.seen.delete(top.hash);
    }
    return out.sort(bySeq).map(snap);
  }

  // ---------------------------------------------------------------- queries

  /** An open order (OPEN, UNTRIGGERED, PARTIALLY_FILLED); closed ones live in the node's DB. */
  getOrder(hash: bigint): OrderRecord | undefined {
    const l = this.live.get(hash);
    return l ? snap(l.rec) : undefined;
  }

  /** True while the hash is open or closed-but-not-yet-expired (a resubmission would be a duplicate). */
  isKnown(hash: bigint): boolean {
    return this.live.has(hash) || this.seen.has(hash);
  }

  /** Open orders of an account, in seq order. */
  ordersOf(account: bigint): OrderRecord[] {
    const hashes = this.byAccount.get(account);
    if (!hashes) return [];
    return [...hashes].map((h) => this.live.get(h)!.rec).sort(bySeq).map(snap);
  }

  /** What each open order of an account may still fill (no order, no copies: for placement checks). */
  openOf(account: bigint): { order: Order; remaining: bigint }[] {
    const hashes = this.byAccount.get(account);
    if (!hashes) return [];
    return [...hashes].map((h) => {
      const r = this.live.get(h)!.rec;
      return { order: r.signed.order, remaining: r.remaining };
    });
  }

  /** Every open order, in seq order. */
  openOrders(): OrderRecord[] {
    return [...this.live.values()].map((l) => l.rec).sort(bySeq).map(snap);
  }

  get openCount(): number {
    return this.live.size;
  }

  depth(market: string, levels: number): { bids: [price: bigint, size: bigint][]; asks: [bigint, bigint][] } {
    const mb = this.books.get(market);
    if (!mb) return { bids: [], asks: [] };
    return { bids: mb.bids.depth(levels), asks: mb.asks.depth(levels) };
  }

  bestBid(market: string): bigint | undefined {
    return this.books.get(market)?.bids.best()?.price;
  }

  bestAsk(market: string): bigint | undefined {
    return this.books.get(market)?.asks.best()?.price;
  }

  /** Records changed since the last call, as snapshots; closed ones once with their final status. */
  takeDirty(): OrderRecord[] {
    const out = [...this.dirty.values()].map(snap);
    this.dirty = new Map();
    return out;
  }

  // ---------------------------------------------------------------- restore

  /**
   * Rebuilds a matcher from persisted records (any order). Open records go back into their books
   * in seq order (exact time priority) or back to waiting for their trigger; closed records
   * (FILLED / CANCELLED / EXPIRED) are optional and only restore duplicate detection until their
   * expiry; REJECTED records are ignored.
   */
  static restore(markets: MarketSpec[], records: OrderRecord[], nextSeq: bigint, opts: MatcherOptions = {}): Matcher {
    const m = new Matcher(markets, opts);
    m.seqCounter = nextSeq;
    const sorted = records.filter((r) => r.status !== 'REJECTED').sort(bySeq);
    for (const r0 of sorted) {
      const r = snap(r0);
      const o = r.signed.order;
      const hash = r.signed.hash;
      if (m.live.has(hash) || m.seen.has(hash)) throw new Error(`orderbook restore: duplicate record 0x${hash.toString(16)}`);
      const mb = m.books.get(o.market);
      if (!mb) throw new Error(`orderbook restore: unknown market ${o.market}`);
      if (!isOpenStatus(r.status)) {
        m.seen.set(hash, o.expiry);
        m.expiries.push({ expiry: o.expiry, hash });
        continue;
      }
      if (r.seq >= nextSeq) throw new Error(`orderbook restore: record seq ${r.seq} >= nextSeq ${nextSeq}`);
      if (r.remaining <= 0n) throw new Error(`orderbook restore: open record with nothing remaining`);
      const l = m.register(r);
      if (r.status === 'UNTRIGGERED') {
        if (!isConditional(o.orderType)) throw new Error('orderbook restore: UNTRIGGERED record of a non-conditional order');
        const e: TrigEntry = { trigger: o.triggerPrice, seq: r.seq, hash };
        const dir = triggerDirection(o);
        mb.triggers.add(e, dir);
        l.trig = { e, dir };
      } else {
        if (isMarketKind(o.orderType)) throw new Error('orderbook restore: a market-kind order cannot rest');
        l.node = (o.side === 'BUY' ? mb.bids : mb.asks).insert(r);
      }
    }
    m.dirty = new Map();
    return m;
  }
}
