/**
 * What the sequencer proposes each block (pure functions of the state; the contracts re-check
 * everything when the proposals execute).
 */
import type { ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig } from '../config.ts';
import { MKT } from '../layout.ts';
import { abs } from '../math.ts';
import type { AdlTx, FundingSampleTx, FundingTx, LiquidateTx } from '../tx.ts';
import { holdersOf, markPriceOf, mGet, positionOf } from './ledger.ts';
import { unwindAllowance } from './unwind.ts';
import { fundingTickAt } from './funding.ts';
import { liquidationRoute, maxLiquidationStep, vaultDeleverageTarget } from './liquidation.ts';
import { getMode } from './modes.ts';
import { oracleAge } from './oracle.ts';
import { accountRisk, isLiquidatable } from './risk.ts';

export type ImpactPrices = Map<string, { bid?: bigint; ask?: bigint }> | Record<string, { bid?: bigint; ask?: bigint } | undefined>;

function impactFor(p: ImpactPrices | undefined, symbol: string): { bid?: bigint; ask?: bigint } | undefined {
  if (!p) return undefined;
  return p instanceof Map ? p.get(symbol) : p[symbol];
}

/**
 * FUNDING_SAMPLE: the book's impact prices, sampled at every block (the producer calls this at
 * each seal) and proposed for the markets whose impact prices changed since the stored sample,
 * or whose funding clock has not started. `impactPrices` holds impact prices (the average price
 * to fill impact_notional, see impactPrice), not best bid/ask; a side without one is 0. Null
 * when nothing changed or the exchange is HALTED.
 */
export function proposeFundingSample(st: StateAccess, cfg: ExchangeConfig, impactPrices?: ImpactPrices): FundingSampleTx | null {
  if (getMode(st, cfg) === 'HALTED') return null;
  const markets: FundingSampleTx['markets'] = [];
  for (const m of cfg.markets) {
    const imp = impactFor(impactPrices, m.symbol);
    const impactBid = imp?.bid ?? 0n;
    const impactAsk = imp?.ask ?? 0n;
    if (impactBid > 0n && impactAsk > 0n && impactBid > impactAsk) continue; // never from a matched book
    if (impactBid === mGet(st, cfg, m, MKT.impactBid) && impactAsk === mGet(st, cfg, m, MKT.impactAsk) && mGet(st, cfg, m, MKT.premiumTime) !== 0n) continue;
    markets.push({ market: m.symbol, impactBid, impactAsk });
  }
  return markets.length ? { type: 'FUNDING_SAMPLE', markets } : null;
}

/**
 * A FUNDING transaction for every market with at least funding_interval_seconds of live time
 * accrued since its last tick (NORMAL mode, fresh mark), or null when none is due. Each entry
 * is what the contract recomputes from the on-chain samples (fundingTickAt); the sequencer
 * only proposes. Execute the block's FUNDING_SAMPLE first.
 */
export function proposeFunding(st: StateAccess, cfg: ExchangeConfig, ctx: ExecContext): FundingTx | null {
  if (getMode(st, cfg) !== 'NORMAL') return null;
  const now = ctx.block.timestamp;
  const markets: FundingTx['markets'] = [];
  for (const m of cfg.markets) {
    if (now <= mGet(st, cfg, m, MKT.fundingTime)) continue;
    const t = fundingTickAt(st, cfg, m, now);
    if (t) markets.push({ market: m.symbol, ...t });
  }
  return markets.length ? { type: 'FUNDING', timestamp: now, markets } : null;
}

/**
 * LIQUIDATE or ADL, as `liquidationRoute` (the contracts' own rule) decides, for every account
 * below maintenance: one step per account, in the market with the largest maintenance
 * requirement (ties: genesis order). Accounts come from the on-chain holder lists (markets in
 * genesis order, holders in list order), so the scan is deterministic and never touches
 * accounts without positions. Nothing in CANCEL_ONLY, POST_ONLY or HALTED.
 * Pass `{ now, block }` with the block being sealed: `block` is its number, written into every
 * proposal (the contract refuses a proposal in any other block; it also makes the hash unique
 * when the same position recurs later). Without it, 0 is used, which only executes in block 0,
 * so callers must pass it. With `now` (the block timestamp; a bare bigint argument is `now`
 * alone), markets whose oracle price is older than oracle_max_age are skipped. With `accounts`,
 * only those are checked (e.g. the accounts a block touched, when no price or funding moved).
 * Last, an ADL of the vault's own position when the vault's equity is below zero.
 * Cost: O(accounts checked x markets) storage reads.
 */
export interface FindLiquidationsOptions {
  now?: bigint;
  /** Number of the block the proposals are for (default 0n: pass it). */
  block?: bigint;
  accounts?: Iterable<bigint>;
}

export function findLiquidations(st: StateAccess, cfg: ExchangeConfig, nowOrOpts?: bigint | FindLiquidationsOptions): (LiquidateTx | AdlTx)[] {
  if (getMode(st, cfg) !== 'NORMAL') return [];
  const opts: FindLiquidationsOptions = typeof nowOrOpts === 'bigint' ? { now: nowOrOpts } : (nowOrOpts ?? {});
  const now = opts.now;
  const block = opts.block ?? 0n;
  const seen = new Set<bigint>();
  const out: (LiquidateTx | AdlTx)[] = [];
  const candidates = opts.accounts ? [[...opts.accounts]] : cfg.markets.map((m) => holdersOf(st, cfg, m));
  for (const list of candidates) {
    for (const a of list) {
      if (seen.has(a) || a === cfg.vaultAddress) continue;
      seen.add(a);
      const r = accountRisk(st, cfg, a);
      if (!isLiquidatable(r)) continue;
      let target = r.positions[0]!;
      for (const p of r.positions) if (p.maintenance > target.maintenance) target = p;
      if (now !== undefined && cfg.oracleMaxAge > 0n && oracleAge(st, cfg, target.market, now) > cfg.oracleMaxAge) continue;
      const size = target.position.size;
      const step = maxLiquidationStep(target.market, abs(size), r);
      if (liquidationRoute(st, cfg, a, target.market, size, step) === 'ADL') out.push({ type: 'ADL', account: a, market: target.market.symbol, positionBefore: size, block });
      else out.push({ type: 'LIQUIDATE', account: a, market: target.market.symbol, size: step, positionBefore: size, block });
    }
  }
  // The vault last: deleveraged when its own equity is below zero (O(markets)).
  const v = vaultDeleverageTarget(st, cfg);
  if (v && !(now !== undefined && cfg.oracleMaxAge > 0n && oracleAge(st, cfg, v.market, now) > cfg.oracleMaxAge)) {
    out.push({ type: 'ADL', account: cfg.vaultAddress, market: v.market.symbol, positionBefore: v.size, block });
  }
  return out;
}

/**
 * What the Liquidator Vault may unwind this block (VAULT_UNWIND, exchange/unwind.ts): for each
 * market (genesis order) where it holds a position with a fresh oracle price, the side a maker
 * must be on, the maker-price band around the mark and this block's remaining allowance. The
 * node pairs them with resting orders of its book, best price first; nothing in CANCEL_ONLY,
 * POST_ONLY or HALTED. O(markets) storage reads.
 */
export interface VaultUnwindTarget {
  market: string;
  /** The vault's signed position (the proposal's positionBefore). */
  position: bigint;
  makerSide: 'BUY' | 'SELL';
  /** Maker prices allowed: mark ± mark x price_band_bps / 1e4 (withinBand). */
  mark: bigint;
  bandBps: bigint;
  allowance: bigint;
}

export function vaultUnwindTargets(st: StateAccess, cfg: ExchangeConfig, opts: { now: bigint; block: bigint }): VaultUnwindTarget[] {
  if (getMode(st, cfg) !== 'NORMAL') return [];
  const out: VaultUnwindTarget[] = [];
  for (const m of cfg.markets) {
    const position = positionOf(st, cfg.vaultAddress, m).size;
    if (position === 0n) continue;
    if (cfg.oracleMaxAge > 0n && oracleAge(st, cfg, m, opts.now) > cfg.oracleMaxAge) continue;
    const allowance = unwindAllowance(st, cfg, m, opts.block, abs(position));
    if (allowance <= 0n) continue;
    out.push({ market: m.symbol, position, makerSide: position > 0n ? 'BUY' : 'SELL', mark: markPriceOf(st, cfg, m), bandBps: m.priceBandBps, allowance });
  }
  return out;
}
