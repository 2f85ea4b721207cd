/**
 * Cross-margin risk of a margin account, at the mark price of each market:
 *
 *   unrealized_m   = floor(size x mark / 1e10) - cost                       (rounds down)
 *   pending_m      = ceil(size x (index - snapshot) / 1e19)                 (owed, rounds up)
 *   equity         = collateral + sum(unrealized_m) - sum(pending_m)
 *   notional_m     = |size| x mark / 1e10
 *   initial        = sum ceil(|size| x mark x IMF / 1e19)                   (rounds up)
 *   maintenance    = sum ceil(|size| x mark x MMF / 1e19)                   (rounds up)
 *   free           = equity - initial
 *
 * An account is liquidatable when equity < maintenance, bankrupt when equity < 0.
 */
import type { StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { abs, ceilDiv, floorDiv, FUNDING_DIVISOR, NOTIONAL_DIVISOR } from '../math.ts';
import { collateralOf, fundingIndexOf, markPriceOf, pendingFunding, positionOf, type Position } from './ledger.ts';

export interface PositionRisk {
  market: MarketConfig;
  position: Position;
  mark: bigint;
  index: bigint;
  notional: bigint;
  unrealized: bigint;
  pendingFunding: bigint;
  initial: bigint;
  maintenance: bigint;
}

export interface AccountRisk {
  collateral: bigint;
  equity: bigint;
  unrealized: bigint;
  pendingFunding: bigint;
  initial: bigint;
  maintenance: bigint;
  positions: PositionRisk[];
}

export function positionRisk(m: MarketConfig, position: Position, mark: bigint, index: bigint): PositionRisk {
  const a = abs(position.size);
  return {
    market: m,
    position,
    mark,
    index,
    notional: floorDiv(a * mark, NOTIONAL_DIVISOR),
    unrealized: floorDiv(position.size * mark, NOTIONAL_DIVISOR) - position.cost,
    pendingFunding: pendingFunding(position, index),
    initial: ceilDiv(a * mark * m.initialMarginFraction, FUNDING_DIVISOR),
    maintenance: ceilDiv(a * mark * m.maintenanceMarginFraction, FUNDING_DIVISOR),
  };
}

/** Risk of an account over every market it holds a position in (markets in genesis order). */
export function accountRisk(st: StateAccess, cfg: ExchangeConfig, addr: bigint): AccountRisk {
  const collateral = collateralOf(st, addr);
  const r: AccountRisk = { collateral, equity: collateral, unrealized: 0n, pendingFunding: 0n, initial: 0n, maintenance: 0n, positions: [] };
  for (const m of cfg.markets) {
    const pos = positionOf(st, addr, m);
    if (pos.size === 0n) continue;
    const pr = positionRisk(m, pos, markPriceOf(st, cfg, m), fundingIndexOf(st, cfg, m));
    r.positions.push(pr);
    r.unrealized += pr.unrealized;
    r.pendingFunding += pr.pendingFunding;
    r.initial += pr.initial;
    r.maintenance += pr.maintenance;
  }
  r.equity = collateral + r.unrealized - r.pendingFunding;
  return r;
}

export function isLiquidatable(r: AccountRisk): boolean {
  return r.positions.length > 0 && r.equity < r.maintenance;
}

/** What a withdrawal or transfer may take: min(collateral, equity - initial), never below 0. */
export function withdrawable(r: AccountRisk): bigint {
  const free = r.equity - r.initial;
  const w = free < r.collateral ? free : r.collateral;
  return w > 0n ? w : 0n;
}
