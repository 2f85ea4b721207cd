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
