/**
 * Funding (docs/exchange.md, "Funding"). One cumulative index per market (price x fraction
 * units); a position of size s owes s x (index - snapshot) / 1e19. Positive rates: longs pay.
 *
 * Why it cannot jump (the incident this project answers: indices jumped after a maintenance
 * window): funding accrues only over LIVE time, i.e. seconds in NORMAL mode with a fresh mark,
 * and one tick accrues at most funding_interval_seconds of it. Downtime, halts, CANCEL_ONLY and
 * POST_ONLY windows, stale oracle stretches and the time before the first sample accrue nothing.
 *
 * The premium is a time integral of on-chain samples, so a follower re-derives every rate:
 *  - FUNDING_SAMPLE (sequencer, sampled at every block, written when it changes) records the
 *    book's impact prices: the average price to fill `impact_notional` USDC on each side
 *    (0 = that side cannot fill it, and contributes no premium: a dust order moves nothing).
 *  - premium(t) = (max(0, impactBid - mark) - max(0, mark - impactAsk)) x 1e9 / mark,
 *    truncated toward zero, clamped to ±funding_rate_clamp; a step function of time that
 *    changes only at samples, oracle updates and mode changes, which first `accrue`:
 *      acc  += premium x dt,  secs += dt     dt = live seconds since the last accrual
 *  - FUNDING (sequencer, when secs >= funding_interval_seconds, NORMAL mode, fresh mark) carries
 *    premium, seconds, rate and index; the contract recomputes each from state:
 *      premium = trunc(acc / secs)                       (toward zero)
 *      seconds = min(secs, funding_interval_seconds)
 *      rate    = clamp(premium + funding_baseline_rate, ±funding_rate_clamp)   (per period)
 *      index'  = index + floor(rate x mark x seconds / funding_period_seconds)
 *    and refuses anything else (FUNDING_RESET for a zeroed index, FUNDING_BOUND beyond the
 *    clamp, FUNDING_MISMATCH otherwise). The accumulator restarts at every tick.
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { MKT } from '../layout.ts';
import { abs, ceilDiv, floorDiv, FRACTION_SCALE, max, min, NOTIONAL_DIVISOR, toFelt, U128_MAX } from '../math.ts';
import type { FundingSampleTx, FundingTx } from '../tx.ts';
import { revert, type ErrorCode } from './errors.ts';
import { event } from './events.ts';
import { mAdd, mGet, mSet } from './ledger.ts';
import { getMode } from './modes.ts';

export function clampRate(m: MarketConfig, rate: bigint): bigint {
  return max(-m.fundingRateClamp, min(m.fundingRateClamp, rate));
}

/** Index move for `seconds` of accrual at `rate` (per period) and `price`: floor. */
export function fundingDelta(m: MarketConfig, rate: bigint, price: bigint, seconds: bigint): bigint {
  return floorDiv(clampRate(m, rate) * price * seconds, m.fundingPeriod);
}

/** The largest |index move| allowed over `seconds` at `price`. */
export function fundingBound(m: MarketConfig, price: bigint, seconds: bigint): bigint {
  return ceilDiv(m.fundingRateClamp * price * seconds, m.fundingPeriod);
}

/**
 * Premium of the impact prices over the mark (1e-9), truncated toward zero, clamped. A missing
 * or 0 impact price (that side cannot fill the impact notional) contributes nothing.
 */
export function premiumRate(m: MarketConfig, mark: bigint, impact?: { bid?: bigint; ask?: bigint }): bigint {
  if (!impact || mark <= 0n) return 0n;
  const up = impact.bid !== undefined && impact.bid > mark ? impact.bid - mark : 0n;
  const down = impact.ask !== undefined && impact.ask > 0n && impact.ask < mark ? mark - impact.ask : 0n;
  return clampRate(m, ((up - down) * FRACTION_SCALE) / mark);
}

/**
 * Impact price of one side of a book: the average price at which `notional` (USDC base units)
 * fills against `levels` ([price, size], best first), or 0 when the levels cannot fill it.
 * avg = notional / size filled; bids round down, asks up (both toward a smaller premium).
 */
export function impactPrice(levels: Iterable<readonly [bigint, bigint]>, notional: bigint, side: 'bid' | 'ask'): bigint {
  const target = notional * NOTIONAL_DIVISOR; // size x price units
  let rest = target;
  let size = 0n;
  for (const [p, s] of levels) {
    if (p <= 0n || s <= 0n) continue;
    if (p * s < rest) {
      rest -= p * s;
      size += s;
      continue;
    }
    // avg = target / (size + rest / p) = target x p / (size x p + rest)
    const num = target * p;
    const den = size * p + rest;
    const avg = side === 'bid' ? num / den : ceilDiv(num, den);
    return avg > U128_MAX ? 0n : avg;
  }
  return 0n;
}

/** The premium the market's stored impact prices give at its current mark. */
export function currentPremium(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig): bigint {
  return premiumRate(m, mGet(st, cfg, m, MKT.oraclePrice), { bid: mGet(st, cfg, m, MKT.impactBid), ask: mGet(st, cfg, m, MKT.impactAsk) });
}

/**
 * The accumulator as it would be after accruing up to `now`: the seconds since the last
 * accrual count only in NORMAL mode and only while the mark is fresh (at most
 * oracle_max_age_seconds past its timestamp); before the first accrual nothing counts.
 */
export function pendingAccrual(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, now: bigint): { acc: bigint; secs: bigint } {
  const t0 = mGet(st, cfg, m, MKT.premiumTime);
  let acc = mGet(st, cfg, m, MKT.premiumAcc);
  let secs = mGet(st, cfg, m, MKT.premiumSecs);
  if (t0 === 0n || now <= t0 || getMode(st, cfg) !== 'NORMAL') return { acc, secs };
  let end = now;
  if (cfg.oracleMaxAge > 0n) end = min(end, mGet(st, cfg, m, MKT.oracleTimestamp) + cfg.oracleMaxAge);
  if (end > t0) {
    const dt = end - t0;
    acc += currentPremium(st, cfg, m) * dt;
    secs += dt;
  }
  return { acc, secs };
}

/**
 * Integrates the current premium up to `now`. Every write that changes the premium or whether
 * time is live (samples, mark changes, mode changes, funding ticks) calls this first.
 */
export function accrue(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, now: bigint): void {
  if (mGet(st, cfg, m, MKT.premiumTime) >= now) return;
  const { acc, secs } = pendingAccrual(st, cfg, m, now);
  mSet(st, cfg, m, MKT.premiumAcc, acc);
  mSet(st, cfg, m, MKT.premiumSecs, secs);
  mSet(st, cfg, m, MKT.premiumTime, now);
}

/** accrue() for every market (mode changes). */
export function accrueAll(st: StateAccess, cfg: ExchangeConfig, now: bigint): void {
  for (const m of cfg.markets) accrue(st, cfg, m, now);
}

export interface FundingTick {
  premium: bigint;
  seconds: bigint;
  rate: bigint;
  index: bigint;
}

/** Why a tick is not possible now (revert code and detail), or null. */
function tickBlocked(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, now: bigint, secs: bigint): [ErrorCode, string] | null {
  if (getMode(st, cfg) !== 'NORMAL') return ['FUNDING_TIMESTAMP', 'funding runs only in NORMAL mode'];
  if (cfg.oracleMaxAge > 0n && now - mGet(st, cfg, m, MKT.oracleTimestamp) > cfg.oracleMaxAge) return ['ORACLE_STALE', `${m.symbol}: mark price older than ${cfg.oracleMaxAge}s`];
  if (secs < m.fundingInterval) return ['FUNDING_TIMESTAMP', `${m.symbol}: ${secs} live seconds since the last funding, the interval is ${m.fundingInterval}`];
  return null;
}

/** The tick the contract accepts for `m` at `now` (pure), or null when none is due. */
export function fundingTickAt(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, now: bigint): FundingTick | null {
  const { acc, secs } = pendingAccrual(st, cfg, m, now);
  if (tickBlocked(st, cfg, m, now, secs)) return null;
  return tickFrom(st, cfg, m, acc, secs);
}

function tickFrom(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, acc: bigint, secs: bigint): FundingTick {
  const premium = acc / secs; // BigInt division truncates toward zero
  const seconds = min(secs, m.fundingInterval);
  const rate = clampRate(m, premium + m.fundingBaselineRate);
  const index = mGet(st, cfg, m, MKT.fundingIndex) + fundingDelta(m, rate, mGet(st, cfg, m, MKT.oraclePrice), seconds);
  return { premium, seconds, rate, index };
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
    if (now <= last) revert('FUNDING_TIMESTAMP', `${m.symbol}: no time elapsed since ${last}`);
    accrue(st, cfg, m, now);
    const secs = mGet(st, cfg, m, MKT.premiumSecs);
    const blocked = tickBlocked(st, cfg, m, now, secs);
    if (blocked) revert(...blocked);
    const old = mGet(st, cfg, m, MKT.fundingIndex);
    const price = mGet(st, cfg, m, MKT.oraclePrice);
    const t = tickFrom(st, cfg, m, mGet(st, cfg, m, MKT.premiumAcc), secs);
    if (e.index !== t.index) {
      if (e.index === 0n && old !== 0n) revert('FUNDING_RESET', `${m.symbol}: index ${old} -> 0`);
      if (abs(e.index - old) > fundingBound(m, price, t.seconds)) revert('FUNDING_BOUND', `${m.symbol}: index ${old} -> ${e.index} over ${t.seconds}s at price ${price}`);
      revert('FUNDING_MISMATCH', `${m.symbol}: proposed index ${e.index}, computed ${t.index}`);
    }
    if (e.premium !== t.premium || e.seconds !== t.seconds || e.rate !== t.rate) {
      revert('FUNDING_MISMATCH', `${m.symbol}: proposed premium ${e.premium} / ${e.seconds}s / rate ${e.rate}, the samples give ${t.premium} / ${t.seconds}s / ${t.rate}`);
    }
    mSet(st, cfg, m, MKT.prevFundingIndex, old);
    mSet(st, cfg, m, MKT.prevFundingTime, last);
    mSet(st, cfg, m, MKT.fundingIndex, t.index);
    mSet(st, cfg, m, MKT.fundingTime, now);
    mSet(st, cfg, m, MKT.fundingRate, t.rate);
    mSet(st, cfg, m, MKT.fundingPrice, price);
    mSet(st, cfg, m, MKT.fundingSeconds, t.seconds);
    mSet(st, cfg, m, MKT.fundingPremium, t.premium);
    mSet(st, cfg, m, MKT.premiumAcc, 0n);
    mSet(st, cfg, m, MKT.premiumSecs, 0n);
    mAdd(st, cfg, m, MKT.fundingUpdates, 1n);
    events.push(event(cfg.exchangeAddress, 'FundingApplied', [m.id], [toFelt(t.rate), toFelt(t.index), t.seconds, price, toFelt(t.premium)]));
  }
  return events;
}

/** FUNDING_SAMPLE: records the book's impact prices (after integrating the previous premium). */
export function execFundingSample(tx: FundingSampleTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const now = ctx.block.timestamp;
  if (tx.markets.length === 0) revert('INVALID_PRICE', 'no markets');
  const seen = new Set<string>();
  const events: ContractEvent[] = [];
  for (const e of tx.markets) {
    const m = cfg.marketBySymbol.get(e.market);
    if (!m) revert('UNKNOWN_MARKET', e.market);
    if (seen.has(e.market)) revert('INVALID_PRICE', `${e.market} listed twice`);
    seen.add(e.market);
    if (e.impactBid < 0n || e.impactAsk < 0n || e.impactBid > U128_MAX || e.impactAsk > U128_MAX) revert('INVALID_PRICE', `${m.symbol}: impact prices out of range`);
    if (e.impactBid > 0n && e.impactAsk > 0n && e.impactBid > e.impactAsk) revert('INVALID_PRICE', `${m.symbol}: impact bid ${e.impactBid} above impact ask ${e.impactAsk} (a matched book is never crossed)`);
    accrue(st, cfg, m, now); // the first accrual starts the market's clock
    mSet(st, cfg, m, MKT.impactBid, e.impactBid);
    mSet(st, cfg, m, MKT.impactAsk, e.impactAsk);
    events.push(event(cfg.exchangeAddress, 'FundingSample', [m.id], [e.impactBid, e.impactAsk, toFelt(currentPremium(st, cfg, m))]));
  }
  return events;
}
