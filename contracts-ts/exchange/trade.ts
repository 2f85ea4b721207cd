/**
 * TRADE: settles one fill the matcher proposes, re-checking everything the two signed orders
 * promise. Rule order (the first failing rule names the code, and the party when one order is
 * at fault):
 *  1. roles: maker is a resting limit order (GTC or POST_ONLY); taker is not POST_ONLY; same
 *     market, opposite sides, different accounts (self-trade prevention);
 *  2. static order rules (market, step, minimum size, tick, trigger price); fill size on step,
 *     fill price on tick; fill price within both limits (buy: <= limit, sell: >= limit);
 *  3. not expired; signatures (hash recomputed);
 *  4. price band: if either order is MARKET-kind, |price - mark| <= mark x band_bps / 1e4;
 *     in POST_ONLY mode every trade within the maintenance band;
 *  5. order state: not cancelled; filled + size <= order size (no overfill); every fill of a
 *     FOK is in the block of its first fill (the sequencer proves the whole FOK fillable before
 *     it settles any fill of it, so all fills or none); a conditional order must be triggered
 *     (on-chain flag or the current mark);
 *  6. reduce-only: size <= the opposite position;
 *  7. funding settled for both, positions and realized PnL applied, fees charged;
 *  8. open-interest cap; margin: a position-increasing fill needs equity >= initial margin
 *     afterwards; any other fill needs equity >= maintenance afterwards, or must not lower the
 *     ratio equity / maintenance (with equity <= 0 before: must not lower equity).
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig } from '../config.ts';
import { MKT, orderKey } from '../layout.ts';
import { abs, ceilDiv, floorDiv, FRACTION_SCALE, sign, toFelt } from '../math.ts';
import { shortStringFelt } from '../typed-data.ts';
import type { TradeTx } from '../tx.ts';
import { canRest, isConditional, isMarketKind, isTriggered, reducible, withinBand, type Order, type SignedOrder } from './order.ts';
import { revert } from './errors.ts';
import { event } from './events.ts';
import { addCollateral, applyFill, collectFees, markPriceOf, mGet, notional, positionOf } from './ledger.ts';
import { getMode } from './modes.ts';
import { checkOrderSignature, checkOrderStatic, readOrderState, writeOrderState } from './orders.ts';
import { accountRisk } from './risk.ts';

export type Party = 'maker' | 'taker';

/** Fee on a notional: a positive rate rounds up (charged), a negative rate (rebate) rounds down. */
export function feeOf(notionalAmount: bigint, rate: bigint): bigint {
  if (rate >= 0n) return ceilDiv(notionalAmount * rate, FRACTION_SCALE);
  return -floorDiv(notionalAmount * -rate, FRACTION_SCALE);
}


export function checkLimit(o: Order, price: bigint, party: Party): void {
  if (o.side === 'BUY' ? price > o.price : price < o.price) revert('PRICE_LIMIT', `fill price ${price}, ${o.side} limit ${o.price}`, party);
}

/**
 * Rule 5 for one order: not cancelled, no overfill, FOK fills in one block, a conditional order
 * triggered (on-chain flag or the current mark); records the fill in the owner's account.
 * Shared by TRADE and VAULT_UNWIND (the maker side).
 */
export function recordFill(st: StateAccess, cfg: ExchangeConfig, ctx: ExecContext, s: SignedOrder, hash: bigint, size: bigint, mark: bigint, party: Party): void {
  const o = s.order;
  const key = orderKey(hash);
  const os = readOrderState(st, o.account, hash, key);
  if (os.cancelled) revert('ORDER_CANCELLED', `0x${hash.toString(16)}`, party);
  if (os.filled + size > o.size) revert('OVERFILL', `filled ${os.filled} + ${size} > size ${o.size}`, party);
  let fillBlock = os.fillBlock;
  if (o.timeInForce === 'FOK') {
    if (os.filled === 0n) fillBlock = ctx.block.blockNumber;
    else if (os.fillBlock !== ctx.block.blockNumber) revert('FOK_NOT_FILLED', `first filled in block ${os.fillBlock}`, party);
  }
  let triggered = os.triggered;
  if (isConditional(o.orderType) && !triggered) {
    if (!isTriggered(o, mark)) revert('NOT_TRIGGERED', `mark ${mark}, trigger ${o.triggerPrice}`, party);
    triggered = true;
  }
  writeOrderState(st, o.account, hash, { filled: os.filled + size, cancelled: false, triggered, fillBlock, expiry: o.expiry }, key);
}

export function execTrade(tx: TradeTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const mo = tx.maker.order;
  const to = tx.taker.order;
  // 1. roles
  if (!canRest(mo)) revert('INVALID_ROLE', 'the maker must be a resting limit order (GTC or POST_ONLY)', 'maker');
  if (to.timeInForce === 'POST_ONLY') revert('INVALID_ROLE', 'a POST_ONLY order never takes liquidity', 'taker');
  if (mo.market !== to.market) revert('INVALID_ORDER', 'orders are for different markets');
  if (mo.side === to.side) revert('INVALID_ORDER', 'orders are on the same side');
  if (mo.account === to.account) revert('SELF_TRADE', undefined, 'taker');
  // 2. static rules
  const m = checkOrderStatic(mo, cfg, 'maker');
  checkOrderStatic(to, cfg, 'taker');
  if (tx.size <= 0n) revert('INVALID_ORDER', 'fill size must be positive');
  if (tx.size % m.stepSize !== 0n) revert('INVALID_STEP', `fill size ${tx.size}, step ${m.stepSize}`);
  if (tx.price <= 0n) revert('INVALID_PRICE', 'fill price must be positive');
  if (tx.price % m.tickSize !== 0n) revert('INVALID_TICK', `fill price ${tx.price}, tick ${m.tickSize}`);
  checkLimit(mo, tx.price, 'maker');
  checkLimit(to, tx.price, 'taker');
  // 3. expiry, signatures
  const now = ctx.block.timestamp;
  if (mo.expiry <= now) revert('ORDER_EXPIRED', `maker expiry ${mo.expiry}`, 'maker');
  if (to.expiry <= now) revert('ORDER_EXPIRED', `taker expiry ${to.expiry}`, 'taker');
  const makerHash = checkOrderSignature(tx.maker, st, ctx, 'maker');
  const takerHash = checkOrderSignature(tx.taker, st, ctx, 'taker');
  // 4. bands
  const mark = markPriceOf(st, cfg, m);
  if ((isMarketKind(to.orderType) || isMarketKind(mo.orderType)) && !withinBand(tx.price, mark, m.priceBandBps)) {
    revert('PRICE_BAND', `fill price ${tx.price} outside mark ${mark} ± ${m.priceBandBps} bps`, isMarketKind(to.orderType) ? 'taker' : 'maker');
  }
  if (getMode(st, cfg) === 'POST_ONLY' && !withinBand(tx.price, mark, cfg.postOnlyBandBps)) {
    revert('MODE_POST_ONLY', `POST_ONLY mode: trades only within ${mark} ± ${cfg.postOnlyBandBps} bps`);
  }
  // 5. order state
  recordFill(st, cfg, ctx, tx.maker, makerHash, tx.size, mark, 'maker');
  recordFill(st, cfg, ctx, tx.taker, takerHash, tx.size, mark, 'taker');
  // 6. reduce-only, and what the fill does to each position
  const side = (o: Order): bigint => (o.side === 'BUY' ? 1n : -1n);
  const plan = [
    { o: mo, party: 'maker' as Party, pos: positionOf(st, mo.account, m).size },
    { o: to, party: 'taker' as Party, pos: positionOf(st, to.account, m).size },
  ].map((p) => {
    const delta = side(p.o) * tx.size;
    if (p.o.reduceOnly) {
      if (tx.size > reducible(p.o.side, p.pos)) revert('REDUCE_ONLY', `position ${p.pos}, fill ${delta}`, p.party);
    }
    const increases = p.pos === 0n || sign(p.pos) === sign(delta) || abs(delta) > abs(p.pos);
    const before = increases ? undefined : accountRisk(st, cfg, p.o.account);
    return { ...p, delta, increases, before };
  });
  // 7. apply
  const oiBefore = mGet(st, cfg, m, MKT.longOi);
  const cash = notional(tx.size, tx.price);
  for (const p of plan) applyFill(st, cfg, p.o.account, m, p.delta, cash);
  const makerFee = feeOf(cash, m.makerFee);
  const takerFee = feeOf(cash, m.takerFee);
  addCollateral(st, cfg, mo.account, -makerFee);
  addCollateral(st, cfg, to.account, -takerFee);
  collectFees(st, cfg, makerFee + takerFee);
  // 8. open interest and margin
  const oiAfter = mGet(st, cfg, m, MKT.longOi);
  if (oiAfter > oiBefore && oiAfter > m.openInterestCap) revert('OPEN_INTEREST_CAP', `open interest ${oiAfter} > cap ${m.openInterestCap}`, 'taker');
  for (const p of plan) checkMargin(st, cfg, p.o.account, p.increases, p.before, p.party);
  return [
    event(cfg.exchangeAddress, 'Trade', [mo.account, to.account], [m.id, makerHash, takerHash, tx.size, tx.price, shortStringFelt(to.side), toFelt(makerFee), toFelt(takerFee)]),
  ];
}

export function checkMargin(st: StateAccess, cfg: ExchangeConfig, addr: bigint, increases: boolean, before: ReturnType<typeof accountRisk> | undefined, party: Party): void {
  const r = accountRisk(st, cfg, addr);
  if (increases) {
    if (r.equity < r.initial) revert('INSUFFICIENT_MARGIN', `equity ${r.equity} < initial margin ${r.initial}`, party);
    return;
  }
  if (r.equity >= r.maintenance) return;
  if (before) {
    // Below maintenance afterwards: the fill may not lower equity / maintenance (a reduction may
    // cost at most its proportional share of equity, so it can never bankrupt the account), or,
    // for an account already at or below zero equity, may not lower equity at all.
    if (before.equity > 0n ? r.equity * before.maintenance >= before.equity * r.maintenance && r.equity >= 0n : r.equity >= before.equity) return;
  }
  revert('INSUFFICIENT_MARGIN', `equity ${r.equity} < maintenance ${r.maintenance} and the fill worsens the account's margin ratio`, party);
}
