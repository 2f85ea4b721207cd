/**
 * Types of the sequencer's order book and matcher. The book is NOT Merkle state: it only decides
 * which fills the sequencer proposes; the TRADE transition re-checks every fill on-chain.
 */
import type { SignedOrder } from '../../../contracts-ts/exchange/order.ts';

/** Everything the matcher needs from the node. No clock of its own: `now` is the block clock. */
export interface MatchContext {
  /** Seconds (block clock). An order with `expiry <= now` is expired. */
  now: bigint;
  /** Mark price in 1e-8 units, or undefined when the market has none yet. */
  markPrice(market: string): bigint | undefined;
  /** MARKET orders (and triggered *_MARKET orders) may not fill beyond mark ± mark·band/10000. */
  priceBandBps(market: string): bigint;
  /**
   * Signed position size (1e-8) of an account in a market, for reduce-only. Must reflect every
   * fill `settle` has accepted so far (the node settles synchronously, so it does).
   */
  positionOf(account: bigint, market: string): bigint;
  /** Settles one fill on-chain (a TRADE tx executed now). Says which side failed if it reverted. */
  settle(fill: Fill): 'ok' | 'maker_failed' | 'taker_failed';
  /**
   * Optional dry run for fill-or-kill: would these fills, settled in this order, all succeed?
   * Changes nothing. Says which fill and which side would fail first.
   */
  trySettle?(fills: Fill[]): 'ok' | { index: number; party: 'maker' | 'taker' };
  /**
   * Optional: records that a conditional order fired (on chain). Called when it triggers, before
   * it enters the book; false cancels it (`trigger_failed`).
   */
  onTrigger?(signed: SignedOrder): boolean;
  /**
   * Maintenance POST_ONLY mode: when this returns a band, the market takes no liquidity at all
   * (every order must rest, with its price inside [min, max]) and conditional orders do not trigger.
   */
  postOnlyBand?(market: string): { min: bigint; max: bigint } | undefined;
}

/** One proposed trade: the maker's resting order against the incoming (taker) order. */
export interface Fill {
  market: string;
  maker: SignedOrder;
  taker: SignedOrder;
  /** 1e-8 units, > 0. */
  size: bigint;
  /** Always the maker's limit price (1e-8 units). */
  price: bigint;
}

export type OrderStatus = 'OPEN' | 'UNTRIGGERED' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELLED' | 'EXPIRED' | 'REJECTED';

/** Statuses of orders the matcher still holds (in a book or waiting for a trigger). */
export const OPEN_STATUSES: readonly OrderStatus[] = ['OPEN', 'UNTRIGGERED', 'PARTIALLY_FILLED'];
export function isOpenStatus(s: OrderStatus): boolean {
  return s === 'OPEN' || s === 'UNTRIGGERED' || s === 'PARTIALLY_FILLED';
}

export interface OrderRecord {
  signed: SignedOrder;
  /**
   * Time priority: a global counter, one per `submit` call; a conditional order gets a new one
   * when it triggers (its priority is its trigger time).
   */
  seq: bigint;
  /**
   * What may still fill. Normally `size - filled`; less for a reduce-only order capped to the
   * position it reduces.
   */
  remaining: bigint;
  filled: bigint;
  status: OrderStatus;
  /** Why it was rejected, cancelled or expired (see REASONS). */
  reason?: string;
}

export interface MarketSpec {
  symbol: string;
  /** Prices of LIMIT-kind orders must be positive multiples of this (1e-8 units). */
  tickSize: bigint;
  /** Sizes must be multiples of this (1e-8 units). */
  stepSize: bigint;
  /** Sizes must be at least this (1e-8 units). */
  minSize: bigint;
}

/**
 * Self-trade prevention, when an incoming order would match a resting order of the same account:
 * - `cancel_taker` (default): cancel the incoming order's remainder; the resting order stays.
 * - `cancel_maker`: cancel the resting order and keep matching.
 * - `cancel_both`: cancel both.
 */
export type StpMode = 'cancel_taker' | 'cancel_maker' | 'cancel_both';

export interface MatcherOptions {
  stp?: StpMode;
}

/** Reason codes set on records (`OrderRecord.reason`). */
export const REASONS = {
  // REJECTED at entry (never entered the book)
  UNKNOWN_MARKET: 'unknown_market',
  INVALID_ORDER: 'invalid_order',
  INVALID_SIZE: 'invalid_size',
  INVALID_PRICE: 'invalid_price',
  INVALID_TRIGGER: 'invalid_trigger',
  INVALID_TIF: 'invalid_time_in_force',
  EXPIRED: 'expired',
  DUPLICATE: 'duplicate',
  POST_ONLY_MODE: 'post_only_mode',
  OUTSIDE_POST_ONLY_BAND: 'outside_post_only_band',
  REDUCE_ONLY_WOULD_INCREASE: 'reduce_only_would_increase',
  POST_ONLY_WOULD_CROSS: 'post_only_would_cross',
  NO_MARK_PRICE: 'no_mark_price',
  // CANCELLED after entry
  CANCELLED: 'cancelled',
  SELF_TRADE: 'self_trade',
  IOC_REMAINDER: 'ioc_remainder',
  FOK_NOT_FILLABLE: 'fok_not_fillable',
  MARKET_REMAINDER: 'market_remainder',
  REDUCE_ONLY: 'reduce_only',
  SETTLE_FAILED: 'settle_failed',
  SETTLE_ERROR: 'settle_error',
  TRIGGER_FAILED: 'trigger_failed',
  // CANCELLED before entry: the order arrived after a CANCEL of its hash was on chain (its
  // submission is refused ORDER_CANCELLED; the record proves the expiry for PRUNE_ORDERS)
  CANCELLED_BEFORE_ENTRY: 'cancelled_before_entry',
} as const;
