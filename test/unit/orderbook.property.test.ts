import { expect } from 'chai';
import fc from 'fast-check';
import { isTpSl, ORDER_TYPES, type OrderType, type Side, type SignedOrder, type TimeInForce } from '../../contracts-ts/exchange/order.ts';
import {
  isMarketKind,
  Matcher,
  recordFromJson,
  recordToJson,
  type Fill,
  type StpMode,
} from '../../node/sequencer/orderbook/index.ts';
import { BTC, FakeChain, MARKETS, ord } from './orderbook.fixtures.ts';

type Op =
  | {
      k: 'submit';
      account: number;
      side: Side;
      type: OrderType;
      tif: TimeInForce;
      size: number;
      price: number;
      trigger: number;
      reduceOnly: boolean;
      expiryDelta: number;
    }
  | { k: 'dup'; idx: number }
  | { k: 'cancel'; idx: number }
  | { k: 'cancelAll'; account: number; btcOnly: boolean }
  | { k: 'mark'; price: number }
  | { k: 'time'; dt: number }
  | { k: 'mass' }
  | { k: 'pos'; account: number; delta: number };

const submitArb = fc.record({
  k: fc.constant('submit' as const),
  account: fc.integer({ min: 1, max: 4 }),
  side: fc.constantFrom<Side>('BUY', 'SELL'),
  type: fc.oneof(
    { weight: 6, arbitrary: fc.constant<OrderType>('LIMIT') },
    { weight: 2, arbitrary: fc.constant<OrderType>('MARKET') },
    { weight: 2, arbitrary: fc.constantFrom<OrderType>(...ORDER_TYPES) },
  ),
  tif: fc.oneof(
    { weight: 5, arbitrary: fc.constant<TimeInForce>('GTC') },
    { weight: 3, arbitrary: fc.constantFrom<TimeInForce>('IOC', 'FOK', 'POST_ONLY') },
  ),
  size: fc.integer({ min: 1, max: 12 }),
  price: fc.integer({ min: 92, max: 108 }),
  trigger: fc.integer({ min: 92, max: 108 }),
  reduceOnly: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  expiryDelta: fc.integer({ min: 1, max: 60 }),
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: submitArb },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('dup' as const), idx: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('cancel' as const), idx: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cancelAll' as const), account: fc.integer({ min: 1, max: 4 }), btcOnly: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('mark' as const), price: fc.integer({ min: 90, max: 110 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('time' as const), dt: fc.integer({ min: 1, max: 20 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'mass' as const }) },
  // a position moved by something other than this book (a liquidation, ADL)
  { weight: 2, arbitrary: fc.record({ k: fc.constant('pos' as const), account: fc.integer({ min: 1, max: 4 }), delta: fc.integer({ min: -6, max: 6 }) }) },
);

type Outcome = 'ok' | 'maker_failed' | 'taker_failed';
const outcomesArb = fc.array(
  fc.oneof({ weight: 8, arbitrary: fc.constant<Outcome>('ok') }, { weight: 1, arbitrary: fc.constantFrom<Outcome>('maker_failed', 'taker_failed') }),
  { minLength: 1, maxLength: 20 },
);
const stpArb = fc.constantFrom<StpMode>('cancel_taker', 'cancel_maker', 'cancel_both');

/** A chain that also checks reduce-only on every settlement it accepts. */
class CheckingChain extends FakeChain {
  override settle(fill: Fill) {
    const before = new Map<bigint, bigint>();
    for (const s of [fill.maker, fill.taker]) before.set(s.order.account, this.positionOf(s.order.account, fill.market));
    const r = super.settle(fill);
    if (r === 'ok') {
      for (const s of [fill.maker, fill.taker]) {
        if (!s.order.reduceOnly) continue;
        const p0 = before.get(s.order.account)!;
        const p1 = this.positionOf(s.order.account, fill.market);
        const abs = (x: bigint) => (x < 0n ? -x : x);
        expect(abs(p1) < abs(p0), 'reduce-only fill must shrink the position').to.equal(true);
        expect(p0 > 0n ? p1 >= 0n : p1 <= 0n, 'reduce-only fill must not flip the position').to.equal(true);
      }
    }
    return r;
  }
}

interface RunOpts {
  stp: StpMode;
  outcomes: Outcome[];
  restoreAt?: number;
}

/** Runs ops on a fresh matcher, checking invariants after every step; returns everything observable. */
function run(ops: Op[], opts: RunOpts): unknown[] {
  let m = new Matcher(MARKETS, { stp: opts.stp });
  const ctx = new CheckingChain();
  ctx.marks.set(BTC, 100n);
  ctx.script = (_f, n) => opts.outcomes[n % opts.outcomes.length]!;
  const submitted: SignedOrder[] = [];
  const filledBy = new Map<bigint, bigint>();
  const store = new Map<bigint, unknown>(); // the node's persisted records, as JSON
  const log: unknown[] = [];

  const checkFills = (fills: Fill[], mark: bigint) => {
    for (const f of fills) {
      const { maker, taker } = f;
      expect(f.size > 0n).to.equal(true);
      expect(f.price).to.equal(maker.order.price, 'fill at the maker price');
      expect(maker.order.account).to.not.equal(taker.order.account, 'no self-trade');
      for (const s of [maker, taker]) {
        if (s.order.side === 'BUY') expect(f.price <= s.order.price, 'within the buyer limit').to.equal(true);
        else expect(f.price >= s.order.price, 'within the seller limit').to.equal(true);
      }
      expect(isMarketKind(maker.order.orderType)).to.equal(false);
      if (isMarketKind(taker.order.orderType)) {
        const dev = (mark * ctx.bandBps) / 10_000n;
        if (taker.order.side === 'BUY') expect(f.price <= mark + dev, 'within the band').to.equal(true);
        else expect(f.price >= mark - dev, 'within the band').to.equal(true);
      }
      for (const s of [maker, taker]) {
        const tot = (filledBy.get(s.hash) ?? 0n) + f.size;
        filledBy.set(s.hash, tot);
        expect(tot <= s.order.size, 'never filled beyond its size').to.equal(true);
      }
    }
  };

  const checkBook = () => {
    const bid = m.bestBid(BTC);
    const ask = m.bestAsk(BTC);
    if (bid !== undefined && ask !== undefined) expect(bid < ask, `book crossed: ${bid} >= ${ask}`).to.equal(true);
    const d = m.depth(BTC, 1_000);
    let bids = 0n;
    let asks = 0n;
    for (const r of m.openOrders()) {
      expect(r.filled + r.remaining <= r.signed.order.size).to.equal(true);
      expect(r.filled).to.equal(filledBy.get(r.signed.hash) ?? 0n);
      if (r.status === 'UNTRIGGERED') continue;
      if (r.signed.order.side === 'BUY') bids += r.remaining;
      else asks += r.remaining;
    }
    expect(d.bids.reduce((a, [, s]) => a + s, 0n)).to.equal(bids);
    expect(d.asks.reduce((a, [, s]) => a + s, 0n)).to.equal(asks);
  };

  ops.forEach((op, i) => {
    if (opts.restoreAt === i) {
      const recs = [...store.values()].map(recordFromJson).sort((a, b) => (a.signed.hash < b.signed.hash ? 1 : -1));
      m = Matcher.restore(MARKETS, recs, m.nextSeq, { stp: opts.stp });
    }
    const mark = ctx.marks.get(BTC)!;
    switch (op.k) {
      case 'submit': {
        const s = ord(
          {
            account: BigInt(op.account),
            side: op.side,
            orderType: op.type,
            timeInForce: op.tif,
            size: BigInt(op.size),
            price: isMarketKind(op.type) ? (op.side === 'BUY' ? BigInt(op.price + 8) : BigInt(op.price - 8)) : BigInt(op.price),
            triggerPrice: op.type === 'LIMIT' || op.type === 'MARKET' ? 0n : BigInt(op.trigger),
            reduceOnly: op.reduceOnly,
            expiry: ctx.now + BigInt(op.expiryDelta),
          },
          BigInt(i + 1) * 7919n,
        );
        submitted.push(s);
        const r = m.submit(s, ctx);
        checkFills(r.fills, mark);
        log.push(r);
        break;
      }
      case 'dup': {
        if (submitted.length === 0) break;
        const r = m.submit(submitted[op.idx % submitted.length]!, ctx);
        checkFills(r.fills, mark);
        log.push(r);
        break;
      }
      case 'cancel':
        if (submitted.length) log.push(m.cancel(submitted[op.idx % submitted.length]!.hash));
        break;
      case 'cancelAll':
        log.push(m.cancelAll(BigInt(op.account), op.btcOnly ? BTC : 'ALL'));
        break;
      case 'mark': {
        ctx.marks.set(BTC, BigInt(op.price));
        const fills = m.onMarkPrice(BTC, ctx);
        checkFills(fills, BigInt(op.price));
        log.push(fills);
        break;
      }
      case 'time':
        ctx.now += BigInt(op.dt);
        log.push(m.expire(ctx));
        break;
      case 'mass':
        // The rollback's mass cancel (maintenance.ts keeps TP/SL orders): every other open order.
        log.push(m.openOrders().filter((r) => !isTpSl(r.signed.order.orderType)).map((r) => m.cancel(r.signed.hash, 'rollback')));
        break;
      case 'pos': {
        const a = BigInt(op.account);
        ctx.setPosition(a, BTC, ctx.positionOf(a, BTC) + BigInt(op.delta));
        break;
      }
    }
    checkBook();
    const dirty = m.takeDirty();
    for (const r of dirty) {
      expect(r.filled).to.equal(filledBy.get(r.signed.hash) ?? 0n, 'record.filled = sum of its fills');
      store.set(r.signed.hash, recordToJson(r));
    }
    log.push(dirty, m.nextSeq);
  });
  log.push(m.openOrders(), m.depth(BTC, 100), [...ctx.positions.entries()]);
  return log;
}

describe('orderbook: properties', () => {
  it('never overfills, never crosses, fills at the maker price within both limits and the band', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80, size: 'max' }), outcomesArb, stpArb, (ops, outcomes, stp) => {
        run(ops, { stp, outcomes });
      }),
      { numRuns: 300 },
    );
  });

  it('is deterministic: the same sequence twice gives identical fills and records', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60, size: 'max' }), outcomesArb, stpArb, (ops, outcomes, stp) => {
        expect(run(ops, { stp, outcomes })).to.deep.equal(run(ops, { stp, outcomes }));
      }),
      { numRuns: 100 },
    );
  });

  it('restoring from the persisted records at any point changes nothing that follows', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60, size: 'max' }), fc.nat(), outcomesArb, stpArb, (ops, at, outcomes, stp) => {
        const restoreAt = at % ops.length;
        expect(run(ops, { stp, outcomes, restoreAt })).to.deep.equal(run(ops, { stp, outcomes }));
      }),
      { numRuns: 150 },
    );
  });
});

describe('orderbook: the property generator reaches the interesting paths', () => {
  it('fills, partial fills, every cancel reason, expiry and triggers all occur', () => {
    const seen = new Set<string>();
    let fills = 0;
    const samples = fc.sample(fc.tuple(fc.array(opArb, { maxLength: 80, size: 'max' }), outcomesArb, stpArb), { seed: 42, numRuns: 300 });
    for (const [ops, outcomes, stp] of samples) {
      for (const entry of run(ops, { stp, outcomes })) {
        if (!Array.isArray(entry)) {
          if (entry && typeof entry === 'object' && 'fills' in entry) fills += (entry as { fills: Fill[] }).fills.length;
          continue;
        }
        for (const x of entry) {
          if (x && typeof x === 'object' && 'status' in x) {
            const r = x as { status: string; reason?: string; signed: SignedOrder };
            seen.add(r.reason ? `${r.status}:${r.reason}` : r.status);
            if (r.status === 'FILLED' && r.signed.order.orderType.includes('_')) seen.add('conditional filled');
          }
        }
      }
    }
    expect(fills).to.be.greaterThan(300);
    for (const k of [
      'OPEN',
      'UNTRIGGERED',
      'PARTIALLY_FILLED',
      'FILLED',
      'conditional filled',
      'EXPIRED:expired',
      'CANCELLED:self_trade',
      'CANCELLED:settle_failed',
      'CANCELLED:reduce_only',
      'CANCELLED:ioc_remainder',
      'CANCELLED:fok_not_fillable',
      'CANCELLED:market_remainder',
      'CANCELLED:cancelled',
      'CANCELLED:rollback',
    ])
      expect([...seen], k).to.include(k);
  });
});
