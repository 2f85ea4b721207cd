/**
 * Signed orders on-chain: their per-order state (filled, cancelled, triggered) lives in the
 * owning account's storage under orders[order_hash]; static rules (market, tick, step, minimum
 * size, trigger price, time in force); signature checks against the account's stark key;
 * CANCEL, CANCEL_ALL, SYSTEM_CANCEL and TRIGGER; and the ingress check validateOrderForBook.
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { checkSig, isAccount, requireAccount } from '../account/account.ts';
import { ORDER_CANCELLED_BIT, ORDER_FILLED_MASK, ORDER_TRIGGERED_BIT, orderKey } from '../layout.ts';
import { encodeShortString } from '../crypto.ts';
import { BPS, ceilDiv, FUNDING_DIVISOR } from '../math.ts';
import { accountRisk } from './risk.ts';
import { isVoided } from './replay.ts';
import { cancelAllHash, orderHash, shortStringFelt } from '../typed-data.ts';
import { cancelMessageHash, orderMessageHash } from '../message-hashes.ts';
import type { CancelAllTx, CancelTx, PruneOrdersTx, SystemCancelTx, TriggerTx } from '../tx.ts';
import { canRest, isConditional, orderShapeFault, isMarketKind, isTriggered, reducible, withinBand, type Order, type SignedOrder } from './order.ts';
import { revert } from './errors.ts';
import { event } from './events.ts';
import { markPriceOf, positionOf } from './ledger.ts';
import { useNonce } from './collateral.ts';
import { getMode } from './modes.ts';

export interface OrderState {
  filled: bigint;
  cancelled: boolean;
  triggered: boolean;
  /** FOK orders only: the block of the first fill (every fill of a FOK is in that block); else 0. */
  fillBlock: bigint;
  /**
   * The order's expiry as the chain learnt it from the signed order (a fill or a trigger),
   * saturated at EXPIRY_UNKNOWN; EXPIRY_UNKNOWN also when only a CANCEL (which names a hash, not
   * an order) wrote the slot; 0 for an empty slot. PRUNE_ORDERS deletes a slot once this is past.
   */
  expiry: bigint;
}

/**
 * The order word: filled (bits 0..127) | cancelled (128) | triggered (129) | expiry (130..193,
 * 64 bits, saturating) | FOK first-fill block (194..250). It exists while the order can still
 * matter: from its first on-chain touch until PRUNE_ORDERS deletes it after the expiry (until
 * then it is the replay protection of a filled or cancelled order; afterwards every rule refuses
 * the order ORDER_EXPIRED, so the slot is no longer needed).
 */
const EXPIRY_SHIFT = 130n;
const FILL_BLOCK_SHIFT = 194n;
/** An expiry the chain does not know, or one beyond 64 bits: such a slot is pruned only with its order. */
export const EXPIRY_UNKNOWN = (1n << 64n) - 1n;
const FILL_BLOCK_MAX = (1n << 57n) - 1n;

/** The expiry field for an order's expiry (saturated: an expiry past 2^64 - 1 s never comes). */
export function expiryField(expiry: bigint): bigint {
  return expiry >= EXPIRY_UNKNOWN ? EXPIRY_UNKNOWN : expiry;
}

export function decodeOrderWord(v: bigint): OrderState {
  return {
    filled: v & ORDER_FILLED_MASK,
    cancelled: (v & ORDER_CANCELLED_BIT) !== 0n,
    triggered: (v & ORDER_TRIGGERED_BIT) !== 0n,
    expiry: (v >> EXPIRY_SHIFT) & EXPIRY_UNKNOWN,
    fillBlock: v >> FILL_BLOCK_SHIFT,
  };
}

export function readOrderState(st: StateAccess, account: bigint, hash: bigint, key = orderKey(hash)): OrderState {
  return decodeOrderWord(st.getStorage(account, key));
}

/** `key` may be passed when the caller already has orderKey(hash). */
export function writeOrderState(st: StateAccess, account: bigint, hash: bigint, s: OrderState, key = orderKey(hash)): void {
  if (s.fillBlock > FILL_BLOCK_MAX) throw new Error(`block number ${s.fillBlock} does not fit the order word`);
  st.setStorage(account, key, s.filled | (s.cancelled ? ORDER_CANCELLED_BIT : 0n) | (s.triggered ? ORDER_TRIGGERED_BIT : 0n) | (expiryField(s.expiry) << EXPIRY_SHIFT) | (s.fillBlock << FILL_BLOCK_SHIFT));
}

/** Rules that depend only on the order and its market. */
export function checkOrderStatic(o: Order, cfg: ExchangeConfig, party?: 'maker' | 'taker'): MarketConfig {
  const m = cfg.marketBySymbol.get(o.market);
  if (!m) revert('UNKNOWN_MARKET', o.market, party);
  switch (orderShapeFault(o, m)) {
    case undefined:
      break;
    case 'SIZE':
      revert('INVALID_ORDER', 'size must be positive', party);
    case 'STEP':
      revert('INVALID_STEP', `order size ${o.size}, step ${m.stepSize}`, party);
    case 'MIN_SIZE':
      revert('BELOW_MIN_SIZE', `order size ${o.size}, minimum ${m.minSize}`, party);
    case 'MARKET_POST_ONLY':
      revert('INVALID_ORDER', 'a market order cannot be POST_ONLY', party);
    case 'PRICE':
      revert('INVALID_ORDER', 'limit price must be positive', party);
    case 'TICK':
      revert('INVALID_TICK', `order price ${o.price}, tick ${m.tickSize}`, party);
    case 'TRIGGER':
      revert('INVALID_ORDER', 'conditional orders need a trigger price', party);
    case 'NEGATIVE_PRICE':
    case 'NEGATIVE_TRIGGER':
      revert('INVALID_ORDER', 'negative price', party);
  }
  return m;
}

/**
 * Computes the hash (or takes the one carried for exactly this order: message-hashes.ts), checks
 * it matches, and verifies the signature with the account's key.
 */
export function checkOrderSignature(s: SignedOrder, st: StateAccess, ctx: ExecContext, party?: 'maker' | 'taker'): bigint {
  const key = requireAccount(st, s.order.account, party);
  const h = orderMessageHash(ctx, s.order);
  if (h !== s.hash) revert('BAD_ORDER_HASH', `expected 0x${h.toString(16)}`, party);
  checkSig(ctx, h, key, s.signature, 'Order', party);
  return h;
}

/**
 * The ingress check before an order enters the book: signature, market and size rules,
 * expiry, account, on-chain state (not cancelled, not filled), the aggressive-limit price band,
 * reduce-only and maintenance mode rules. Conditional orders (TP/SL) wait for their trigger:
 * they may be placed before the position they reduce exists and in POST_ONLY mode; their
 * reduce-only and mode rules apply when they fire. Throws TxRevert with a code; returns the
 * order hash and market.
 */
export function validateOrderForBook(s: SignedOrder, st: StateAccess, cfg: ExchangeConfig, ctx: ExecContext): { hash: bigint; market: MarketConfig } {
  const o = s.order;
  const mode = getMode(st, cfg);
  if (mode === 'HALTED') revert('MODE_HALTED', 'no new orders');
  if (mode === 'CANCEL_ONLY') revert('MODE_CANCEL_ONLY', 'no new orders');
  const m = checkOrderStatic(o, cfg);
  if (o.expiry <= ctx.block.timestamp) revert('ORDER_EXPIRED', `expiry ${o.expiry} <= now ${ctx.block.timestamp}`);
  const hash = checkOrderSignature(s, st, ctx);
  if (isVoided(st, cfg, hash)) revert('ORPHANED_MESSAGE', 'this order was signed on a rolled-back branch');
  const os = readOrderState(st, o.account, hash);
  if (os.cancelled) revert('ORDER_CANCELLED');
  if (os.filled >= o.size) revert('ORDER_FILLED');
  if (o.timeInForce === 'FOK' && os.filled > 0n) revert('ORDER_FILLED', 'a fill-or-kill order fills once');
  if (isConditional(o.orderType)) return { hash, market: m }; // checked again when it fires
  const mark = markPriceOf(st, cfg, m);
  if (mode === 'POST_ONLY') {
    if (!canRest(o)) revert('MODE_POST_ONLY', 'only resting limit orders are accepted');
    if (!withinBand(o.price, mark, cfg.postOnlyBandBps)) revert('PRICE_BAND', `POST_ONLY mode accepts prices within ±${cfg.postOnlyBandBps} bps of ${mark}`);
  }
  if (o.orderType === 'LIMIT' && mark > 0n && !withinLimitBand(o, mark, cfg.limitPriceBandBps))
    revert('PRICE_BAND', `an aggressive LIMIT ${o.side} must be priced within ${cfg.limitPriceBandBps} bps of the mark ${mark} (limit_price_band_bps)`);
  if (o.reduceOnly && reducible(o.side, positionOf(st, o.account, m).size) === 0n) revert('REDUCE_ONLY', 'no opposite position to reduce');
  return { hash, market: m };
}

// ---- cancels --------------------------------------------------------------------------------------------

/**
 * Marks `hash` cancelled in `account`'s own storage. The chain keeps no owner index: an order's
 * state lives only in its owner's account, so a cancel signed by another account marks that
 * account's storage and cannot touch the order (the sequencer refuses it NOT_OWNER at ingress).
 */
function cancelOne(st: StateAccess, cfg: ExchangeConfig, account: bigint, hash: bigint, reason: bigint, events: ContractEvent[], strict: boolean): boolean {
  const key = orderKey(hash);
  const os = readOrderState(st, account, hash, key);
  if (os.cancelled) {
    if (strict) revert('ORDER_CANCELLED', 'already cancelled');
    return false;
  }
  // A CANCEL names a hash, not an order: a slot it creates has no known expiry (EXPIRY_UNKNOWN).
  const fresh = os.filled === 0n && !os.triggered && os.expiry === 0n;
  writeOrderState(st, account, hash, { ...os, cancelled: true, expiry: fresh ? EXPIRY_UNKNOWN : os.expiry }, key);
  events.push(event(cfg.exchangeAddress, 'OrderCancelled', [account, hash], [reason]));
  return true;
}

export function execCancel(tx: CancelTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const key = requireAccount(st, tx.account);
  checkSig(ctx, cancelMessageHash(ctx, tx), key, tx.signature, 'Cancel');
  const events: ContractEvent[] = [];
  cancelOne(st, cfg, tx.account, tx.orderHash, shortStringFelt('user'), events, true);
  return events;
}

/**
 * CANCEL_ALL: signed with the account nonce. The Order schema has no creation time, so the
 * chain cannot cancel orders it has never seen by itself: the node lists the account's open
 * order hashes in `orderHashes` and each is cancelled on-chain (already-cancelled ones skipped).
 */
export function execCancelAll(tx: CancelAllTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const key = requireAccount(st, tx.account);
  if (tx.market !== 'ALL' && !cfg.marketBySymbol.has(tx.market)) revert('UNKNOWN_MARKET', tx.market);
  checkSig(ctx, cancelAllHash(tx, ctx.block.chainId), key, tx.signature, 'CancelAll');
  useNonce(st, tx.account, tx.nonce);
  if (tx.orderHashes.length > cfg.limits.maxCancelAllHashes) revert('TOO_MANY', `at most ${cfg.limits.maxCancelAllHashes} order hashes`);
  const events: ContractEvent[] = [];
  let n = 0n;
  for (const h of tx.orderHashes) if (cancelOne(st, cfg, tx.account, h, shortStringFelt('cancel_all'), events, false)) n++;
  events.push(event(cfg.exchangeAddress, 'CancelAll', [tx.account], [shortStringFelt(tx.market), tx.nonce, n]));
  return events;
}

/**
 * SYSTEM_CANCEL: the sequencer records cancellations it decided (rollback, expiry, STP, IOC rest).
 * Already-cancelled orders are skipped; a transaction that cancels nothing new reverts.
 */
export function execSystemCancel(tx: SystemCancelTx, st: StateAccess, _ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  if (tx.orders.length === 0) revert('INVALID_ORDER', 'nothing to cancel');
  if (tx.orders.length > cfg.limits.maxSystemCancelOrders) revert('TOO_MANY', `at most ${cfg.limits.maxSystemCancelOrders} orders`);
  const events: ContractEvent[] = [];
  const reason = encodeShortString(tx.reason);
  for (const x of tx.orders) {
    if (!isAccount(st, x.account)) revert('ACCOUNT_NOT_DEPLOYED', `0x${x.account.toString(16)}`);
    cancelOne(st, cfg, x.account, x.orderHash, reason, events, false);
  }
  // A no-op would only repeat an earlier transaction (and its hash).
  if (events.length === 0) revert('ORDER_CANCELLED', 'every listed order is already cancelled');
  return events;
}

/** TRIGGER: records on-chain that a conditional order's trigger fired at the current mark. */
export function execTrigger(tx: TriggerTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const o = tx.order.order;
  if (!isConditional(o.orderType)) revert('INVALID_ORDER', 'only conditional orders trigger');
  const m = checkOrderStatic(o, cfg);
  if (o.expiry <= ctx.block.timestamp) revert('ORDER_EXPIRED');
  const hash = checkOrderSignature(tx.order, st, ctx);
  const os = readOrderState(st, o.account, hash);
  if (os.cancelled) revert('ORDER_CANCELLED');
  if (os.triggered) revert('DUPLICATE', 'already triggered');
  const mark = markPriceOf(st, cfg, m);
  if (!isTriggered(o, mark)) revert('NOT_TRIGGERED', `mark ${mark}, trigger ${o.triggerPrice}`);
  writeOrderState(st, o.account, hash, { ...os, triggered: true, expiry: o.expiry });
  return [event(cfg.exchangeAddress, 'OrderTriggered', [o.account, hash], [mark])];
}

/**
 * PRUNE_ORDERS (system): deletes the order words of expired orders, so an account's storage holds
 * a record only while its order can still trade. Safe because expiry is final: block timestamps
 * never decrease, and TRADE, VAULT_UNWIND, TRIGGER and the ingress all refuse an order whose
 * expiry is not after the block's (ORDER_EXPIRED): a filled or cancelled order replayed after its
 * word is gone is refused by its expiry, as it was by its word before.
 *  - `slots` [{account, orderHash}]: the word's own expiry (learnt from the signed order at a fill
 *    or trigger) must be <= the block timestamp;
 *  - `orders` [SignedOrder]: for a word whose expiry the chain never learnt (written by a CANCEL
 *    before any fill): the order itself, its hash recomputed, proves the expiry; its account's
 *    word is deleted. The signature is not needed (the hash binds the order; nothing is executed).
 * Every entry must delete a word (an empty or live one reverts), so a proposal is exact.
 */
export function execPruneOrders(tx: PruneOrdersTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const n = tx.slots.length + tx.orders.length;
  if (n === 0) revert('INVALID_ORDER', 'nothing to prune');
  if (n > cfg.limits.maxSystemCancelOrders) revert('TOO_MANY', `at most ${cfg.limits.maxSystemCancelOrders} orders`);
  const now = ctx.block.timestamp;
  const prune = (account: bigint, hash: bigint, expiry: (w: OrderState) => bigint): void => {
    const key = orderKey(hash);
    const w = st.getStorage(account, key);
    if (w === 0n) revert('INVALID_ORDER', `no record of 0x${hash.toString(16)} in 0x${account.toString(16)}`);
    const e = expiry(decodeOrderWord(w));
    if (e > now) revert('ORDER_NOT_EXPIRED', `0x${hash.toString(16)} expires at ${e}, now ${now}`);
    st.setStorage(account, key, 0n);
  };
  for (const x of tx.slots) prune(x.account, x.orderHash, (w) => w.expiry);
  for (const s of tx.orders) {
    const h = orderHash(s.order, ctx.block.chainId);
    if (h !== s.hash) revert('BAD_ORDER_HASH', `expected 0x${h.toString(16)}`);
    prune(s.order.account, h, () => s.order.expiry);
  }
  return [];
}

/**
 * The aggressive-limit band (genesis limit_price_band_bps): a LIMIT BUY may be priced at most
 * mark + mark x bps / 1e4, a LIMIT SELL at least mark - mark x bps / 1e4 (exact integer
 * comparison, no rounding). Passive prices (a bid below the mark) are not limited.
 */
export function withinLimitBand(o: Pick<Order, 'side' | 'price'>, mark: bigint, bps: bigint): boolean {
  return o.side === 'BUY' ? (o.price - mark) * BPS <= mark * bps : (mark - o.price) * BPS <= mark * bps;
}

/** An open order as the sequencer's book holds it: what may still fill. */
export interface OpenOrder {
  order: Order;
  remaining: bigint;
}

/**
 * Initial margin of open orders in one market, netted against the position (what the account
 * would additionally need if every order on the worse side filled):
 *   B = remaining size of the non-reduce-only buys, SB = sum(remaining x price) of them
 *   incB = max(0, B - short)  (the part of the buys beyond closing a short), SB' = ceil(SB x incB / B)
 *   the same for sells against a long; margin = ceil(max(SB', SA') x IMF / 1e19)  (rounds up)
 * An order is valued at its limit price (a STOP_MARKET / TAKE_PROFIT_MARKET at its trigger
 * price). Reduce-only orders need no margin: they can only shrink the position.
 */
export function openOrderMargin(m: MarketConfig, pos: bigint, orders: Iterable<OpenOrder>): bigint {
  let b = 0n, sb = 0n, a = 0n, sa = 0n;
  for (const { order: o, remaining } of orders) {
    if (o.market !== m.symbol || o.reduceOnly || remaining <= 0n) continue;
    const px = isMarketKind(o.orderType) ? o.triggerPrice : o.price;
    if (o.side === 'BUY') (b += remaining), (sb += remaining * px);
    else (a += remaining), (sa += remaining * px);
  }
  const inc = (n: bigint, s: bigint, against: bigint): bigint => {
    const extra = n - against;
    return extra <= 0n ? 0n : ceilDiv(s * extra, n);
  };
  const worst = [inc(b, sb, pos < 0n ? -pos : 0n), inc(a, sa, pos > 0n ? pos : 0n)].reduce((x, y) => (x > y ? x : y));
  return ceilDiv(worst * m.initialMarginFraction, FUNDING_DIVISOR);
}

/**
 * Placement rules that need the account's open orders (the book, not the chain, holds them; the
 * sequencer applies these at ingress, and every fill is re-checked by TRADE's margin rule):
 *  - at most `max_open_orders` open orders per account per market (TOO_MANY);
 *  - equity >= initial margin of the positions + initial margin of the open orders with the new
 *    one (INSUFFICIENT_MARGIN), so collateral backs every resting order, as on Paradex and dYdX;
 *    an order that does not raise its market's order margin (it only closes the position, or
 *    the other side already needs more) is accepted even below initial margin.
 * MARKET orders never rest and are not counted; a reduce-only order needs no margin.
 */
export function checkOrderBacking(st: StateAccess, cfg: ExchangeConfig, o: Order, open: readonly OpenOrder[]): void {
  if (o.orderType === 'MARKET') return;
  const m = cfg.marketBySymbol.get(o.market);
  if (!m) revert('UNKNOWN_MARKET', o.market);
  let inMarket = 0;
  for (const x of open) if (x.order.market === o.market) inMarket++;
  if (inMarket >= cfg.maxOpenOrders) revert('TOO_MANY', `at most ${cfg.maxOpenOrders} open orders per account in ${o.market} (max_open_orders)`);
  if (o.reduceOnly) return;
  // An order that adds nothing to its market's worst case (it only closes the position, or the
  // other side already needs more) is always accepted: an account can always reduce.
  const pos = positionOf(st, o.account, m).size;
  const all = [...open, { order: o, remaining: o.size }];
  if (openOrderMargin(m, pos, all) <= openOrderMargin(m, pos, open)) return;
  const r = accountRisk(st, cfg, o.account);
  let need = r.initial;
  for (const mk of cfg.markets) need += openOrderMargin(mk, mk === m ? pos : positionOf(st, o.account, mk).size, all);
  if (r.equity < need) revert('INSUFFICIENT_MARGIN', `equity ${r.equity} < initial margin of positions and open orders ${need}`);
}
