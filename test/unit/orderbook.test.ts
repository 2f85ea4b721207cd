import { expect } from 'chai';
import {
  Matcher,
  recordFromJson,
  recordToJson,
  REASONS,
  type Fill,
  type OrderRecord,
} from '../../node/sequencer/orderbook/index.ts';
import { BTC, ETH, FakeChain, MARKETS, ord } from './orderbook.fixtures.ts';

const A = 0xan;
const B = 0xbn;
const C = 0xcn;

function setup(stp?: 'cancel_taker' | 'cancel_maker' | 'cancel_both') {
  const m = new Matcher(MARKETS, stp ? { stp } : {});
  const ctx = new FakeChain();
  ctx.marks.set(BTC, 100n);
  ctx.marks.set(ETH, 1000n);
  return { m, ctx };
}

const fillSummary = (fs: Fill[]) => fs.map((f) => [f.maker.hash, f.size, f.price]);

describe('orderbook: price-time priority and partial fills', () => {
  it('fills the best price first, then older orders first at one price, at the maker price', () => {
    const { m, ctx } = setup();
    const a1 = ord({ account: A, side: 'SELL', price: 101n, size: 1n });
    const a2 = ord({ account: A, side: 'SELL', price: 100n, size: 1n });
    const a3 = ord({ account: B, side: 'SELL', price: 100n, size: 1n });
    for (const o of [a1, a2, a3]) expect(m.submit(o, ctx).record.status).to.equal('OPEN');
    const t = ord({ account: C, side: 'BUY', price: 105n, size: 3n });
    const { record, fills } = m.submit(t, ctx);
    expect(fillSummary(fills)).to.deep.equal([
      [a2.hash, 1n, 100n],
      [a3.hash, 1n, 100n],
      [a1.hash, 1n, 101n],
    ]);
    expect(record.status).to.equal('FILLED');
    expect(record.filled).to.equal(3n);
    expect(m.depth(BTC, 5)).to.deep.equal({ bids: [], asks: [] });
  });

  it('bids: higher price first; depth aggregates levels best first', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'BUY', price: 98n, size: 2n }), ctx);
    m.submit(ord({ account: A, side: 'BUY', price: 99n, size: 1n }), ctx);
    m.submit(ord({ account: B, side: 'BUY', price: 99n, size: 4n }), ctx);
    m.submit(ord({ account: B, side: 'SELL', price: 103n, size: 4n }), ctx);
    m.submit(ord({ account: B, side: 'SELL', price: 102n, size: 1n }), ctx);
    expect(m.depth(BTC, 5)).to.deep.equal({
      bids: [
        [99n, 5n],
        [98n, 2n],
      ],
      asks: [
        [102n, 1n],
        [103n, 4n],
      ],
    });
    expect(m.depth(BTC, 1).bids).to.deep.equal([[99n, 5n]]);
    expect(m.bestBid(BTC)).to.equal(99n);
    expect(m.bestAsk(BTC)).to.equal(102n);
  });

  it('partial fills leave the maker PARTIALLY_FILLED and rest the taker remainder at its price', () => {
    const { m, ctx } = setup();
    const mk = ord({ account: A, side: 'SELL', price: 100n, size: 10n });
    m.submit(mk, ctx);
    const t1 = m.submit(ord({ account: B, side: 'BUY', price: 100n, size: 4n }), ctx);
    expect(t1.record.status).to.equal('FILLED');
    expect(m.getOrder(mk.hash)).to.include({ status: 'PARTIALLY_FILLED', remaining: 6n, filled: 4n });
    expect(m.depth(BTC, 1).asks).to.deep.equal([[100n, 6n]]);
    const t2o = ord({ account: B, side: 'BUY', price: 100n, size: 15n });
    const t2 = m.submit(t2o, ctx);
    expect(t2.fills.map((f) => f.size)).to.deep.equal([6n]);
    expect(t2.record).to.include({ status: 'PARTIALLY_FILLED', remaining: 9n, filled: 6n });
    expect(m.getOrder(mk.hash)).to.equal(undefined); // filled: no longer open
    expect(m.depth(BTC, 5)).to.deep.equal({ bids: [[100n, 9n]], asks: [] });
  });

  it('a limit order does not take beyond its price', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'SELL', price: 101n, size: 1n }), ctx);
    const r = m.submit(ord({ account: B, side: 'BUY', price: 100n, size: 1n }), ctx);
    expect(r.fills).to.have.length(0);
    expect(r.record.status).to.equal('OPEN');
  });
});

describe('orderbook: self-trade prevention', () => {
  it('default cancels the incoming remainder and keeps the resting order', () => {
    const { m, ctx } = setup();
    const other = ord({ account: B, side: 'SELL', price: 100n, size: 1n });
    const own = ord({ account: A, side: 'SELL', price: 101n, size: 5n });
    const behind = ord({ account: C, side: 'SELL', price: 102n, size: 5n });
    [other, own, behind].forEach((o) => m.submit(o, ctx));
    const r = m.submit(ord({ account: A, side: 'BUY', price: 102n, size: 4n }), ctx);
    expect(fillSummary(r.fills)).to.deep.equal([[other.hash, 1n, 100n]]);
    expect(r.record).to.include({ status: 'CANCELLED', reason: REASONS.SELF_TRADE, filled: 1n });
    expect(m.getOrder(own.hash)?.status).to.equal('OPEN');
    expect(m.getOrder(behind.hash)?.remaining).to.equal(5n);
  });

  it('cancel_maker cancels the resting own order and keeps matching', () => {
    const { m, ctx } = setup('cancel_maker');
    const own = ord({ account: A, side: 'SELL', price: 101n, size: 5n });
    const behind = ord({ account: C, side: 'SELL', price: 102n, size: 5n });
    [own, behind].forEach((o) => m.submit(o, ctx));
    const r = m.submit(ord({ account: A, side: 'BUY', price: 102n, size: 4n }), ctx);
    expect(fillSummary(r.fills)).to.deep.equal([[behind.hash, 4n, 102n]]);
    expect(m.getOrder(own.hash)).to.equal(undefined);
    const d = m.takeDirty().find((x) => x.signed.hash === own.hash)!;
    expect(d).to.include({ status: 'CANCELLED', reason: REASONS.SELF_TRADE });
  });

  it('cancel_both cancels both', () => {
    const { m, ctx } = setup('cancel_both');
    const own = ord({ account: A, side: 'SELL', price: 101n, size: 5n });
    m.submit(own, ctx);
    const r = m.submit(ord({ account: A, side: 'BUY', price: 102n, size: 4n }), ctx);
    expect(r.record).to.include({ status: 'CANCELLED', reason: REASONS.SELF_TRADE });
    expect(m.getOrder(own.hash)).to.equal(undefined);
  });
});

describe('orderbook: time in force', () => {
  it('POST_ONLY rests when it does not cross and is rejected when it would', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'SELL', price: 101n, size: 1n }), ctx);
    const ok = m.submit(ord({ account: B, side: 'BUY', price: 100n, timeInForce: 'POST_ONLY' }), ctx);
    expect(ok.record.status).to.equal('OPEN');
    const before = m.depth(BTC, 10);
    const bad = m.submit(ord({ account: B, side: 'BUY', price: 101n, timeInForce: 'POST_ONLY' }), ctx);
    expect(bad.record).to.include({ status: 'REJECTED', reason: REASONS.POST_ONLY_WOULD_CROSS });
    expect(bad.fills).to.have.length(0);
    expect(ctx.calls).to.have.length(0);
    expect(m.depth(BTC, 10)).to.deep.equal(before);
  });

  it('IOC fills what it can and cancels the rest; nothing rests', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'SELL', price: 100n, size: 2n }), ctx);
    m.submit(ord({ account: A, side: 'SELL', price: 103n, size: 2n }), ctx);
    const r = m.submit(ord({ account: B, side: 'BUY', price: 101n, size: 5n, timeInForce: 'IOC' }), ctx);
    expect(r.fills.map((f) => f.size)).to.deep.equal([2n]);
    expect(r.record).to.include({ status: 'CANCELLED', reason: REASONS.IOC_REMAINDER, filled: 2n, remaining: 3n });
    expect(m.depth(BTC, 5).bids).to.deep.equal([]);
  });

  it('FOK without enough liquidity has no side effects at all', () => {
    const { m, ctx } = setup();
    const a = ord({ account: A, side: 'SELL', price: 100n, size: 2n });
    const b = ord({ account: C, side: 'SELL', price: 101n, size: 2n });
    m.submit(a, ctx);
    m.submit(b, ctx);
    m.takeDirty();
    const beforeDepth = m.depth(BTC, 10);
    const beforeOrders = [m.getOrder(a.hash), m.getOrder(b.hash)];
    const r = m.submit(ord({ account: B, side: 'BUY', price: 101n, size: 5n, timeInForce: 'FOK' }), ctx);
    expect(r.record).to.include({ status: 'CANCELLED', reason: REASONS.FOK_NOT_FILLABLE, filled: 0n });
    expect(r.fills).to.deep.equal([]);
    expect(ctx.calls).to.deep.equal([]);
    expect(m.depth(BTC, 10)).to.deep.equal(beforeDepth);
    expect([m.getOrder(a.hash), m.getOrder(b.hash)]).to.deep.equal(beforeOrders);
    expect(m.takeDirty().map((d) => d.signed.hash)).to.deep.equal([r.record.signed.hash]);
  });

  it('FOK counts only liquidity within its limit and fills completely when it can', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'SELL', price: 100n, size: 2n }), ctx);
    m.submit(ord({ account: C, side: 'SELL', price: 101n, size: 2n }), ctx);
    m.submit(ord({ account: C, side: 'SELL', price: 102n, size: 9n }), ctx);
    const r = m.submit(ord({ account: B, side: 'BUY', price: 101n, size: 4n, timeInForce: 'FOK' }), ctx);
    expect(r.record.status).to.equal('FILLED');
    expect(r.fills.map((f) => [f.size, f.price])).to.deep.equal([
      [2n, 100n],
      [2n, 101n],
    ]);
  });

  it('FOK does not count liquidity behind its own order (self-trade would stop it)', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: B, side: 'SELL', price: 100n, size: 1n }), ctx);
    m.submit(ord({ account: C, side: 'SELL', price: 100n, size: 5n }), ctx);
    const r = m.submit(ord({ account: B, side: 'BUY', price: 100n, size: 2n, timeInForce: 'FOK' }), ctx);
    expect(r.record.reason).to.equal(REASONS.FOK_NOT_FILLABLE);
    expect(ctx.calls).to.have.length(0);
  });

  it('FOK counts reduce-only makers only up to their account position', () => {
    const { m, ctx } = setup();
    ctx.setPosition(A, BTC, 3n);
    m.submit(ord({ account: A, side: 'SELL', reduceOnly: true, price: 100n, size: 2n }), ctx);
    m.submit(ord({ account: A, side: 'SELL', reduceOnly: true, price: 100n, size: 2n }), ctx);
    expect(m.depth(BTC, 1).asks).to.deep.equal([[100n, 4n]]);
    const no = m.submit(ord({ account: B, side: 'BUY', price: 100n, size: 4n, timeInForce: 'FOK' }), ctx);
    expect(no.record.reason).to.equal(REASONS.FOK_NOT_FILLABLE);
    expect(ctx.calls).to.have.length(0);
    const yes = m.submit(ord({ account: B, side: 'BUY', price: 100n, size: 3n, timeInForce: 'FOK' }), ctx);
    expect(yes.record.status).to.equal('FILLED');
    expect(yes.fills.map((f) => f.size)).to.deep.equal([2n, 1n]);
  });

  it('FOK does not count expired makers', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'SELL', price: 100n, size: 5n, expiry: 1_010n }), ctx);
    const live = ord({ account: C, side: 'SELL', price: 100n, size: 1n });
    m.submit(live, ctx);
    ctx.now = 1_010n;
    const r = m.submit(ord({ account: B, side: 'BUY', price: 100n, size: 2n, timeInForce: 'FOK' }), ctx);
    expect(r.record).to.include({ reason: REASONS.FOK_NOT_FILLABLE, filled: 0n });
    expect(ctx.calls).to.have.length(0);
    expect(m.getOrder(live.hash)?.remaining).to.equal(1n);
  });
});

describe('orderbook: MARKET orders and the price band', () => {
  it('a MARKET buy fills up to mark + band and cancels the rest', () => {
    const { m, ctx } = setup(); // mark 100, band 5 % -> 105
    const in1 = ord({ account: A, side: 'SELL', price: 104n, size: 1n });
    const in2 = ord({ account: A, side: 'SELL', price: 105n, size: 1n });
    const out = ord({ account: A, side: 'SELL', price: 106n, size: 1n });
    [in1, in2, out].forEach((o) => m.submit(o, ctx));
    const r = m.submit(ord({ account: B, side: 'BUY', orderType: 'MARKET', price: 1_000n, size: 5n }), ctx);
    expect(fillSummary(r.fills)).to.deep.equal([
      [in1.hash, 1n, 104n],
      [in2.hash, 1n, 105n],
    ]);
    expect(r.record).to.include({ status: 'CANCELLED', reason: REASONS.MARKET_REMAINDER, filled: 2n });
    expect(m.getOrder(out.hash)?.remaining).to.equal(1n);
    expect(m.depth(BTC, 5).bids).to.deep.equal([]);
  });

  it('a MARKET sell fills down to mark - band; the signed price bounds it further', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'BUY', price: 99n, size: 1n }), ctx);
    m.submit(ord({ account: A, side: 'BUY', price: 97n, size: 1n }), ctx);
    m.submit(ord({ account: A, side: 'BUY', price: 95n, size: 1n }), ctx);
    m.submit(ord({ account: A, side: 'BUY', price: 94n, size: 1n }), ctx);
    const tight = m.submit(ord({ account: B, side: 'SELL', orderType: 'MARKET', price: 98n, size: 5n }), ctx);
    expect(tight.fills.map((f) => f.price)).to.deep.equal([99n]);
    const wide = m.submit(ord({ account: B, side: 'SELL', orderType: 'MARKET', price: 0n, size: 5n }), ctx);
    expect(wide.fills.map((f) => f.price)).to.deep.equal([97n, 95n]);
    expect(m.depth(BTC, 5).bids).to.deep.equal([[94n, 1n]]);
  });

  it('the band is floor(mark * bps / 10000) and is recomputed from the current mark', () => {
    const { m, ctx } = setup();
    ctx.bandBps = 150n; // 1.5 % of 100 = 1.5 -> 1
    m.submit(ord({ account: A, side: 'SELL', price: 101n, size: 1n }), ctx);
    m.submit(ord({ account: A, side: 'SELL', price: 102n, size: 1n }), ctx);
    const r = m.submit(ord({ account: B, side: 'BUY', orderType: 'MARKET', price: 200n, size: 2n }), ctx);
    expect(r.fills.map((f) => f.price)).to.deep.equal([101n]);
    ctx.marks.set(BTC, 101n);
    const r2 = m.submit(ord({ account: B, side: 'BUY', orderType: 'MARKET', price: 200n, size: 2n }), ctx);
    expect(r2.fills.map((f) => f.price)).to.deep.equal([102n]);
  });

  it('MARKET without a mark price is rejected; MARKET + POST_ONLY is invalid', () => {
    const { m, ctx } = setup();
    ctx.marks.delete(BTC);
    const r = m.submit(ord({ account: B, side: 'BUY', orderType: 'MARKET', price: 200n }), ctx);
    expect(r.record).to.include({ status: 'REJECTED', reason: REASONS.NO_MARK_PRICE });
    const r2 = m.submit(ord({ account: B, side: 'BUY', orderType: 'MARKET', timeInForce: 'POST_ONLY', price: 200n }), ctx);
    expect(r2.record).to.include({ status: 'REJECTED', reason: REASONS.INVALID_TIF });
  });

  it('a MARKET order never rests, even with nothing to fill', () => {
    const { m, ctx } = setup();
    const r = m.submit(ord({ account: B, side: 'BUY', orderType: 'MARKET', price: 200n, size: 3n }), ctx);
    expect(r.record).to.include({ status: 'CANCELLED', reason: REASONS.MARKET_REMAINDER });
    expect(m.openCount).to.equal(0);
  });
});

describe('orderbook: reduce-only', () => {
  it('is rejected when it would increase or open a position', () => {
    const { m, ctx } = setup();
    const flat = m.submit(ord({ account: B, side: 'SELL', reduceOnly: true, price: 100n }), ctx);
    expect(flat.record).to.include({ status: 'REJECTED', reason: REASONS.REDUCE_ONLY_WOULD_INCREASE });
    ctx.setPosition(B, BTC, 5n);
    const inc = m.submit(ord({ account: B, side: 'BUY', reduceOnly: true, price: 100n }), ctx);
    expect(inc.record.reason).to.equal(REASONS.REDUCE_ONLY_WOULD_INCREASE);
  });

  it('is capped to |position| in the reducing direction', () => {
    const { m, ctx } = setup();
    ctx.setPosition(B, BTC, 5n);
    m.submit(ord({ account: A, side: 'BUY', price: 100n, size: 20n }), ctx);
    const r = m.submit(ord({ account: B, side: 'SELL', reduceOnly: true, price: 100n, size: 8n }), ctx);
    expect(r.fills.map((f) => f.size)).to.deep.equal([5n]);
    expect(r.record).to.include({ status: 'FILLED', filled: 5n });
    expect(ctx.positionOf(B, BTC)).to.equal(0n);
  });

  it('a resting reduce-only order is capped, and cancelled when reached after the position closed elsewhere', () => {
    const { m, ctx } = setup();
    ctx.setPosition(B, BTC, -3n); // short 3
    const ro = ord({ account: B, side: 'BUY', reduceOnly: true, price: 99n, size: 10n });
    expect(m.submit(ro, ctx).record).to.include({ status: 'OPEN', remaining: 3n });
    const plain = ord({ account: C, side: 'BUY', price: 99n, size: 2n });
    m.submit(plain, ctx);
    ctx.setPosition(B, BTC, 0n); // closed by some other trade
    const t = m.submit(ord({ account: A, side: 'SELL', price: 99n, size: 2n }), ctx);
    expect(fillSummary(t.fills)).to.deep.equal([[plain.hash, 2n, 99n]]);
    expect(m.getOrder(ro.hash)).to.equal(undefined);
    expect(m.takeDirty().find((d) => d.signed.hash === ro.hash)).to.include({ status: 'CANCELLED', reason: REASONS.REDUCE_ONLY });
  });

  it('a resting reduce-only maker fills at most its current position', () => {
    const { m, ctx } = setup();
    ctx.setPosition(B, BTC, 4n);
    const ro = ord({ account: B, side: 'SELL', reduceOnly: true, price: 100n, size: 4n });
    m.submit(ro, ctx);
    ctx.setPosition(B, BTC, 1n); // partly closed elsewhere
    const behind = ord({ account: C, side: 'SELL', price: 100n, size: 5n });
    m.submit(behind, ctx);
    const t = m.submit(ord({ account: A, side: 'BUY', price: 100n, size: 3n }), ctx);
    expect(fillSummary(t.fills)).to.deep.equal([
      [ro.hash, 1n, 100n],
      [behind.hash, 2n, 100n],
    ]);
    expect(ctx.positionOf(B, BTC)).to.equal(0n);
    expect(m.getOrder(ro.hash)).to.equal(undefined);
  });

  it('a reduce-only remainder does not rest once the position is gone', () => {
    const { m, ctx } = setup();
    ctx.setPosition(B, BTC, 3n);
    m.submit(ord({ account: A, side: 'BUY', price: 100n, size: 1n }), ctx);
    ctx.script = () => {
      ctx.setPosition(B, BTC, ctx.positionOf(B, BTC) - 2n); // closed elsewhere meanwhile
      return 'ok';
    };
    const r = m.submit(ord({ account: B, side: 'SELL', reduceOnly: true, price: 100n, size: 3n }), ctx);
    expect(r.record).to.include({ status: 'CANCELLED', reason: REASONS.REDUCE_ONLY, filled: 1n });
    expect(m.depth(BTC, 5).asks).to.deep.equal([]);
  });

  it('a taker reduce-only is re-checked between fills (capped, then stopped)', () => {
    const { m, ctx } = setup();
    ctx.setPosition(B, BTC, 4n);
    m.submit(ord({ account: A, side: 'BUY', price: 100n, size: 2n }), ctx);
    m.submit(ord({ account: C, side: 'BUY', price: 100n, size: 2n }), ctx);
    m.submit(ord({ account: C, side: 'BUY', price: 100n, size: 2n }), ctx);
    // the first settlement also moves B's position (as if a liquidation ran in the same tx batch)
    ctx.script = (_f, n) => {
      if (n === 0) ctx.setPosition(B, BTC, ctx.positionOf(B, BTC) - 1n);
      return 'ok';
    };
    const r = m.submit(ord({ account: B, side: 'SELL', reduceOnly: true, price: 100n, size: 4n }), ctx);
    expect(r.fills.map((f) => f.size)).to.deep.equal([2n, 1n]);
    expect(r.record).to.include({ status: 'CANCELLED', reason: REASONS.REDUCE_ONLY, filled: 3n });
    expect(ctx.positionOf(B, BTC)).to.equal(0n);
  });
});

describe('orderbook: stop and take-profit triggers', () => {
  // liquidity one tick either side of the firing mark (inside the MARKET band then)
  function book(m: Matcher, ctx: FakeChain, at: bigint) {
    m.submit(ord({ account: A, side: 'SELL', price: at + 1n, size: 10n }), ctx);
    m.submit(ord({ account: A, side: 'BUY', price: at - 1n, size: 10n }), ctx);
  }

  const cases: [type: 'STOP_MARKET' | 'TAKE_PROFIT_MARKET', side: 'BUY' | 'SELL', trigger: bigint, quiet: bigint, fire: bigint][] = [
    ['STOP_MARKET', 'BUY', 110n, 109n, 110n], // stop buy: mark >= trigger
    ['STOP_MARKET', 'SELL', 90n, 91n, 90n], // stop sell: mark <= trigger
    ['TAKE_PROFIT_MARKET', 'BUY', 90n, 91n, 90n], // take-profit buy: mark <= trigger
    ['TAKE_PROFIT_MARKET', 'SELL', 110n, 109n, 110n], // take-profit sell: mark >= trigger
  ];
  for (const [type, side, trigger, quiet, fire] of cases) {
    it(`${type} ${side} @${trigger}: waits at mark ${quiet}, fires at mark ${fire}`, () => {
      const { m, ctx } = setup();
      book(m, ctx, fire);
      const o = ord({ account: B, side, orderType: type, triggerPrice: trigger, price: side === 'BUY' ? 1_000n : 0n, size: 2n });
      const r = m.submit(o, ctx);
      expect(r.record.status).to.equal('UNTRIGGERED');
      ctx.marks.set(BTC, quiet);
      expect(m.onMarkPrice(BTC, ctx)).to.deep.equal([]);
      expect(m.getOrder(o.hash)?.status).to.equal('UNTRIGGERED');
      // the opposite direction never fires it
      ctx.marks.set(BTC, side === 'BUY' === (type === 'STOP_MARKET') ? 50n : 150n);
      expect(m.onMarkPrice(BTC, ctx)).to.deep.equal([]);
      ctx.marks.set(BTC, fire);
      const fills = m.onMarkPrice(BTC, ctx);
      expect(fills.map((f) => [f.taker.hash, f.size, f.price])).to.deep.equal([[o.hash, 2n, side === 'BUY' ? fire + 1n : fire - 1n]]);
      expect(m.getOrder(o.hash)).to.equal(undefined);
    });
  }

  it('a triggered STOP_LIMIT enters with time priority = trigger time', () => {
    const { m, ctx } = setup();
    const stop = ord({ account: B, side: 'SELL', orderType: 'STOP_LIMIT', triggerPrice: 95n, price: 101n, size: 1n });
    m.submit(stop, ctx);
    const later = ord({ account: C, side: 'SELL', price: 101n, size: 1n });
    m.submit(later, ctx);
    ctx.marks.set(BTC, 95n);
    expect(m.onMarkPrice(BTC, ctx)).to.deep.equal([]); // rests, nothing to take
    const rec = m.getOrder(stop.hash)!;
    expect(rec.status).to.equal('OPEN');
    expect(rec.seq > m.getOrder(later.hash)!.seq).to.equal(true);
    const t = m.submit(ord({ account: A, side: 'BUY', price: 101n, size: 1n }), ctx);
    expect(t.fills[0]!.maker.hash).to.equal(later.hash);
  });

  it('fires oldest first when several trigger at once; a condition already met at submit fires at once', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'SELL', price: 101n, size: 1n }), ctx);
    m.submit(ord({ account: A, side: 'SELL', price: 102n, size: 1n }), ctx);
    const s1 = ord({ account: B, side: 'BUY', orderType: 'STOP_MARKET', triggerPrice: 104n, price: 1_000n, size: 1n });
    const s2 = ord({ account: C, side: 'BUY', orderType: 'STOP_MARKET', triggerPrice: 103n, price: 1_000n, size: 1n });
    m.submit(s1, ctx);
    m.submit(s2, ctx);
    ctx.marks.set(BTC, 104n);
    const fills = m.onMarkPrice(BTC, ctx);
    expect(fills.map((f) => [f.taker.hash, f.price])).to.deep.equal([
      [s1.hash, 101n],
      [s2.hash, 102n],
    ]);
    m.submit(ord({ account: A, side: 'SELL', price: 103n, size: 1n }), ctx);
    const now = m.submit(ord({ account: B, side: 'BUY', orderType: 'STOP_MARKET', triggerPrice: 100n, price: 1_000n, size: 1n }), ctx);
    expect(now.fills.map((f) => f.price)).to.deep.equal([103n]);
    expect(now.record.status).to.equal('FILLED');
  });

  it('a triggered reduce-only order with no position left is cancelled', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'BUY', price: 88n, size: 10n }), ctx);
    const sl = ord({ account: B, side: 'SELL', orderType: 'STOP_MARKET', triggerPrice: 90n, price: 0n, reduceOnly: true, size: 2n });
    expect(m.submit(sl, ctx).record.status).to.equal('UNTRIGGERED'); // not checked until it fires
    ctx.marks.set(BTC, 90n);
    expect(m.onMarkPrice(BTC, ctx)).to.deep.equal([]);
    expect(m.takeDirty().find((d) => d.signed.hash === sl.hash)).to.include({
      status: 'CANCELLED',
      reason: REASONS.REDUCE_ONLY_WOULD_INCREASE,
    });
  });

  it('rejects a conditional order without a trigger price', () => {
    const { m, ctx } = setup();
    const r = m.submit(ord({ account: B, side: 'SELL', orderType: 'STOP_MARKET', triggerPrice: 0n, price: 0n }), ctx);
    expect(r.record).to.include({ status: 'REJECTED', reason: REASONS.INVALID_TRIGGER });
  });
});

describe('orderbook: expiry', () => {
  it('rejects orders expired on entry (expiry <= now)', () => {
    const { m, ctx } = setup();
    const r = m.submit(ord({ account: A, side: 'BUY', expiry: ctx.now }), ctx);
    expect(r.record).to.include({ status: 'REJECTED', reason: REASONS.EXPIRED });
    expect(m.submit(ord({ account: A, side: 'BUY', expiry: ctx.now + 1n }), ctx).record.status).to.equal('OPEN');
  });

  it('expire() removes resting and untriggered orders at expiry, in seq order', () => {
    const { m, ctx } = setup();
    const a = ord({ account: A, side: 'BUY', price: 90n, expiry: 1_020n });
    const b = ord({ account: A, side: 'SELL', orderType: 'STOP_MARKET', triggerPrice: 80n, price: 0n, expiry: 1_010n });
    const c = ord({ account: B, side: 'SELL', price: 110n, expiry: 1_030n });
    [a, b, c].forEach((o) => m.submit(o, ctx));
    ctx.now = 1_009n;
    expect(m.expire(ctx)).to.deep.equal([]);
    ctx.now = 1_020n;
    const ex = m.expire(ctx);
    expect(ex.map((r) => [r.signed.hash, r.status])).to.deep.equal([
      [a.hash, 'EXPIRED'],
      [b.hash, 'EXPIRED'],
    ]);
    expect(m.ordersOf(A)).to.deep.equal([]);
    expect(m.depth(BTC, 5)).to.deep.equal({ bids: [], asks: [[110n, 1n]] });
  });

  it('an expired maker met while matching is expired and skipped', () => {
    const { m, ctx } = setup();
    const old = ord({ account: A, side: 'SELL', price: 100n, expiry: 1_005n });
    const fresh = ord({ account: C, side: 'SELL', price: 101n });
    m.submit(old, ctx);
    m.submit(fresh, ctx);
    ctx.now = 1_005n;
    const r = m.submit(ord({ account: B, side: 'BUY', price: 101n }), ctx);
    expect(fillSummary(r.fills)).to.deep.equal([[fresh.hash, 1n, 101n]]);
    expect(m.takeDirty().find((d) => d.signed.hash === old.hash)).to.include({ status: 'EXPIRED' });
  });

  it('a POST_ONLY order may rest over an expired order, which is removed', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'SELL', price: 100n, expiry: 1_005n }), ctx);
    ctx.now = 1_005n;
    const r = m.submit(ord({ account: B, side: 'BUY', price: 100n, timeInForce: 'POST_ONLY' }), ctx);
    expect(r.record.status).to.equal('OPEN');
    expect(m.depth(BTC, 5)).to.deep.equal({ bids: [[100n, 1n]], asks: [] });
  });
});

describe('orderbook: settlement failures', () => {
  it('maker_failed cancels that maker and continues with the next one', () => {
    const { m, ctx } = setup();
    const bad = ord({ account: A, side: 'SELL', price: 100n, size: 1n });
    const good = ord({ account: C, side: 'SELL', price: 100n, size: 1n });
    m.submit(bad, ctx);
    m.submit(good, ctx);
    ctx.script = (f) => (f.maker.hash === bad.hash ? 'maker_failed' : 'ok');
    const r = m.submit(ord({ account: B, side: 'BUY', price: 100n, size: 1n }), ctx);
    expect(fillSummary(r.fills)).to.deep.equal([[good.hash, 1n, 100n]]);
    expect(r.record.status).to.equal('FILLED');
    expect(m.takeDirty().find((d) => d.signed.hash === bad.hash)).to.include({ status: 'CANCELLED', reason: REASONS.SETTLE_FAILED });
  });

  it('taker_failed stops and cancels the taker remainder; makers stay', () => {
    const { m, ctx } = setup();
    const mk1 = ord({ account: A, side: 'SELL', price: 100n, size: 1n });
    const mk2 = ord({ account: C, side: 'SELL', price: 100n, size: 1n });
    m.submit(mk1, ctx);
    m.submit(mk2, ctx);
    ctx.script = (_f, n) => (n === 1 ? 'taker_failed' : 'ok');
    const r = m.submit(ord({ account: B, side: 'BUY', price: 100n, size: 2n }), ctx);
    expect(fillSummary(r.fills)).to.deep.equal([[mk1.hash, 1n, 100n]]);
    expect(r.record).to.include({ status: 'CANCELLED', reason: REASONS.SETTLE_FAILED, filled: 1n });
    expect(m.getOrder(mk2.hash)).to.include({ status: 'OPEN', remaining: 1n });
    expect(m.depth(BTC, 5).bids).to.deep.equal([]);
  });

  it('settle throwing cancels the taker (settle_error) and rethrows; the book stays consistent', () => {
    const { m, ctx } = setup();
    const mk = ord({ account: A, side: 'SELL', price: 100n, size: 1n });
    m.submit(mk, ctx);
    const t = ord({ account: B, side: 'BUY', price: 100n, size: 1n });
    ctx.script = () => {
      throw new Error('boom');
    };
    expect(() => m.submit(t, ctx)).to.throw('boom');
    expect(m.getOrder(t.hash)).to.equal(undefined);
    expect(m.getOrder(mk.hash)?.status).to.equal('OPEN');
  });
});

describe('orderbook: cancels', () => {
  function populate() {
    const { m, ctx } = setup();
    const o = {
      a1: ord({ account: A, side: 'BUY', price: 90n }),
      a2: ord({ account: A, side: 'SELL', price: 110n, market: BTC }),
      aEth: ord({ account: A, side: 'BUY', price: 900n, market: ETH, size: 10n }),
      aSl: ord({ account: A, side: 'SELL', orderType: 'STOP_MARKET', triggerPrice: 80n, price: 0n }),
      aTp: ord({ account: A, side: 'SELL', orderType: 'TAKE_PROFIT_LIMIT', triggerPrice: 120n, price: 119n }),
      b1: ord({ account: B, side: 'BUY', price: 91n }),
      bSl: ord({ account: B, side: 'BUY', orderType: 'STOP_LIMIT', triggerPrice: 130n, price: 131n }),
    };
    for (const s of Object.values(o)) expect(m.submit(s, ctx).record.status).to.not.equal('REJECTED');
    return { m, ctx, o };
  }

  it('cancel by hash; unknown or closed gives undefined', () => {
    const { m, o } = populate();
    expect(m.cancel(o.a1.hash, 'user')).to.include({ status: 'CANCELLED', reason: 'user' });
    expect(m.cancel(o.a1.hash)).to.equal(undefined);
    expect(m.cancel(12345n)).to.equal(undefined);
    expect(m.depth(BTC, 5).bids).to.deep.equal([[91n, 1n]]);
  });

  it('cancelAll by market and ALL (TP/SL included: the rollback keeps those, in maintenance.ts)', () => {
    const { m, o } = populate();
    const btc = m.cancelAll(A, BTC);
    expect(btc.map((r) => r.signed.hash)).to.deep.equal([o.a1.hash, o.a2.hash, o.aSl.hash, o.aTp.hash]);
    expect(m.ordersOf(A).map((r) => r.signed.hash)).to.deep.equal([o.aEth.hash]);
    const all = m.cancelAll(A, 'ALL');
    expect(all.map((r) => r.signed.hash)).to.deep.equal([o.aEth.hash]);
    expect(m.ordersOf(A)).to.deep.equal([]);
    expect(m.ordersOf(B)).to.have.length(2);
  });
});

describe('orderbook: validation, duplicates, maintenance mode', () => {
  it('checks market, tick, step and minimum size', () => {
    const { m, ctx } = setup();
    const r = (p: Parameters<typeof ord>[0]) => m.submit(ord(p), ctx).record.reason;
    expect(r({ account: A, side: 'BUY', market: 'DOGE-USD-PERP' })).to.equal(REASONS.UNKNOWN_MARKET);
    expect(r({ account: A, side: 'BUY', market: ETH, price: 1005n, size: 10n })).to.equal(REASONS.INVALID_PRICE);
    expect(r({ account: A, side: 'BUY', market: ETH, price: 1000n, size: 12n })).to.equal(REASONS.INVALID_SIZE);
    expect(r({ account: A, side: 'BUY', market: ETH, price: 1000n, size: 5n })).to.equal(REASONS.INVALID_SIZE);
    expect(r({ account: A, side: 'BUY', size: 0n })).to.equal(REASONS.INVALID_SIZE);
    expect(r({ account: A, side: 'BUY', price: 0n })).to.equal(REASONS.INVALID_PRICE);
    expect(r({ account: A, side: 'UP' as 'BUY' })).to.equal(REASONS.INVALID_ORDER);
    expect(r({ account: A, side: 'BUY', market: ETH, price: 1000n, size: 15n })).to.equal(undefined);
    expect(m.takeDirty()).to.have.length(1); // rejections are never dirty
  });

  it('rejects a duplicate hash while open and after it closed (until expiry)', () => {
    const { m, ctx } = setup();
    const o = ord({ account: A, side: 'BUY', price: 90n, expiry: 1_050n });
    m.submit(o, ctx);
    expect(m.submit(o, ctx).record.reason).to.equal(REASONS.DUPLICATE);
    m.cancel(o.hash);
    expect(m.submit(o, ctx).record.reason).to.equal(REASONS.DUPLICATE);
    expect(m.isKnown(o.hash)).to.equal(true);
    ctx.now = 1_050n;
    m.expire(ctx);
    expect(m.isKnown(o.hash)).to.equal(false);
    expect(m.submit(o, ctx).record.reason).to.equal(REASONS.EXPIRED);
    // the cancelled record was persisted once; no later rejection overwrote it
    expect(m.takeDirty().map((d) => d.status)).to.deep.equal(['CANCELLED']);
  });

  it('POST_ONLY maintenance mode: nothing takes, prices inside the band, triggers held', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'SELL', price: 101n }), ctx);
    const stop = ord({ account: B, side: 'BUY', orderType: 'STOP_MARKET', triggerPrice: 102n, price: 1_000n });
    m.submit(stop, ctx);
    ctx.postOnly.set(BTC, { min: 95n, max: 105n });
    const reason = (p: Parameters<typeof ord>[0]) => m.submit(ord(p), ctx).record.reason;
    expect(reason({ account: B, side: 'BUY', price: 101n })).to.equal(REASONS.POST_ONLY_WOULD_CROSS);
    expect(reason({ account: B, side: 'BUY', price: 94n })).to.equal(REASONS.OUTSIDE_POST_ONLY_BAND);
    expect(reason({ account: B, side: 'BUY', price: 99n, timeInForce: 'IOC' })).to.equal(REASONS.POST_ONLY_MODE);
    expect(reason({ account: B, side: 'BUY', orderType: 'MARKET', price: 200n })).to.equal(REASONS.POST_ONLY_MODE);
    expect(m.submit(ord({ account: B, side: 'BUY', price: 100n }), ctx).record.status).to.equal('OPEN');
    ctx.marks.set(BTC, 103n);
    expect(m.onMarkPrice(BTC, ctx)).to.deep.equal([]);
    expect(m.getOrder(stop.hash)?.status).to.equal('UNTRIGGERED');
    ctx.postOnly.delete(BTC);
    expect(m.onMarkPrice(BTC, ctx).map((f) => f.price)).to.deep.equal([101n]);
  });
});

describe('orderbook: persistence', () => {
  it('takeDirty returns each changed record once, closed ones with their final status', () => {
    const { m, ctx } = setup();
    const mk = ord({ account: A, side: 'SELL', price: 100n, size: 3n });
    m.submit(mk, ctx);
    const t = ord({ account: B, side: 'BUY', price: 100n, size: 1n });
    m.submit(t, ctx);
    const d1 = m.takeDirty();
    expect(d1.map((r) => [r.signed.hash, r.status])).to.deep.equal([
      [mk.hash, 'PARTIALLY_FILLED'],
      [t.hash, 'FILLED'],
    ]);
    expect(m.takeDirty()).to.deep.equal([]);
    m.cancel(mk.hash);
    expect(m.takeDirty().map((r) => [r.signed.hash, r.status, r.remaining])).to.deep.equal([[mk.hash, 'CANCELLED', 2n]]);
  });

  it('records survive JSON (0x-hex bigints) exactly; bad JSON throws', () => {
    const { m, ctx } = setup();
    const o = ord({ account: A, side: 'SELL', orderType: 'STOP_LIMIT', triggerPrice: 95n, price: 96n, reduceOnly: true, salt: 2n ** 200n });
    const rec = m.submit(o, ctx).record;
    const j = JSON.parse(JSON.stringify(recordToJson(rec)));
    expect(j.order.salt).to.equal('0x' + (2n ** 200n).toString(16));
    expect(recordFromJson(j)).to.deep.equal(rec);
    expect(() => recordFromJson({ ...j, seq: 12 })).to.throw(/seq/);
    expect(() => recordFromJson({ ...j, status: 'WEIRD' })).to.throw(/status/);
    expect(() => recordFromJson({ ...j, order: { ...j.order, side: 'LONG' } })).to.throw(/side/);
  });

  it('restore rebuilds books in time priority from records in any order and behaves identically', () => {
    const { m, ctx } = setup();
    const orders = [
      ord({ account: A, side: 'SELL', price: 101n, size: 2n }),
      ord({ account: B, side: 'SELL', price: 100n, size: 2n }),
      ord({ account: C, side: 'SELL', price: 100n, size: 2n }),
      ord({ account: A, side: 'BUY', price: 98n, size: 2n }),
      ord({ account: B, side: 'SELL', orderType: 'STOP_MARKET', triggerPrice: 97n, price: 0n, size: 1n }),
      ord({ account: C, side: 'BUY', price: 100n, size: 1n }), // fills 1 of B's 100 ask
    ];
    for (const o of orders) m.submit(o, ctx);
    const store = new Map<bigint, unknown>();
    for (const r of m.takeDirty()) store.set(r.signed.hash, recordToJson(r));
    const persisted = [...store.values()].reverse().map(recordFromJson);
    const r2 = Matcher.restore(MARKETS, persisted, m.nextSeq);
    const ctx2 = ctx.clone();
    expect(r2.openOrders()).to.deep.equal(m.openOrders());
    expect(r2.depth(BTC, 10)).to.deep.equal(m.depth(BTC, 10));
    const next = [
      ord({ account: C, side: 'BUY', price: 101n, size: 4n }),
      ord({ account: orders[1]!.order.account, side: 'SELL', price: 100n, size: 1n }, orders[1]!.hash), // duplicate
      ord({ account: C, side: 'SELL', price: 98n, size: 1n }),
    ];
    const run = (mm: Matcher, cc: FakeChain) => {
      const out: unknown[] = [];
      for (const o of next) out.push(mm.submit(o, cc));
      cc.marks.set(BTC, 97n);
      out.push(mm.onMarkPrice(BTC, cc));
      out.push(mm.takeDirty(), mm.openOrders(), mm.nextSeq);
      return out;
    };
    expect(run(r2, ctx2)).to.deep.equal(run(m, ctx));
  });

  it('market specs are checked', () => {
    expect(() => new Matcher([{ symbol: 'ALL', tickSize: 1n, stepSize: 1n, minSize: 1n }])).to.throw(/reserved/);
    expect(() => new Matcher([{ symbol: BTC, tickSize: 0n, stepSize: 1n, minSize: 1n }])).to.throw(/tickSize/);
    expect(() => new Matcher([MARKETS[0]!, MARKETS[0]!])).to.throw(/duplicate market/);
  });

  it('restore refuses inconsistent input', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'SELL', price: 101n }), ctx);
    const recs = m.takeDirty();
    expect(() => Matcher.restore(MARKETS, recs, 0n)).to.throw(/nextSeq/);
    expect(() => Matcher.restore(MARKETS, [...recs, ...recs], m.nextSeq)).to.throw(/duplicate/);
    expect(() => Matcher.restore([MARKETS[1]!], recs, m.nextSeq)).to.throw(/unknown market/);
  });
});

// Type-level check that records are plain data (no class instances leak out).
const _r: OrderRecord | undefined = undefined;
void _r;

describe('orderbook: issue 11 order rules', () => {
  it('a cancel signed by another account leaves the order in the book (cancelOwnerOk)', () => {
    const { m, ctx } = setup();
    const a = ord({ account: A, side: 'SELL', price: 101n, size: 2n });
    m.submit(a, ctx);
    expect(m.cancel(a.hash, REASONS.CANCELLED, B)).to.equal(undefined);
    expect(m.getOrder(a.hash)?.status).to.equal('OPEN');
    expect(m.cancelAll(B, 'ALL')).to.deep.equal([]);
    expect(m.getOrder(a.hash)?.status).to.equal('OPEN');
    expect(m.cancel(a.hash, REASONS.CANCELLED, A)?.status).to.equal('CANCELLED');
  });

  it('FOK is atomic across makers: a maker the dry run refuses is dropped before anything settles, and a short plan kills the FOK', () => {
    const { m, ctx } = setup();
    const bad = ord({ account: A, side: 'SELL', price: 100n, size: 1n });
    const good = ord({ account: C, side: 'SELL', price: 100n, size: 1n });
    m.submit(bad, ctx);
    m.submit(good, ctx);
    const tried: Fill[][] = [];
    const dry = Object.assign(ctx, {
      trySettle: (fs: Fill[]) => {
        tried.push(fs);
        const i = fs.findIndex((f) => f.maker.hash === bad.hash);
        return i >= 0 ? { index: i, party: 'maker' as const } : ('ok' as const);
      },
    });
    const r = m.submit(ord({ account: B, side: 'BUY', price: 100n, size: 2n, timeInForce: 'FOK' }), dry);
    expect(r.record.status).to.equal('CANCELLED');
    expect(r.record.reason).to.equal(REASONS.FOK_NOT_FILLABLE);
    expect(ctx.calls).to.have.length(0); // nothing settled
    expect(tried.map((fs) => fs.map((f) => f.maker.hash))).to.deep.equal([[bad.hash, good.hash]]);
    expect(m.getOrder(bad.hash)).to.equal(undefined);
    expect(m.getOrder(good.hash)?.remaining).to.equal(1n);
    // With enough good makers the proven plan settles, one fill per maker.
    m.submit(ord({ account: C, side: 'SELL', price: 100n, size: 1n }), ctx);
    const ok = m.submit(ord({ account: B, side: 'BUY', price: 100n, size: 2n, timeInForce: 'FOK' }), dry);
    expect(ok.record.status).to.equal('FILLED');
    expect(ok.fills.map((f) => f.size)).to.deep.equal([1n, 1n]);
  });

  it('a taker the dry run refuses kills the FOK with no fill', () => {
    const { m, ctx } = setup();
    m.submit(ord({ account: A, side: 'SELL', price: 100n, size: 1n }), ctx);
    m.submit(ord({ account: C, side: 'SELL', price: 100n, size: 1n }), ctx);
    const dry = Object.assign(ctx, { trySettle: () => ({ index: 1, party: 'taker' as const }) });
    const r = m.submit(ord({ account: B, side: 'BUY', price: 100n, size: 2n, timeInForce: 'FOK' }), dry);
    expect([r.record.status, r.record.reason]).to.deep.equal(['CANCELLED', REASONS.SETTLE_FAILED]);
    expect(ctx.calls).to.have.length(0);
    expect(m.depth(BTC, 5).asks).to.deep.equal([[100n, 2n]]);
  });

  it('a conditional order that fires at submit is reported to onTrigger before it enters; a refused trigger cancels it', () => {
    const { m, ctx } = setup();
    const fired: bigint[] = [];
    const c1 = Object.assign(ctx, { onTrigger: (s: { hash: bigint }) => (fired.push(s.hash), true) });
    const stop = ord({ account: A, side: 'BUY', orderType: 'STOP_LIMIT', triggerPrice: 90n, price: 95n });
    expect(m.submit(stop, c1).record.status).to.equal('OPEN'); // mark 100 >= 90: fired, rests at 95
    expect(fired).to.deep.equal([stop.hash]);
    const c2 = Object.assign(ctx, { onTrigger: () => false });
    const r = m.submit(ord({ account: A, side: 'BUY', orderType: 'STOP_LIMIT', triggerPrice: 90n, price: 95n }), c2);
    expect([r.record.status, r.record.reason]).to.deep.equal(['CANCELLED', REASONS.TRIGGER_FAILED]);
  });

  it('a reduce-only FOK larger than the position fills exactly the position, at once', () => {
    const { m, ctx } = setup();
    ctx.setPosition(B, BTC, 2n);
    m.submit(ord({ account: A, side: 'BUY', price: 100n, size: 5n }), ctx);
    const r = m.submit(ord({ account: B, side: 'SELL', price: 100n, size: 4n, timeInForce: 'FOK', reduceOnly: true }), ctx);
    expect(r.record.status).to.equal('FILLED');
    expect(r.fills.map((f) => f.size)).to.deep.equal([2n]);
    expect(ctx.positionOf(B, BTC)).to.equal(0n);
  });
});
