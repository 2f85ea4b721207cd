/**
 * The loss waterfall: liquidation in steps -> Liquidator Vault -> partial ADL -> socialized loss.
 * No step can make a bystander insolvent, leave the vault below zero or strand a bankrupt account:
 * for every account below maintenance exactly one of LIQUIDATE / ADL is allowed (`liquidationRoute`,
 * the one rule the proposer and both transactions share), and it always makes progress.
 *
 * LIQUIDATE {account, market, size, positionBefore, block} (sequencer-proposed, re-checked):
 *  - `block` must be the number of the executing block and `positionBefore` the account's
 *    position (STALE_PROPOSAL otherwise);
 *  - the account must be below maintenance (equity < maintenance) at the current marks;
 *  - the step size is on the step grid and at most max_step = max(min_size, ceil_to_step(|s| x
 *    liquidation_step_fraction)), or the whole position when the account is bankrupt
 *    (equity <= 0) or the remainder would fall below min_size;
 *  - the vault takes the size over at the mark price (the vault pays floor when buying,
 *    receives ceil when selling); penalty = ceil(notional x liquidation_penalty), capped at the
 *    account's remaining equity (never below 0), paid to the vault;
 *  - when the account is flat afterwards with negative collateral, the vault pays it.
 *  "The vault absorbs it" (route LIQUIDATE) when, after all of that, the vault's balance and its
 *  equity are both >= 0 (the takeover can realise the vault's loss on a position it already
 *  held, and settles the vault's funding: both are counted, by executing the step on a
 *  scratch overlay of the state). Otherwise the route is ADL while a profitable opposite
 *  position exists (LIQUIDATE reverts VAULT_INSUFFICIENT), and LIQUIDATE again as the last
 *  resort when none does: the vault takes the position over, pays what it can cover, and what
 *  nobody covers is written off as socialized loss (never a negative vault balance).
 *
 * ADL {account, market, positionBefore, block}: only on route ADL (else ADL_NOT_ALLOWED;
 * NO_COUNTERPARTY when no opposite position is profitable). In order:
 *  1. the vault pays what it can cover of the deficit D = -equity: min(D, balance, vault equity);
 *  2. counterparties: user positions opposite to the account's in this market with unrealised
 *     PnL > 0, ranked by unrealised PnL x leverage, score = floor(unrealised x account notional x
 *     1e9 / max(equity, 1)) descending, then |size| descending, then address
 *     ascending; the first max_adl_counterparties of them are taken, each for min(|c_i|,
 *     what is left), so Q = sum q_i <= the closable size (the whole position when bankrupt, the
 *     liquidation step otherwise): partial ADL, continued by the next proposal;
 *  3. the deficit this closure carries: D_m = D when this is the account's only market, else
 *     floor(D x maintenance_m / maintenance) (cross margin: each market carries its share);
 *     D_close = D_m when Q closes the whole position, else floor(D_m x Q / |s|);
 *  4. counterparty i closes q_i at its mark cash MC_i (what the closed part is worth at the mark,
 *     in the floors of the equity formula) worsened by a haircut h_i (a long sells for MC_i - h_i,
 *     a short buys for MC_i + h_i), so its equity falls by exactly h_i, with
 *        h_i <= cap_i = min(floor(unrealised_i x q_i / |c_i|), MC_i, equity_i - maintenance_i after)
 *     (never below 0): it keeps at least its maintenance margin and never pays more than its
 *     profit on the closed part. h_i = min(cap_i, floor(D_close x q_i / Q)); what the floors and
 *     caps leave is then given, in rank order, to counterparties with cap to spare;
 *  5. the account closes Q for the sum of the counterparties' cash; when it is flat with a
 *     negative balance, the vault pays what it can and the rest is written off (socialized).
 * No fees, no penalty in ADL.
 *
 * The vault itself: when its equity is below zero (prices moved against positions it took over),
 * ADL {account: vault} closes its position in a market against profitable opposite positions by
 * the same steps 2-4 (it has nothing to pay in step 1); a loss the closure realises beyond its
 * balance is socialized. LIQUIDATE never targets the vault.
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import { TxRevert } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { isAccount } from '../account/account.ts';
import { abs, ceilDiv, floorDiv, FRACTION_SCALE, max, min, NOTIONAL_DIVISOR, sign, toFelt } from '../math.ts';
import type { AdlTx, LiquidateTx } from '../tx.ts';
import { noteNegativeEquity } from './collateral.ts';
import { revert } from './errors.ts';
import { event } from './events.ts';
import { addCollateral, applyFill, collateralOf, fundingIndexOf, holdersOf, markPriceOf, positionOf, writeOff } from './ledger.ts';
import { oracleAge } from './oracle.ts';
import { accountRisk, isLiquidatable, positionRisk, type AccountRisk } from './risk.ts';

/** The largest step a liquidation may take from a position of size |s|. */
export function maxLiquidationStep(m: MarketConfig, absSize: bigint, r: AccountRisk): bigint {
  return r.equity <= 0n ? absSize : stepOf(m, absSize);
}

/**
 * max(min_size, ceil_to_step(|s| x liquidation_step_fraction)), or |s| when the remainder would
 * fall below min_size: a liquidation step of a solvent account, and the vault's unwind per block.
 */
export function stepOf(m: MarketConfig, absSize: bigint): bigint {
  let step = ceilDiv(absSize * m.liquidationStepFraction, FRACTION_SCALE);
  step = ceilDiv(step, m.stepSize) * m.stepSize;
  if (step < m.minSize) step = m.minSize;
  if (step >= absSize || absSize - step < m.minSize) return absSize;
  return step;
}

/** What the vault can give without its balance or its equity going below zero. */
export function vaultAvailable(st: StateAccess, cfg: ExchangeConfig): bigint {
  const v = accountRisk(st, cfg, cfg.vaultAddress);
  return max(0n, min(v.collateral, v.equity));
}

export function checkOracleFresh(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, now: bigint): void {
  if (cfg.oracleMaxAge > 0n && oracleAge(st, cfg, m, now) > cfg.oracleMaxAge) revert('ORACLE_STALE', `${m.symbol} oracle price older than ${cfg.oracleMaxAge}s`);
}

function liquidationTarget(st: StateAccess, cfg: ExchangeConfig, ctx: ExecContext, tx: LiquidateTx | AdlTx): { m: MarketConfig; size: bigint } {
  const { account: addr, market: marketSym, positionBefore } = tx;
  if (tx.block !== ctx.block.blockNumber) revert('STALE_PROPOSAL', `proposal is for block ${tx.block}, this is block ${ctx.block.blockNumber}`);
  const m = cfg.marketBySymbol.get(marketSym);
  if (!m) revert('UNKNOWN_MARKET', marketSym);
  // The vault itself is deleveraged (ADL only) when its equity is below zero: see execAdl.
  const vaultAdl = tx.type === 'ADL' && addr === cfg.vaultAddress;
  if (!vaultAdl && (addr === cfg.vaultAddress || !isAccount(st, addr))) revert('ACCOUNT_NOT_DEPLOYED', `0x${addr.toString(16)} is not a user account`);
  const size = positionOf(st, addr, m).size;
  if (size !== positionBefore) revert('STALE_PROPOSAL', `position is ${size}, proposal says ${positionBefore}`);
  if (size === 0n) revert('LIQUIDATION_SIZE', 'no position in this market');
  checkOracleFresh(st, cfg, m, ctx.block.timestamp);
  return { m, size };
}

/** A copy-on-write view of the state: the waterfall tries a step on it without touching `st`. */
function scratch(st: StateAccess): StateAccess {
  const storage = new Map<string, bigint>();
  const nonces = new Map<bigint, bigint>();
  const classes = new Map<bigint, bigint>();
  return {
    getStorage: (a, k) => storage.get(`${a}:${k}`) ?? st.getStorage(a, k),
    setStorage: (a, k, v) => void storage.set(`${a}:${k}`, v),
    getNonce: (a) => nonces.get(a) ?? st.getNonce(a),
    setNonce: (a, n) => void nonces.set(a, n),
    getClassHash: (a) => classes.get(a) ?? st.getClassHash(a),
    deploy: (a, h) => void classes.set(a, h),
  };
}

/**
 * The vault takes `q` of the account's position `s` over at the mark. `strict`: the vault must
 * absorb everything (VAULT_INSUFFICIENT otherwise); last resort: it pays what it can and the rest
 * is written off.
 */
function takeOver(st: StateAccess, cfg: ExchangeConfig, addr: bigint, m: MarketConfig, s: bigint, q: bigint, strict: boolean): ContractEvent[] {
  const mark = markPriceOf(st, cfg, m);
  const dir = sign(s);
  // Long liquidated: the vault buys and pays the floor; short liquidated: the vault sells for the ceiling.
  const cash = dir > 0n ? floorDiv(q * mark, NOTIONAL_DIVISOR) : ceilDiv(q * mark, NOTIONAL_DIVISOR);
  applyFill(st, cfg, addr, m, -dir * q, cash);
  applyFill(st, cfg, cfg.vaultAddress, m, dir * q, cash);
  const after = accountRisk(st, cfg, addr);
  let penalty = ceilDiv(cash * m.liquidationPenalty, FRACTION_SCALE);
  penalty = min(penalty, after.equity > 0n ? after.equity : 0n);
  if (penalty > 0n) {
    addCollateral(st, cfg, addr, -penalty);
    addCollateral(st, cfg, cfg.vaultAddress, penalty);
  }
  const events = [event(cfg.exchangeAddress, 'Liquidation', [addr], [m.id, toFelt(-dir * q), mark, cash, penalty])];
  if (strict) {
    const c = collateralOf(st, addr);
    if (after.positions.length === 0 && c < 0n) {
      addCollateral(st, cfg, cfg.vaultAddress, c);
      addCollateral(st, cfg, addr, -c);
      events.push(event(cfg.exchangeAddress, 'ShortfallPaid', [addr], [-c]));
    }
    const v = accountRisk(st, cfg, cfg.vaultAddress);
    if (v.collateral < 0n || v.equity < 0n) revert('VAULT_INSUFFICIENT', `after the takeover the vault would hold ${v.collateral} with equity ${v.equity}`);
    return events;
  }
  // Last resort: a loss the takeover realised in the vault beyond its balance is written off too.
  const vaultLoss = writeOff(st, cfg, cfg.vaultAddress);
  if (vaultLoss > 0n) events.push(event(cfg.exchangeAddress, 'SocializedLoss', [cfg.vaultAddress], [vaultLoss]));
  if (after.positions.length === 0) coverFlat(st, cfg, addr, events);
  return events;
}

/** A flat account with a negative balance: the vault pays what it can, the rest is socialized. */
function coverFlat(st: StateAccess, cfg: ExchangeConfig, addr: bigint, events: ContractEvent[]): void {
  const c = collateralOf(st, addr);
  if (c >= 0n) return;
  const pay = min(-c, vaultAvailable(st, cfg));
  if (pay > 0n) {
    addCollateral(st, cfg, cfg.vaultAddress, -pay);
    addCollateral(st, cfg, addr, pay);
    events.push(event(cfg.exchangeAddress, 'ShortfallPaid', [addr], [pay]));
  }
  const lost = writeOff(st, cfg, addr);
  if (lost > 0n) events.push(event(cfg.exchangeAddress, 'SocializedLoss', [addr], [lost]));
}

export interface AdlCandidate {
  address: bigint;
  size: bigint;
  unrealized: bigint;
  score: bigint;
}

const SCORE_SCALE = FRACTION_SCALE;

/**
 * Profitable user positions opposite to `side` (the sign of the liquidated position) in ADL rank
 * order (score, |size|, address). Losing and break-even positions, the vault and `exclude` are
 * never counterparties.
 */
export function adlRanking(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, side: bigint, exclude: bigint): AdlCandidate[] {
  const mark = markPriceOf(st, cfg, m);
  const index = fundingIndexOf(st, cfg, m);
  const out: AdlCandidate[] = [];
  for (const a of holdersOf(st, cfg, m)) {
    if (a === exclude || a === cfg.vaultAddress) continue;
    const pos = positionOf(st, a, m);
    if (pos.size === 0n || sign(pos.size) === side) continue;
    const unrealized = positionRisk(m, pos, mark, index).unrealized;
    if (unrealized <= 0n) continue;
    const r = accountRisk(st, cfg, a);
    let notional = 0n;
    for (const p of r.positions) notional += p.notional;
    // unrealised PnL x leverage (account notional / equity; an equity <= 0 counts as 1e-6 USDC)
    const score = floorDiv(unrealized * notional * SCORE_SCALE, max(r.equity, 1n));
    out.push({ address: a, size: pos.size, unrealized, score });
  }
  out.sort((x, y) => {
    if (x.score !== y.score) return x.score > y.score ? -1 : 1;
    if (abs(x.size) !== abs(y.size)) return abs(x.size) > abs(y.size) ? -1 : 1;
    return x.address < y.address ? -1 : x.address > y.address ? 1 : 0;
  });
  return out;
}

/** Whether adlRanking would be non-empty (stops at the first profitable opposite position). */
function hasAdlCounterparty(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, side: bigint, exclude: bigint): boolean {
  const mark = markPriceOf(st, cfg, m);
  const index = fundingIndexOf(st, cfg, m);
  for (const a of holdersOf(st, cfg, m)) {
    if (a === exclude || a === cfg.vaultAddress) continue;
    const pos = positionOf(st, a, m);
    if (pos.size !== 0n && sign(pos.size) !== side && positionRisk(m, pos, mark, index).unrealized > 0n) return true;
  }
  return false;
}

/** True when the vault absorbs a step of `q` (tried on a scratch copy of the state). */
function vaultAbsorbs(st: StateAccess, cfg: ExchangeConfig, addr: bigint, m: MarketConfig, s: bigint, q: bigint): boolean {
  try {
    takeOver(scratch(st), cfg, addr, m, s, q, true);
    return true;
  } catch (e) {
    if (e instanceof TxRevert && e.code === 'VAULT_INSUFFICIENT') return false;
    throw e;
  }
}

export type LiquidationRoute = 'LIQUIDATE' | 'ADL' | 'LAST_RESORT';

/**
 * Which step of the waterfall resolves a liquidatable account's position `s` in market `m` (a
 * step of `q`): the vault if it absorbs the step, else ADL against profitable opposite
 * positions, else the vault as the last resort (LIQUIDATE, socializing what it cannot cover).
 */
export function liquidationRoute(st: StateAccess, cfg: ExchangeConfig, addr: bigint, m: MarketConfig, s: bigint, q: bigint): LiquidationRoute {
  if (vaultAbsorbs(st, cfg, addr, m, s, q)) return 'LIQUIDATE';
  return hasAdlCounterparty(st, cfg, m, sign(s), addr) ? 'ADL' : 'LAST_RESORT';
}

/**
 * An ADL of the vault's own position when its equity is below zero and a profitable opposite
 * position exists (the market with the largest maintenance requirement; ties: genesis order).
 */
export function vaultDeleverageTarget(st: StateAccess, cfg: ExchangeConfig): { market: MarketConfig; size: bigint } | undefined {
  const v = accountRisk(st, cfg, cfg.vaultAddress);
  if (v.equity >= 0n || v.positions.length === 0) return undefined;
  let target = v.positions[0]!;
  for (const p of v.positions) if (p.maintenance > target.maintenance) target = p;
  if (!hasAdlCounterparty(st, cfg, target.market, sign(target.position.size), cfg.vaultAddress)) return undefined;
  return { market: target.market, size: target.position.size };
}

export function execLiquidate(tx: LiquidateTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const { m, size: s } = liquidationTarget(st, cfg, ctx, tx);
  const r = accountRisk(st, cfg, tx.account);
  if (!isLiquidatable(r)) revert('NOT_LIQUIDATABLE', `equity ${r.equity} >= maintenance ${r.maintenance}`);
  if (r.equity < 0n) noteNegativeEquity(st, cfg, ctx); // closes the withdrawal gate
  const q = tx.size;
  if (q <= 0n || q % m.stepSize !== 0n || q > abs(s)) revert('LIQUIDATION_SIZE', `size ${q} for a position of ${s}`);
  const maxStep = maxLiquidationStep(m, abs(s), r);
  if (q > maxStep) revert('LIQUIDATION_SIZE', `at most ${maxStep} this step`);
  const route = liquidationRoute(st, cfg, tx.account, m, s, q);
  if (route === 'ADL') revert('VAULT_INSUFFICIENT', `the vault cannot absorb this step (balance ${collateralOf(st, cfg.vaultAddress)}): ADL comes first`);
  return takeOver(st, cfg, tx.account, m, s, q, route === 'LIQUIDATE');
}

export function execAdl(tx: AdlTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const { m, size: s } = liquidationTarget(st, cfg, ctx, tx);
  const addr = tx.account;
  const isVault = addr === cfg.vaultAddress;
  let r = accountRisk(st, cfg, addr);
  const dir = sign(s);
  const step = maxLiquidationStep(m, abs(s), r);
  if (isVault) {
    if (r.equity >= 0n) revert('ADL_NOT_ALLOWED', `the vault's equity ${r.equity} is not below zero`);
  } else {
    if (!isLiquidatable(r)) revert('ADL_NOT_ALLOWED', `equity ${r.equity} >= maintenance ${r.maintenance}`);
    if (vaultAbsorbs(st, cfg, addr, m, s, step)) revert('ADL_NOT_ALLOWED', `the vault absorbs the liquidation (balance ${collateralOf(st, cfg.vaultAddress)})`);
  }
  if (r.equity < 0n) noteNegativeEquity(st, cfg, ctx); // closes the withdrawal gate
  const ranking = adlRanking(st, cfg, m, dir, addr);
  if (ranking.length === 0) revert('NO_COUNTERPARTY', 'no profitable opposite position');
  const events: ContractEvent[] = [];
  // 1. the vault pays what it can cover of the deficit
  if (r.equity < 0n) {
    const pay = min(-r.equity, vaultAvailable(st, cfg));
    if (pay > 0n) {
      addCollateral(st, cfg, cfg.vaultAddress, -pay);
      addCollateral(st, cfg, addr, pay);
      events.push(event(cfg.exchangeAddress, 'ShortfallPaid', [addr], [pay]));
      r = accountRisk(st, cfg, addr);
    }
  }
  // 2. counterparties, at most max_adl_counterparties of them
  const closable = r.equity < 0n ? abs(s) : step;
  const picks: { c: AdlCandidate; q: bigint }[] = [];
  let left = closable;
  for (const c of ranking) {
    if (left === 0n || picks.length >= cfg.limits.maxAdlCounterparties) break;
    const q = min(abs(c.size), left);
    picks.push({ c, q });
    left -= q;
  }
  const total = closable - left;
  // 3. the deficit this closure carries
  const deficit = r.equity < 0n ? -r.equity : 0n;
  const target = r.positions.find((p) => p.market.symbol === m.symbol)!;
  const dMarket = r.positions.length === 1 ? deficit : floorDiv(deficit * target.maintenance, r.maintenance);
  const dClose = total === abs(s) ? dMarket : floorDiv(dMarket * total, abs(s));
  // 4. haircuts within each counterparty's cap
  const mark = markPriceOf(st, cfg, m);
  const plan = picks.map(({ c, q }) => {
    const cr = accountRisk(st, cfg, c.address);
    const cp = cr.positions.find((p) => p.market.symbol === m.symbol)!;
    const rest = c.size - sign(c.size) * q;
    // What the closed part is worth at the mark, in the equity formula's floors.
    const markCash = abs(floorDiv(c.size * mark, NOTIONAL_DIVISOR) - floorDiv(rest * mark, NOTIONAL_DIVISOR));
    const maintAfter = cr.maintenance - cp.maintenance + ceilDiv(abs(rest) * mark * m.maintenanceMarginFraction, FRACTION_SCALE * NOTIONAL_DIVISOR);
    const cap = max(0n, min(min(floorDiv(c.unrealized * q, abs(c.size)), markCash), cr.equity - maintAfter));
    const haircut = min(cap, total > 0n ? floorDiv(dClose * q, total) : 0n);
    return { c, q, markCash, cap, haircut };
  });
  let unassigned = dClose - plan.reduce((a, p) => a + p.haircut, 0n);
  for (const p of plan) {
    if (unassigned <= 0n) break;
    const extra = min(p.cap - p.haircut, unassigned);
    p.haircut += extra;
    unassigned -= extra;
  }
  // 5. apply: counterparties close at their mark cash worsened by the haircut; the account takes the sum
  let cashToAccount = 0n;
  for (const p of plan) {
    const cash = dir > 0n ? p.markCash + p.haircut : p.markCash - p.haircut;
    cashToAccount += cash;
    applyFill(st, cfg, p.c.address, m, dir * p.q, cash);
    events.push(event(cfg.exchangeAddress, 'Deleverage', [addr, p.c.address], [m.id, toFelt(-dir * p.q), cash, p.haircut]));
  }
  applyFill(st, cfg, addr, m, -dir * total, cashToAccount);
  if (isVault) {
    // What the closure realised in the vault beyond its balance is socialized (balance >= 0).
    const lost = writeOff(st, cfg, addr);
    if (lost > 0n) events.push(event(cfg.exchangeAddress, 'SocializedLoss', [addr], [lost]));
  } else if (accountRisk(st, cfg, addr).positions.length === 0) coverFlat(st, cfg, addr, events);
  return events;
}
