/**
 * The ledger: margin accounts (users and the Liquidator Vault), positions, funding settlement
 * and the exchange's running totals. Every write of collateral or of a position goes through
 * this file, which keeps the totals that make the invariant checks O(touched):
 *
 *   total_deposits - total_withdrawals + socialized_loss
 *     == total_collateral + fee_balance + funding_pool - total_cost          (USDC base units)
 *
 * (socialized_loss is bad debt the loss waterfall wrote off: balances the exchange owes beyond
 * the money it holds, until vault income repays it; see liquidation.ts).
 * where total_cost is the sum of every position's cost (what was paid to open it, negative for
 * shorts). Because the sum of all positions is zero, -total_cost is also the sum of every
 * position's unrealized PnL at any common price: the identity is "money in = money held".
 */
import type { StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { ACC, EX, holderIndexKey, holderKey, marketBase, MKT, POS, positionBase } from '../layout.ts';
import { abs, ceilDiv, floorDiv, fromFelt, FUNDING_DIVISOR, sign, toFelt } from '../math.ts';

export interface Position {
  /** Signed size, 1e-8 units: > 0 long, < 0 short. */
  size: bigint;
  /** Signed cost in USDC base units: paid to open (long > 0), received (short < 0). */
  cost: bigint;
  /** Funding index at the last settlement (0 while flat). */
  fundingSnapshot: bigint;
}

export const FLAT: Position = Object.freeze({ size: 0n, cost: 0n, fundingSnapshot: 0n });

// ---- raw signed storage helpers ----------------------------------------------------------------------

export function getSigned(st: StateAccess, addr: bigint, key: bigint): bigint {
  return fromFelt(st.getStorage(addr, key));
}
export function setSigned(st: StateAccess, addr: bigint, key: bigint, v: bigint): void {
  st.setStorage(addr, key, toFelt(v));
}
export function addSigned(st: StateAccess, addr: bigint, key: bigint, delta: bigint): bigint {
  const v = getSigned(st, addr, key) + delta;
  if (delta !== 0n) setSigned(st, addr, key, v);
  return v;
}

// ---- exchange totals and market state -------------------------------------------------------------------

export function exGet(st: StateAccess, cfg: ExchangeConfig, key: bigint): bigint {
  return getSigned(st, cfg.exchangeAddress, key);
}
export function exSet(st: StateAccess, cfg: ExchangeConfig, key: bigint, v: bigint): void {
  setSigned(st, cfg.exchangeAddress, key, v);
}
export function exAdd(st: StateAccess, cfg: ExchangeConfig, key: bigint, delta: bigint): bigint {
  return addSigned(st, cfg.exchangeAddress, key, delta);
}

export function mGet(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, off: bigint): bigint {
  return getSigned(st, cfg.exchangeAddress, marketBase(m.id) + off);
}
export function mSet(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, off: bigint, v: bigint): void {
  setSigned(st, cfg.exchangeAddress, marketBase(m.id) + off, v);
}
export function mAdd(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, off: bigint, delta: bigint): bigint {
  return addSigned(st, cfg.exchangeAddress, marketBase(m.id) + off, delta);
}

/** The mark price: the latest accepted oracle price (1e-8 USD). */
export function markPriceOf(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig): bigint {
  return mGet(st, cfg, m, MKT.oraclePrice);
}
export function fundingIndexOf(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig): bigint {
  return mGet(st, cfg, m, MKT.fundingIndex);
}

// ---- collateral -----------------------------------------------------------------------------------------

export function collateralOf(st: StateAccess, addr: bigint): bigint {
  return getSigned(st, addr, ACC.collateral);
}

/** Adds (or with a negative delta removes) collateral, keeping total_collateral in step. */
export function addCollateral(st: StateAccess, cfg: ExchangeConfig, addr: bigint, delta: bigint): bigint {
  if (delta === 0n) return collateralOf(st, addr);
  exAdd(st, cfg, EX.totalCollateral, delta);
  return addSigned(st, addr, ACC.collateral, delta);
}

// ---- positions ----------------------------------------------------------------------------------------------

export function positionOf(st: StateAccess, addr: bigint, m: MarketConfig): Position {
  const b = positionBase(m.id);
  const size = getSigned(st, addr, b + POS.size);
  if (size === 0n) return FLAT;
  return { size, cost: getSigned(st, addr, b + POS.cost), fundingSnapshot: getSigned(st, addr, b + POS.fundingSnapshot) };
}

/** Writes a position, updating open interest, total cost and the market's holder list. */
export function writePosition(st: StateAccess, cfg: ExchangeConfig, addr: bigint, m: MarketConfig, old: Position, next: Position): void {
  const b = positionBase(m.id);
  if (next.size === 0n && (next.cost !== 0n || next.fundingSnapshot !== 0n)) throw new Error('ledger: a flat position must have zero cost and snapshot');
  if (old.size !== next.size) {
    setSigned(st, addr, b + POS.size, next.size);
    const dLong = (next.size > 0n ? next.size : 0n) - (old.size > 0n ? old.size : 0n);
    const dShort = (next.size < 0n ? -next.size : 0n) - (old.size < 0n ? -old.size : 0n);
    if (dLong !== 0n) mAdd(st, cfg, m, MKT.longOi, dLong);
    if (dShort !== 0n) mAdd(st, cfg, m, MKT.shortOi, dShort);
    if (old.size === 0n) addHolder(st, cfg, m, addr);
    else if (next.size === 0n) removeHolder(st, cfg, m, addr);
  }
  if (old.cost !== next.cost) {
    setSigned(st, addr, b + POS.cost, next.cost);
    exAdd(st, cfg, EX.totalCost, next.cost - old.cost);
    mAdd(st, cfg, m, MKT.totalCost, next.cost - old.cost);
  }
  if (old.fundingSnapshot !== next.fundingSnapshot) setSigned(st, addr, b + POS.fundingSnapshot, next.fundingSnapshot);
  const dSnap = next.size * next.fundingSnapshot - old.size * old.fundingSnapshot;
  if (dSnap !== 0n) mAdd(st, cfg, m, MKT.snapshotSum, dSnap);
}

// ---- holders: the on-chain list of accounts with a position in a market ------------------------------------

export function holderCount(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig): bigint {
  return mGet(st, cfg, m, MKT.holderCount);
}

export function holderAt(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, i: bigint): bigint {
  return st.getStorage(cfg.exchangeAddress, holderKey(m.id, i));
}

/** Holders in list order (deterministic: insertion order with swap-remove). */
export function holdersOf(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig): bigint[] {
  const n = holderCount(st, cfg, m);
  const out: bigint[] = [];
  for (let i = 0n; i < n; i++) out.push(holderAt(st, cfg, m, i));
  return out;
}

export function isHolder(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, addr: bigint): boolean {
  return st.getStorage(cfg.exchangeAddress, holderIndexKey(m.id, addr)) !== 0n;
}

function addHolder(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, addr: bigint): void {
  const n = holderCount(st, cfg, m);
  st.setStorage(cfg.exchangeAddress, holderKey(m.id, n), addr);
  st.setStorage(cfg.exchangeAddress, holderIndexKey(m.id, addr), n + 1n);
  mSet(st, cfg, m, MKT.holderCount, n + 1n);
}

function removeHolder(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, addr: bigint): void {
  const ex = cfg.exchangeAddress;
  const n = holderCount(st, cfg, m);
  const idx = st.getStorage(ex, holderIndexKey(m.id, addr)) - 1n;
  if (idx < 0n) throw new Error('ledger: holder list is missing an account with a position');
  const last = n - 1n;
  if (idx !== last) {
    const lastAddr = st.getStorage(ex, holderKey(m.id, last));
    st.setStorage(ex, holderKey(m.id, idx), lastAddr);
    st.setStorage(ex, holderIndexKey(m.id, lastAddr), idx + 1n);
  }
  st.setStorage(ex, holderKey(m.id, last), 0n);
  st.setStorage(ex, holderIndexKey(m.id, addr), 0n);
  mSet(st, cfg, m, MKT.holderCount, last);
}

// ---- funding ---------------------------------------------------------------------------------------------------

/** What a position owes in funding since its snapshot, USDC base units (> 0: it pays). Rounded up. */
export function pendingFunding(pos: Position, index: bigint): bigint {
  if (pos.size === 0n) return 0n;
  return ceilDiv(pos.size * (index - pos.fundingSnapshot), FUNDING_DIVISOR);
}

/**
 * Settles a position's funding into collateral (lazy settlement on every touch). The payment
 * rounds up (toward +inf): payers pay the ceiling, receivers get the floor; the difference stays
 * in the funding pool. Returns the position with its snapshot moved to the current index.
 */
export function settleFunding(st: StateAccess, cfg: ExchangeConfig, addr: bigint, m: MarketConfig, pos?: Position): Position {
  const p = pos ?? positionOf(st, addr, m);
  if (p.size === 0n) return p;
  const index = fundingIndexOf(st, cfg, m);
  if (p.fundingSnapshot === index) return p;
  const exact = p.size * (index - p.fundingSnapshot);
  const pay = ceilDiv(exact, FUNDING_DIVISOR);
  if (pay !== 0n) {
    addCollateral(st, cfg, addr, -pay);
    exAdd(st, cfg, EX.fundingPool, pay);
  }
  exAdd(st, cfg, EX.fundingSettledExact, exact);
  const next = { ...p, fundingSnapshot: index };
  writePosition(st, cfg, addr, m, p, next);
  return next;
}

// ---- fills ------------------------------------------------------------------------------------------------------

export interface FillResult {
  before: Position;
  after: Position;
  /** Realized PnL credited to collateral (USDC base units). */
  realized: bigint;
  /** True when |size| grew or the position flipped side. */
  increased: boolean;
}

/**
 * Applies a fill to a margin account: `delta` > 0 buys, < 0 sells, for `cash` USDC base units
 * (>= 0) paid by a buyer / received by a seller. Settles funding first. Closing part of a
 * position removes ceil(cost x closed / |size|) of its cost, so realized PnL rounds down
 * (toward -inf) and the remainder stays in the position's cost: nothing is created or lost.
 * When a fill flips the position, the cash splits floor(cash x closed / |delta|) to the close.
 */
export function applyFill(st: StateAccess, cfg: ExchangeConfig, addr: bigint, m: MarketConfig, delta: bigint, cash: bigint): FillResult {
  if (delta === 0n || cash < 0n) throw new Error('ledger: invalid fill');
  const before = settleFunding(st, cfg, addr, m);
  const index = fundingIndexOf(st, cfg, m);
  const s = before.size;
  const d = sign(delta);
  let realized = 0n;
  let next: Position;
  if (s === 0n || sign(s) === d) {
    next = { size: s + delta, cost: before.cost + d * cash, fundingSnapshot: index };
  } else {
    const closed = abs(delta) < abs(s) ? abs(delta) : abs(s);
    const cashClose = closed === abs(delta) ? cash : floorDiv(cash * closed, abs(delta));
    const cashOpen = cash - cashClose;
    const removed = closed === abs(s) ? before.cost : ceilDiv(before.cost * closed, abs(s));
    realized = sign(s) * cashClose - removed;
    const size = s + delta;
    const cost = before.cost - removed + (size !== 0n && sign(size) === d ? d * cashOpen : 0n);
    next = size === 0n ? FLAT : { size, cost, fundingSnapshot: index };
  }
  writePosition(st, cfg, addr, m, before, next);
  if (realized !== 0n) addCollateral(st, cfg, addr, realized);
  return { before, after: next, realized, increased: abs(next.size) > abs(s) || (s !== 0n && next.size !== 0n && sign(next.size) !== sign(s)) };
}

/** Trade notional in USDC base units: size x price / 1e10, rounded down (exact for on-tick trades). */
export function notional(size: bigint, price: bigint): bigint {
  return floorDiv(abs(size) * price, 10n ** 10n);
}

// ---- the Liquidator Vault and socialized loss ------------------------------------------------------------

/**
 * Money that reaches the vault from outside the waterfall (a DEPOSIT to the vault address, its
 * share of trading fees) first repays outstanding socialized loss, then raises the balance.
 */
export function creditVault(st: StateAccess, cfg: ExchangeConfig, amount: bigint): void {
  if (amount <= 0n) return;
  const owed = exGet(st, cfg, EX.socializedLoss);
  const repay = owed < amount ? owed : amount;
  if (repay > 0n) exAdd(st, cfg, EX.socializedLoss, -repay);
  addCollateral(st, cfg, cfg.vaultAddress, amount - repay);
}

/**
 * Books a trade's fees: the genesis share `vault_fee_share_bps` of them, floor(fees x bps / 1e4),
 * goes to the vault (creditVault), the rest to the fee balance.
 */
export function collectFees(st: StateAccess, cfg: ExchangeConfig, fees: bigint): void {
  const toVault = fees > 0n ? floorDiv(fees * cfg.vaultFeeShareBps, 10_000n) : 0n;
  exAdd(st, cfg, EX.feeBalance, fees - toVault);
  creditVault(st, cfg, toVault);
}

/**
 * The last step of the loss waterfall: a negative balance nobody can cover is set to 0 and
 * recorded as socialized loss (outstanding and cumulative). Returns the amount written off.
 */
export function writeOff(st: StateAccess, cfg: ExchangeConfig, addr: bigint): bigint {
  const c = collateralOf(st, addr);
  if (c >= 0n) return 0n;
  addCollateral(st, cfg, addr, -c);
  exAdd(st, cfg, EX.socializedLoss, -c);
  exAdd(st, cfg, EX.socializedLossTotal, -c);
  return -c;
}
