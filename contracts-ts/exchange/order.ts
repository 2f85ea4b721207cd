/**
 * The wallet-facing Order (SNIP-12 revision 1 typed data, primary type "Order"). The field
 * names and enum spellings are a public contract with wallets: do not rename.
 * Sizes and prices are integers in 1e-8 units; expiry is in seconds.
 */
export const SIDES = ['BUY', 'SELL'] as const;
export const ORDER_TYPES = ['LIMIT', 'MARKET', 'STOP_MARKET', 'STOP_LIMIT', 'TAKE_PROFIT_MARKET', 'TAKE_PROFIT_LIMIT'] as const;
export const TIME_IN_FORCE = ['GTC', 'IOC', 'FOK', 'POST_ONLY'] as const;

export type Side = (typeof SIDES)[number];
export type OrderType = (typeof ORDER_TYPES)[number];
export type TimeInForce = (typeof TIME_IN_FORCE)[number];

export interface Order {
  account: bigint;
  market: string;
  side: Side;
  orderType: OrderType;
  timeInForce: TimeInForce;
  size: bigint;
  price: bigint;
  triggerPrice: bigint;
  reduceOnly: boolean;
  expiry: bigint;
  salt: bigint;
}

/** An order with its hash (the SNIP-12 message hash) and the wallet's signature [r, s]. */
export interface SignedOrder {
  order: Order;
  hash: bigint;
  signature: [bigint, bigint];
}

export function isConditional(t: OrderType): boolean {
  return t !== 'LIMIT' && t !== 'MARKET';
}

/** Take-profit and stop-loss orders survive an incident rollback's mass cancel. */
export function isTpSl(t: OrderType): boolean {
  return t === 'STOP_MARKET' || t === 'STOP_LIMIT' || t === 'TAKE_PROFIT_MARKET' || t === 'TAKE_PROFIT_LIMIT';
}

// ---- order rules shared by the contracts and the sequencer's matcher (each written once) ----------

/** MARKET, STOP_MARKET and TAKE_PROFIT_MARKET: the price is a worst-price bound (0 allowed); they never rest. */
export function isMarketKind(t: OrderType): boolean {
  return t === 'MARKET' || t === 'STOP_MARKET' || t === 'TAKE_PROFIT_MARKET';
}

/**
 * Which way the mark must move to trigger a conditional order:
 * stop BUY / take-profit SELL fire when mark >= trigger ("up");
 * stop SELL / take-profit BUY fire when mark <= trigger ("down").
 */
export function triggerDirection(o: Pick<Order, 'orderType' | 'side'>): 'up' | 'down' {
  const stop = o.orderType === 'STOP_MARKET' || o.orderType === 'STOP_LIMIT';
  return (o.side === 'BUY') === stop ? 'up' : 'down';
}

/** True when the mark price satisfies this conditional order's trigger. */
export function isTriggered(o: Pick<Order, 'orderType' | 'side' | 'triggerPrice'>, mark: bigint): boolean {
  return triggerDirection(o) === 'up' ? mark >= o.triggerPrice : mark <= o.triggerPrice;
}

/** How much an order on `side` may fill while only reducing the signed position `pos`. */
export function reducible(side: Side, pos: bigint): bigint {
  if (side === 'BUY') return pos < 0n ? -pos : 0n;
  return pos > 0n ? pos : 0n;
}

/**
 * Cancel ownership: a cancel acts only on orders of its signer. `owner` is the account the
 * order belongs to (0 when nobody knows it: an order the node has never seen, whose cancel then
 * only marks the signer's own storage). The chain keeps no owner index (an order's state lives in
 * its owner's account, so a CANCEL can only ever mark its signer's storage); the sequencer refuses
 * another account's order NOT_OWNER through this rule, from its order table, and the matcher
 * leaves another account's order in the book.
 */
export function cancelOwnerOk(owner: bigint, signer: bigint): boolean {
  return owner === 0n || owner === signer;
}

/** |price - mark| <= mark x bps / 1e4, compared exactly (no rounding): the MARKET and POST_ONLY bands. */
export function withinBand(price: bigint, mark: bigint, bps: bigint): boolean {
  const d = price - mark;
  return (d < 0n ? -d : d) * 10_000n <= mark * bps;
}

/**
 * Only a GTC or POST_ONLY order of a limit kind rests on the book: the only kind of order that
 * may be a TRADE's (or a VAULT_UNWIND's) maker, and the only kind POST_ONLY mode accepts.
 */
export function canRest(o: Pick<Order, 'orderType' | 'timeInForce'>): boolean {
  return !isMarketKind(o.orderType) && (o.timeInForce === 'GTC' || o.timeInForce === 'POST_ONLY');
}

/** What is wrong with an order's shape for its market (the first fault in this order), if anything. */
export type OrderShapeFault = 'SIZE' | 'STEP' | 'MIN_SIZE' | 'NEGATIVE_PRICE' | 'MARKET_POST_ONLY' | 'PRICE' | 'TICK' | 'TRIGGER' | 'NEGATIVE_TRIGGER';

/**
 * The static order rules, for the contracts (checkOrderStatic) and the matcher alike: a positive
 * size on the step, at least the minimum; a market kind's price is a worst-price bound (>= 0) and
 * it cannot be POST_ONLY; a limit kind's price is positive and on the tick; a conditional order
 * has a positive trigger (others a trigger >= 0). Negative values never come out of the codec
 * (u128): those two checks are for in-process callers.
 */
export function orderShapeFault(o: Order, spec: { tickSize: bigint; stepSize: bigint; minSize: bigint }): OrderShapeFault | undefined {
  if (o.size <= 0n) return 'SIZE';
  if (o.size % spec.stepSize !== 0n) return 'STEP';
  if (o.size < spec.minSize) return 'MIN_SIZE';
  if (isMarketKind(o.orderType)) {
    if (o.price < 0n) return 'NEGATIVE_PRICE';
    if (o.timeInForce === 'POST_ONLY') return 'MARKET_POST_ONLY';
  } else {
    if (o.price <= 0n) return 'PRICE';
    if (o.price % spec.tickSize !== 0n) return 'TICK';
  }
  if (isConditional(o.orderType)) {
    if (o.triggerPrice <= 0n) return 'TRIGGER';
  } else if (o.triggerPrice < 0n) return 'NEGATIVE_TRIGGER';
  return undefined;
}
