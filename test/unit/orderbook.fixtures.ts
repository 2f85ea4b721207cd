/** Shared fixtures of the orderbook tests: a fake chain behind MatchContext and an order builder. */
import type { Order, SignedOrder } from '../../contracts-ts/exchange/order.ts';
import type { Fill, MarketSpec, MatchContext } from '../../node/sequencer/orderbook/index.ts';

export const BTC = 'BTC-USD-PERP';
export const ETH = 'ETH-USD-PERP';

export const MARKETS: MarketSpec[] = [
  { symbol: BTC, tickSize: 1n, stepSize: 1n, minSize: 1n },
  { symbol: ETH, tickSize: 10n, stepSize: 5n, minSize: 10n },
];

type SettleResult = ReturnType<MatchContext['settle']>;

/**
 * A chain stand-in: positions move on every 'ok' settlement (so reduce-only re-checks see them),
 * `script` can make a settlement fail, and every settle call is logged.
 */
export class FakeChain implements MatchContext {
  now = 1_000n;
  marks = new Map<string, bigint>();
  bandBps = 500n; // 5 %
  positions = new Map<string, bigint>();
  postOnly = new Map<string, { min: bigint; max: bigint }>();
  script: ((f: Fill, n: number) => SettleResult) | undefined;
  calls: Fill[] = [];
  settled: Fill[] = [];

  markPrice(market: string): bigint | undefined {
    return this.marks.get(market);
  }
  priceBandBps(_market: string): bigint {
    return this.bandBps;
  }
  positionOf(account: bigint, market: string): bigint {
    return this.positions.get(`${account}:${market}`) ?? 0n;
  }
  setPosition(account: bigint, market: string, size: bigint): void {
    this.positions.set(`${account}:${market}`, size);
  }
  settle(fill: Fill): SettleResult {
    this.calls.push(fill);
    const r = this.script ? this.script(fill, this.calls.length - 1) : 'ok';
    if (r === 'ok') {
      const buyer = fill.taker.order.side === 'BUY' ? fill.taker : fill.maker;
      const seller = fill.taker.order.side === 'BUY' ? fill.maker : fill.taker;
      this.setPosition(buyer.order.account, fill.market, this.positionOf(buyer.order.account, fill.market) + fill.size);
      this.setPosition(seller.order.account, fill.market, this.positionOf(seller.order.account, fill.market) - fill.size);
      this.settled.push(fill);
    }
    return r;
  }
  postOnlyBand(market: string): { min: bigint; max: bigint } | undefined {
    return this.postOnly.get(market);
  }
  clone(): FakeChain {
    const c = new FakeChain();
    c.now = this.now;
    c.marks = new Map(this.marks);
    c.bandBps = this.bandBps;
    c.positions = new Map(this.positions);
    c.postOnly = new Map(this.postOnly);
    c.script = this.script;
    return c;
  }
}

let hashCounter = 1n;

/** Builds a SignedOrder (hash unique unless given, dummy signature). */
export function ord(p: Partial<Order> & Pick<Order, 'account' | 'side'>, hash?: bigint): SignedOrder {
  const order: Order = {
    market: BTC,
    orderType: 'LIMIT',
    timeInForce: 'GTC',
    size: 1n,
    price: 100n,
    triggerPrice: 0n,
    reduceOnly: false,
    expiry: 10_000n,
    salt: 0n,
    ...p,
  };
  return { order, hash: hash ?? 0x1000_0000n + hashCounter++, signature: [1n, 2n] };
}
