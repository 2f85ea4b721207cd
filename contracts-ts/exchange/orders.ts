/**
 * Signed orders on-chain: their per-order state (filled, cancelled, triggered) lives in the
 * owning account's storage under orders[order_hash]; static rules (market, tick, step, minimum
 * size, trigger price, time in force); signature checks against the account's stark key;
 * CANCEL, CANCEL_ALL, SYSTEM_CANCEL and TRIGGER; and the ingress check validateOrderForBook.
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { checkSig, isAccount, requireAccount } from '../account/account.ts';
import { EX, mapKey, ORDER_CANCELLED_BIT, ORDER_FILLED_MASK, ORDER_TRIGGERED_BIT, orderKey } from '../layout.ts';
import { encodeShortString } from '../../node/crypto/index.ts';
import { abs, BPS } from '../math.ts';
import { cancelAllHash, cancelHash, orderHash, shortStringFelt } from '../typed-data.ts';
import type { CancelAllTx, CancelTx, SystemCancelTx, TriggerTx } from '../tx.ts';
import { isConditional, type Order, type SignedOrder } from './order.ts';
import { revert } from './errors.ts';
import { event } from './events.ts';
import { markPriceOf, positionOf } from './ledger.ts';
import { useNonce } from './collateral.ts';
import { getMode } from './modes.ts';

export interface OrderState {
  filled: bigint;
  cancelled: boolean;
  triggered: boolean;
}

export function readOrderState(st: StateAccess, account: bigint, hash: bigint, key = orderKey(hash)): OrderState {
  const v = st.getStorage(account, key);
  return { filled: v & ORDER_FILLED_MASK, cancelled: (v & ORDER_CANCELLED_BIT) !== 0n, triggered: (v & ORDER_TRIGGERED_BIT) !== 0n };
}

/** `key` may be passed when the caller already computed orderKey(hash) (one Poseidon saved). */
export function writeOrderState(st: StateAccess, account: bigint, hash: bigint, s: OrderState, key = orderKey(hash)): void {
  st.setStorage(account, key, s.filled | (s.cancelled ? ORDER_CANCELLED_BIT : 0n) | (s.triggered ? ORDER_TRIGGERED_BIT : 0n));
}

/** Records which account owns an order hash (first fill or trigger), for getOrderState(hash). */
export function recordOwner(st: StateAccess, cfg: ExchangeConfig, hash: bigint, account: bigint): void {
  const k = mapKey(EX.orderOwner, hash);
  if (st.getStorage(cfg.exchangeAddress, k) === 0n) st.setStorage(cfg.exchangeAddress, k, account);
}

export function orderOwner(st: StateAccess, cfg: ExchangeConfig, hash: bigint): bigint {
  return st.getStorage(cfg.exchangeAddress, mapKey(EX.orderOwner, hash));
}

/** MARKET-kind orders never rest; their price is a worst-price bound (0 allowed for a sell). */
export function isMarketKind(o: Order): boolean {
  return o.orderType === 'MARKET' || o.orderType === 'STOP_MARKET' || o.orderType === 'TAKE_PROFIT_MARKET';
}

/** stop BUY / take-profit SELL trigger when mark >= trigger; stop SELL / take-profit BUY when mark <= trigger. */
export function triggerSatisfied(o: Order, mark: bigint): boolean {
  const stop = o.orderType === 'STOP_MARKET' || o.orderType === 'STOP_LIMIT';
  const up = (o.side === 'BUY') === stop;
  return up ? mark >= o.triggerPrice : mark <= o.triggerPrice;
}

/** Rules that depend only on the order and its market. */
export function checkOrderStatic(o: Order, cfg: ExchangeConfig, party?: 'maker' | 'taker'): MarketConfig {
  const m = cfg.marketBySymbol.get(o.market);
  if (!m) revert('UNKNOWN_MARKET', o.market, party);
  if (o.size <= 0n) revert('INVALID_ORDER', 'size must be positive', party);
  if (o.size % m.stepSize !== 0n) revert('INVALID_STEP', `order size ${o.size}, step ${m.stepSize}`, party);
  if (o.size < m.minSize) revert('BELOW_MIN_SIZE', `order size ${o.size}, minimum ${m.minSize}`, party);
  if (isMarketKind(o)) {
    if (o.timeInForce === 'POST_ONLY') revert('INVALID_ORDER', 'a market order cannot be POST_ONLY', party);
  } else {
    if (o.price <= 0n) revert('INVALID_ORDER', 'limit price must be positive', party);
    if (o.price % m.tickSize !== 0n) revert('INVALID_TICK', `order price ${o.price}, tick ${m.tickSize}`, party);
  }
  if (isConditional(o.orderType) && o.triggerPrice <= 0n) revert('INVALID_ORDER', 'conditional orders need a trigger price', party);
  return m;
}

/** Recomputes the hash, checks it matches, and verifies the signature with the account's key. */
export function checkOrderSignature(s: SignedOrder, st: StateAccess, ctx: ExecContext, party?: 'maker' | 'taker'): bigint {
  const key = requireAccount(st, s.order.account, party);
  const h = orderHash(s.order, ctx.block.chainId);
  if (h !== s.hash) revert('BAD_ORDER_HASH', `expected 0x${h.toString(16)}`, party);
  checkSig(ctx, h, key, s.signature, 'Order', party);
  return h;
}

/**
 * The ingress check before an order enters the book: signature, market and size rules,
 * expiry, account, on-chain state (not cancelled, not filled), reduce-only and maintenance
 * mode rules. Throws TxRevert with a code; returns the order hash and market.
 */
export function validateOrderForBook(s: SignedOrder, st: StateAccess, cfg: ExchangeConfig, ctx: ExecContext): { hash: bigint; market: MarketConfig } {
  const o = s.order;
  const mode = getMode(st, cfg);
  if (mode === 'HALTED') revert('MODE_HALTED', 'no new orders');
  if (mode === 'CANCEL_ONLY') revert('MODE_CANCEL_ONLY', 'no new orders');
  const m = checkOrderStatic(o, cfg);
  if (o.expiry <= ctx.block.timestamp) revert('ORDER_EXPIRED', `expiry ${o.expiry} <= now ${ctx.block.timestamp}`);
  const hash = checkOrderSignature(s, st, ctx);
  const os = readOrderState(st, o.account, hash);
  if (os.cancelled) revert('ORDER_CANCELLED');
  if (os.filled >= o.size) revert('ORDER_FILLED');
  if (mode === 'POST_ONLY') {
    if (isMarketKind(o) || o.timeInForce === 'IOC' || o.timeInForce === 'FOK') revert('MODE_POST_ONLY', 'only resting limit orders are accepted');
    const mark = markPriceOf(st, cfg, m);
    if (abs(o.price - mark) * BPS > mark * cfg.postOnlyBandBps) revert('PRICE_BAND', `POST_ONLY mode accepts prices within ±${cfg.postOnlyBandBps} bps of ${mark}`);
  }
  if (o.reduceOnly) {
    const pos = positionOf(st, o.account, m).size;
    const reducible = o.side === 'BUY' ? (pos < 0n ? -pos : 0n) : pos > 0n ? pos : 0n;
    if (reducible === 0n) revert('REDUCE_ONLY', 'no opposite position to reduce');
  }
  return { hash, market: m };
}

// ---- cancels --------------------------------------------------------------------------------------------

function cancelOne(st: StateAccess, cfg: ExchangeConfig, account: bigint, hash: bigint, reason: bigint, events: ContractEvent[], strict: boolean): boolean {
  const key = orderKey(hash);
  const os = readOrderState(st, account, hash, key);
  if (os.cancelled) {
    if (strict) revert('ORDER_CANCELLED', 'already cancelled');
    return false;
  }
  writeOrderState(st, account, hash, { ...os, cancelled: true }, key);
  events.push(event(cfg.exchangeAddress, 'OrderCancelled', [account, hash], [reason]));
  return true;
}

export function execCancel(tx: CancelTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const key = requireAccount(st, tx.account);
  checkSig(ctx, cancelHash(tx, ctx.block.chainId), key, tx.signature, 'Cancel');
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
  if (!triggerSatisfied(o, mark)) revert('NOT_TRIGGERED', `mark ${mark}, trigger ${o.triggerPrice}`);
  writeOrderState(st, o.account, hash, { ...os, triggered: true });
  recordOwner(st, cfg, hash, o.account);
  return [event(cfg.exchangeAddress, 'OrderTriggered', [o.account, hash], [mark])];
}
