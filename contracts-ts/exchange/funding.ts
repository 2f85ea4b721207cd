/**
 * Funding: one cumulative index per market (price x fraction units). A FUNDING transaction
 * (sequencer-proposed, at the block timestamp) carries, per market, a proposed rate per funding
 * period and the new index. The contract:
 *   rate'   = clamp(rate, -clamp, +clamp)
 *   elapsed = now - last_funding_time                      (> 0)
 *   delta   = floor(rate' x mark x elapsed / period)
 *   index'  = index + delta
 * and rejects the transaction unless the proposed index equals index' — with FUNDING_RESET when
 * it would zero a nonzero index, FUNDING_BOUND when it moves beyond ceil(clamp x mark x elapsed /
 * period). Positions settle lazily: a position of size s owes s x (index - snapshot) / 1e19.
 * Positive rates: longs pay shorts.
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { MKT } from '../layout.ts';
import { abs, ceilDiv, floorDiv, FRACTION_SCALE, max, min, toFelt } from '../math.ts';
import type { FundingTx } from '../tx.ts';
import { revert } from './errors.ts';
import { event } from './events.ts';
import { mAdd, mGet, mSet } from './ledger.ts';

export function clampRate(m: MarketConfig, rate: bigint): bigint {
  return max(-m.fundingRateClamp, min(m.fundingRateClamp, rate));
}

export function fundingDelta(m: MarketConfig, rate: bigint, price: bigint, elapsed: bigint): bigint {
  return floorDiv(clampRate(m, rate) * price * elapsed, m.fundingPeriod);
}

/** The largest |index move| allowed over `elapsed` seconds at `price`. */
export function fundingBound(m: MarketConfig, price: bigint, elapsed: bigint): bigint {
  return ceilDiv(m.fundingRateClamp * price * elapsed, m.fundingPeriod);
}

export function execFunding(tx: FundingTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const now = ctx.block.timestamp;
  if (tx.timestamp !== now) revert('FUNDING_TIMESTAMP', `timestamp ${tx.timestamp} is not the block timestamp ${now}`);
  if (tx.markets.length === 0) revert('INVALID_ORDER', 'no markets');
  const seen = new Set<string>();
  const events: ContractEvent[] = [];
  for (const e of tx.markets) {
    const m = cfg.marketBySymbol.get(e.market);
    if (!m) revert('UNKNOWN_MARKET', e.market);
    if (seen.has(e.market)) revert('INVALID_ORDER', `${e.market} listed twice`);
    seen.add(e.market);
    const last = mGet(st, cfg, m, MKT.fundingTime);
    const elapsed = now - last;
    if (elapsed <= 0n) revert('FUNDING_TIMESTAMP', `${m.symbol}: no time elapsed since ${last}`);
    const old = mGet(st, cfg, m, MKT.fundingIndex);
    const price = mGet(st, cfg, m, MKT.oraclePrice);
    const rate = clampRate(m, e.rate);
    const expected = old + fundingDelta(m, rate, price, elapsed);
    if (e.index !== expected) {
      if (e.index === 0n && old !== 0n) revert('FUNDING_RESET', `${m.symbol}: index ${old} -> 0`);
      if (abs(e.index - old) > fundingBound(m, price, elapsed)) revert('FUNDING_BOUND', `${m.symbol}: index ${old} -> ${e.index} over ${elapsed}s at price ${price}`);
      revert('FUNDING_MISMATCH', `${m.symbol}: proposed ${e.index}, computed ${expected}`);
    }
    mSet(st, cfg, m, MKT.prevFundingIndex, old);
    mSet(st, cfg, m, MKT.prevFundingTime, last);
    mSet(st, cfg, m, MKT.fundingIndex, expected);
    mSet(st, cfg, m, MKT.fundingTime, now);
    mSet(st, cfg, m, MKT.fundingRate, rate);
    mSet(st, cfg, m, MKT.fundingPrice, price);
    mAdd(st, cfg, m, MKT.fundingUpdates, 1n);
    events.push(event(cfg.exchangeAddress, 'FundingApplied', [m.id], [toFelt(rate), toFelt(expected), elapsed, price]));
  }
  return events;
}

/**
 * Premium rate from the book's impact prices against the mark:
 * (max(0, impactBid - mark) - max(0, mark - impactAsk)) / mark, truncated toward zero, clamped.
 */
export function premiumRate(m: MarketConfig, mark: bigint, impact?: { bid?: bigint; ask?: bigint }): bigint {
  if (!impact || mark <= 0n) return 0n;
  const up = impact.bid !== undefined && impact.bid > mark ? impact.bid - mark : 0n;
  const down = impact.ask !== undefined && impact.ask < mark ? mark - impact.ask : 0n;
  return clampRate(m, ((up - down) * FRACTION_SCALE) / mark);
}
