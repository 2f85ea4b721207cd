/**
 * Liquidation, the Liquidator Vault and auto-deleveraging (ADL).
 *
 * LIQUIDATE {account, market, size, positionBefore, block} (sequencer-proposed, re-checked):
 *  - `block` must be the number of the executing block and `positionBefore` the account's
 *    position (STALE_PROPOSAL otherwise): a proposal is valid in its own block only, and two
 *    proposals for the same position in different blocks have different hashes;
 *  - the account must be below maintenance (equity < maintenance) at the current marks;
 *  - the step size is on the step grid and at most max_step = max(min_size, ceil_to_step(|s| x
 *    liquidation_step_fraction)), or the whole position when the account is bankrupt
 *    (equity <= 0) or the remainder would fall below min_size;
 *  - the Liquidator Vault takes the size over at the mark price; the notional rounds in the
 *    vault's favour (the vault pays floor when buying, receives ceil when selling);
 *  - penalty = ceil(notional x liquidation_penalty), capped at the account's remaining equity
 *    (never below 0), paid to the vault;
 *  - when the account holds no position afterwards and its collateral is negative, the vault
 *    pays that shortfall (VAULT_INSUFFICIENT if it cannot: then ADL is the way out).
 *
 * ADL {account, market, positionBefore, block} (block and position checked as for LIQUIDATE): only when the account is bankrupt (equity < 0) and the
 * vault's balance is below the shortfall (-equity). The account's whole position in the market
 * is closed at its bankruptcy price against the opposite positions in ADL rank order:
 *   rank: PnL ratio = floor(unrealized x 1e9 / max(|cost|, 1)) descending, then |size|
 *   descending, then address ascending.
 * The cash N that leaves the account's equity at exactly 0 is split pro rata to size
 * (floor, the last counterparty takes the remainder). The vault's own positions are not ranked.
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { isAccount } from '../account/account.ts';
import { abs, ceilDiv, floorDiv, FRACTION_SCALE, min, NOTIONAL_DIVISOR, sign, toFelt } from '../math.ts';
import type { AdlTx, LiquidateTx } from '../tx.ts';
import { revert } from './errors.ts';
import { event } from './events.ts';
import { addCollateral, applyFill, collateralOf, fundingIndexOf, holdersOf, markPriceOf, positionOf } from './ledger.ts';
import { oracleAge } from './oracle.ts';
import { accountRisk, isLiquidatable, positionRisk, type AccountRisk } from './risk.ts';

/** The largest step a liquidation may take from a position of size |s|. */
export function maxLiquidationStep(m: MarketConfig, absSize: bigint, r: AccountRisk): bigint {
  if (r.equity <= 0n) return absSize;
  let step = ceilDiv(absSize * m.liquidationStepFraction, FRACTION_SCALE);
  step = ceilDiv(step, m.stepSize) * m.stepSize;
  if (step < m.minSize) step = m.minSize;
  if (step >= absSize || absSize - step < m.minSize) return absSize;
  return step;
}

/** True when the vault cannot cover the account's shortfall: the one condition for ADL. */
export function vaultCannotCover(st: StateAccess, cfg: ExchangeConfig, r: AccountRisk): boolean {
  return r.equity < 0n && collateralOf(st, cfg.vaultAddress) < -r.equity;
}

function checkOracleFresh(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, ctx: ExecContext): void {
  if (cfg.oracleMaxAge > 0n && oracleAge(st, cfg, m, ctx.block.timestamp) > cfg.oracleMaxAge) revert('ORACLE_STALE', `${m.symbol} oracle price older than ${cfg.oracleMaxAge}s`);
}

function liquidationTarget(st: StateAccess, cfg: ExchangeConfig, ctx: ExecContext, tx: LiquidateTx | AdlTx): { m: MarketConfig; size: bigint } {
  const { account: addr, market: marketSym, positionBefore } = tx;
  if (tx.block !== ctx.block.blockNumber) revert('STALE_PROPOSAL', `proposal is for block ${tx.block}, this is block ${ctx.block.blockNumber}`);
  const m = cfg.marketBySymbol.get(marketSym);
  if (!m) revert('UNKNOWN_MARKET', marketSym);
  if (addr === cfg.vaultAddress || !isAccount(st, addr)) revert('ACCOUNT_NOT_DEPLOYED', `0x${addr.toString(16)} is not a user account`);
  const size = positionOf(st, addr, m).size;
  if (size !== positionBefore) revert('STALE_PROPOSAL', `position is ${size}, proposal says ${positionBefore}`);
  if (size === 0n) revert('LIQUIDATION_SIZE', 'no position in this market');
  return { m, size };
}

export function execLiquidate(tx: LiquidateTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const { m, size: s } = liquidationTarget(st, cfg, ctx, tx);
  checkOracleFresh(st, cfg, m, ctx);
  const r = accountRisk(st, cfg, tx.account);
  if (!isLiquidatable(r)) revert('NOT_LIQUIDATABLE', `equity ${r.equity} >= maintenance ${r.maintenance}`);
  const q = tx.size;
  if (q <= 0n || q % m.stepSize !== 0n || q > abs(s)) revert('LIQUIDATION_SIZE', `size ${q} for a position of ${s}`);
  const maxStep = maxLiquidationStep(m, abs(s), r);
  if (q > maxStep) revert('LIQUIDATION_SIZE', `at most ${maxStep} this step`);
  const mark = markPriceOf(st, cfg, m);
  const dir = sign(s);
  // Long liquidated: the vault buys and pays the floor; short liquidated: the vault sells for the ceiling.
  const cash = dir > 0n ? floorDiv(q * mark, NOTIONAL_DIVISOR) : ceilDiv(q * mark, NOTIONAL_DIVISOR);
  applyFill(st, cfg, tx.account, m, -dir * q, cash);
  applyFill(st, cfg, cfg.vaultAddress, m, dir * q, cash);
  const after = accountRisk(st, cfg, tx.account);
  let penalty = ceilDiv(cash * m.liquidationPenalty, FRACTION_SCALE);
  penalty = min(penalty, after.equity > 0n ? after.equity : 0n);
  if (penalty > 0n) {
    addCollateral(st, cfg, tx.account, -penalty);
    addCollateral(st, cfg, cfg.vaultAddress, penalty);
  }
  const events = [event(cfg.exchangeAddress, 'Liquidation', [tx.account], [m.id, toFelt(-dir * q), mark, cash, penalty])];
  payShortfallIfFlat(st, cfg, tx.account, after.positions.length === 0, events, true);
  return events;
}

/** A flat account with negative collateral is made whole by the vault. */
function payShortfallIfFlat(st: StateAccess, cfg: ExchangeConfig, addr: bigint, flat: boolean, events: ContractEvent[], strict: boolean): void {
  if (!flat) return;
  const c = collateralOf(st, addr);
  if (c >= 0n) return;
  const vault = collateralOf(st, cfg.vaultAddress);
  let pay = -c;
  if (vault < pay) {
    if (strict) revert('VAULT_INSUFFICIENT', `vault holds ${vault}, shortfall is ${pay}`);
    pay = vault > 0n ? vault : 0n;
  }
  if (pay === 0n) return;
  addCollateral(st, cfg, cfg.vaultAddress, -pay);
  addCollateral(st, cfg, addr, pay);
  events.push(event(cfg.exchangeAddress, 'ShortfallPaid', [addr], [pay]));
}

export interface AdlCandidate {
  address: bigint;
  size: bigint;
  unrealized: bigint;
  pnlRatio: bigint;
}

/** Opposite positions to `side` (the sign of the bankrupt position) in ADL rank order. */
export function adlRanking(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, side: bigint, exclude: bigint): AdlCandidate[] {
  const mark = markPriceOf(st, cfg, m);
  const index = fundingIndexOf(st, cfg, m);
  const out: AdlCandidate[] = [];
  let vault: AdlCandidate | undefined;
  for (const a of holdersOf(st, cfg, m)) {
    if (a === exclude) continue;
    if (a === cfg.vaultAddress) {
      // The vault is the counterparty of last resort: after every user position (ADL happens
      // because it is short of money), but before leaving a bankrupt account pending forever.
      const vp = positionOf(st, a, m);
      if (vp.size !== 0n && sign(vp.size) !== side) vault = { address: a, size: vp.size, unrealized: 0n, pnlRatio: 0n };
      continue;
    }
    const pos = positionOf(st, a, m);
    if (pos.size === 0n || sign(pos.size) === side) continue;
    const pr = positionRisk(m, pos, mark, index);
    const denom = abs(pos.cost) > 0n ? abs(pos.cost) : 1n;
    out.push({ address: a, size: pos.size, unrealized: pr.unrealized, pnlRatio: floorDiv(pr.unrealized * FRACTION_SCALE, denom) });
  }
  out.sort((x, y) => {
    if (x.pnlRatio !== y.pnlRatio) return x.pnlRatio > y.pnlRatio ? -1 : 1;
    if (abs(x.size) !== abs(y.size)) return abs(x.size) > abs(y.size) ? -1 : 1;
    return x.address < y.address ? -1 : x.address > y.address ? 1 : 0;
  });
  if (vault) out.push(vault);
  return out;
}

export function execAdl(tx: AdlTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const { m, size: s } = liquidationTarget(st, cfg, ctx, tx);
  checkOracleFresh(st, cfg, m, ctx);
  const r = accountRisk(st, cfg, tx.account);
  if (!isLiquidatable(r) || !vaultCannotCover(st, cfg, r)) {
    revert('ADL_NOT_ALLOWED', `equity ${r.equity}, maintenance ${r.maintenance}, vault ${collateralOf(st, cfg.vaultAddress)}`);
  }
  const mark = markPriceOf(st, cfg, m);
  const dir = sign(s);
  // Cash that leaves equity at exactly 0: dir x N = floor(s x mark / 1e10) - equity.
  let cash = dir * (floorDiv(s * mark, NOTIONAL_DIVISOR) - r.equity);
  if (cash < 0n) cash = 0n;
  const ranking = adlRanking(st, cfg, m, dir, tx.account);
  const total = abs(s);
  const picks: { address: bigint; q: bigint }[] = [];
  let remaining = total;
  for (const c of ranking) {
    if (remaining === 0n) break;
    const q = min(abs(c.size), remaining);
    picks.push({ address: c.address, q });
    remaining -= q;
  }
  if (remaining > 0n) revert('NO_COUNTERPARTY', `${remaining} left unmatched`);
  if (picks.length > cfg.limits.maxAdlCounterparties) revert('TOO_MANY', `ADL would need ${picks.length} counterparties`);
  const events: ContractEvent[] = [];
  applyFill(st, cfg, tx.account, m, -s, cash);
  let paid = 0n;
  picks.forEach((p, i) => {
    const share = i === picks.length - 1 ? cash - paid : floorDiv(cash * p.q, total);
    paid += share;
    applyFill(st, cfg, p.address, m, dir * p.q, share);
    events.push(event(cfg.exchangeAddress, 'Deleverage', [tx.account, p.address], [m.id, toFelt(-dir * p.q), share]));
  });
  payShortfallIfFlat(st, cfg, tx.account, positionsCount(st, cfg, tx.account) === 0, events, false);
  return events;
}

function positionsCount(st: StateAccess, cfg: ExchangeConfig, addr: bigint): number {
  let n = 0;
  for (const m of cfg.markets) if (positionOf(st, addr, m).size !== 0n) n++;
  return n;
}
