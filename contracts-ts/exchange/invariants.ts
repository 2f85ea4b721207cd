/**
 * Invariant guards the block builder runs before signing (an empty list = all good).
 *
 * checkInvariants (O(markets + touched accounts), from running totals kept by the ledger):
 *  - conservation: total_deposits - total_withdrawals + socialized_loss
 *                  == total_collateral + fee_balance + funding_pool - total_cost (exact)
 *  - open interest: long OI == short OI per market, both >= 0; sum of market costs == total cost
 *  - funding continuity per market: time never goes back; the last move equals
 *    floor(rate x price x seconds / period) with |rate| <= clamp and seconds <= min(interval,
 *    time since the previous tick) (so no reset, no jump); an index never updated is 0
 *  - funding pool solvency: funding_pool x 1e19 >= exact funding settled, and the exact funding
 *    settled equals sum over markets of sum(size x funding snapshot) (a separate running total
 *    kept on every position write): with open interest symmetric, what the positions still owe
 *    the pool is exactly -that sum, so the pool is >= 0 once every position has settled
 *  - fee balance >= 0; socialized loss >= 0; the Liquidator Vault's balance >= 0 (always, with or
 *    without positions); the vault checked like a touched account, always
 *  - per touched margin account: collateral < 0 only while it holds a position (a liquidation is
 *    pending); positions on the step grid; cost sign matches the side; flat positions hold no
 *    cost or snapshot; listed as a holder exactly when the position is nonzero
 *
 * auditInvariants (O(accounts)): all of the above for every registered account and the vault,
 * plus the totals recomputed from scratch (collateral, open interest, cost, holder lists).
 */
import type { StateAccess } from '../state.ts';
import type { ExchangeConfig } from '../config.ts';
import { accountList, isAccount } from '../account/account.ts';
import { EX, MKT } from '../layout.ts';
import { FUNDING_DIVISOR } from '../math.ts';
import { collateralOf, exGet, holderCount, holdersOf, isHolder, mGet, positionOf } from './ledger.ts';
import { clampRate, fundingDelta } from './funding.ts';
import { MODES } from './modes.ts';

const hex = (x: bigint): string => '0x' + x.toString(16);

export function checkInvariants(st: StateAccess, cfg: ExchangeConfig, touchedAccounts?: Iterable<bigint>): string[] {
  const v: string[] = [];
  const modeRaw = st.getStorage(cfg.exchangeAddress, EX.mode);
  if (modeRaw >= BigInt(MODES.length)) v.push(`mode: corrupt value ${modeRaw}`);
  const deposits = exGet(st, cfg, EX.totalDeposits);
  const withdrawals = exGet(st, cfg, EX.totalWithdrawals);
  const collateral = exGet(st, cfg, EX.totalCollateral);
  const fees = exGet(st, cfg, EX.feeBalance);
  const pool = exGet(st, cfg, EX.fundingPool);
  const cost = exGet(st, cfg, EX.totalCost);
  const socialized = exGet(st, cfg, EX.socializedLoss);
  if (deposits - withdrawals + socialized !== collateral + fees + pool - cost) {
    v.push(`conservation: deposits ${deposits} - withdrawals ${withdrawals} + socialized loss ${socialized} != collateral ${collateral} + fees ${fees} + funding pool ${pool} - position cost ${cost}`);
  }
  if (fees < 0n) v.push(`fee balance is negative (${fees})`);
  if (socialized < 0n) v.push(`socialized loss is negative (${socialized})`);
  const vaultBalance = collateralOf(st, cfg.vaultAddress);
  if (vaultBalance < 0n) v.push(`liquidator vault balance is negative (${vaultBalance})`);
  const exact = exGet(st, cfg, EX.fundingSettledExact);
  if (pool * FUNDING_DIVISOR < exact) v.push(`funding pool ${pool} cannot cover the exact funding settled (${exact} / 1e19)`);
  let snapshots = 0n;
  for (const m of cfg.markets) snapshots += mGet(st, cfg, m, MKT.snapshotSum);
  if (snapshots !== exact) v.push(`funding pool: funding settled (${exact}) != sum of position size x snapshot (${snapshots}): a payment without a position settling, or a snapshot moved without paying`);
  let costSum = 0n;
  for (const m of cfg.markets) {
    const long = mGet(st, cfg, m, MKT.longOi);
    const short = mGet(st, cfg, m, MKT.shortOi);
    if (long !== short) v.push(`${m.symbol}: long OI ${long} != short OI ${short}`);
    if (long < 0n || short < 0n) v.push(`${m.symbol}: negative open interest`);
    costSum += mGet(st, cfg, m, MKT.totalCost);
    const updates = mGet(st, cfg, m, MKT.fundingUpdates);
    const index = mGet(st, cfg, m, MKT.fundingIndex);
    const prevIndex = mGet(st, cfg, m, MKT.prevFundingIndex);
    const time = mGet(st, cfg, m, MKT.fundingTime);
    const prevTime = mGet(st, cfg, m, MKT.prevFundingTime);
    const rate = mGet(st, cfg, m, MKT.fundingRate);
    const price = mGet(st, cfg, m, MKT.fundingPrice);
    if (updates === 0n) {
      if (index !== 0n || prevIndex !== 0n) v.push(`${m.symbol}: funding index ${index} without any funding update`);
    } else {
      if (time <= prevTime) v.push(`${m.symbol}: funding time ${time} not after ${prevTime}`);
      if (clampRate(m, rate) !== rate) v.push(`${m.symbol}: stored funding rate ${rate} beyond the clamp`);
      const secs = mGet(st, cfg, m, MKT.fundingSeconds);
      if (secs <= 0n || secs > m.fundingInterval || secs > time - prevTime) v.push(`${m.symbol}: funding tick accrued ${secs}s (interval ${m.fundingInterval}s, ${time - prevTime}s since the previous tick)`);
      else if (clampRate(m, rate) === rate && index - prevIndex !== fundingDelta(m, rate, price, secs)) {
        v.push(`${m.symbol}: funding index moved ${prevIndex} -> ${index}, but rate ${rate} x price ${price} x ${secs}s gives ${fundingDelta(m, rate, price, secs)} (reset or corruption)`);
      }
    }
    if (mGet(st, cfg, m, MKT.oraclePrice) <= 0n) v.push(`${m.symbol}: no positive mark price`);
  }
  if (costSum !== cost) v.push(`total cost ${cost} != sum of market costs ${costSum}`);
  // The vault is a margin account too (its balance is checked above, unconditionally).
  checkAccount(st, cfg, cfg.vaultAddress, v);
  if (touchedAccounts) {
    const seen = new Set<bigint>([cfg.vaultAddress]);
    for (const a of touchedAccounts) {
      if (seen.has(a)) continue;
      seen.add(a);
      if (a === cfg.vaultAddress || isAccount(st, a)) checkAccount(st, cfg, a, v);
    }
  }
  return v;
}

function checkAccount(st: StateAccess, cfg: ExchangeConfig, a: bigint, v: string[]): void {
  let holds = false;
  for (const m of cfg.markets) {
    const p = positionOf(st, a, m);
    const listed = isHolder(st, cfg, m, a);
    if (p.size !== 0n) {
      holds = true;
      if (p.size % m.stepSize !== 0n) v.push(`${hex(a)} ${m.symbol}: size ${p.size} off the step grid`);
      if ((p.size > 0n && p.cost < 0n) || (p.size < 0n && p.cost > 0n)) v.push(`${hex(a)} ${m.symbol}: cost ${p.cost} has the wrong sign for size ${p.size}`);
    }
    if (listed !== (p.size !== 0n)) v.push(`${hex(a)} ${m.symbol}: holder list says ${listed}, position ${p.size}`);
  }
  const c = collateralOf(st, a);
  if (c < 0n && !holds) v.push(`${hex(a)}: negative collateral ${c} with no position (no liquidation pending)`);
}

/** The full O(N) audit: every account, and every running total recomputed from scratch. */
export function auditInvariants(st: StateAccess, cfg: ExchangeConfig): string[] {
  const accounts = accountList(st, cfg);
  const all = [...accounts, cfg.vaultAddress];
  const v = checkInvariants(st, cfg, all);
  let coll = 0n;
  for (const a of all) coll += collateralOf(st, a);
  const total = exGet(st, cfg, EX.totalCollateral);
  if (coll !== total) v.push(`audit: collateral sums to ${coll}, total_collateral says ${total}`);
  for (const m of cfg.markets) {
    let long = 0n;
    let short = 0n;
    let cost = 0n;
    let holders = 0n;
    let snapshots = 0n;
    for (const a of all) {
      const p = positionOf(st, a, m);
      if (p.size > 0n) long += p.size;
      if (p.size < 0n) short -= p.size;
      if (p.size !== 0n) holders++;
      cost += p.cost;
      snapshots += p.size * p.fundingSnapshot;
    }
    if (snapshots !== mGet(st, cfg, m, MKT.snapshotSum)) v.push(`audit ${m.symbol}: size x snapshot sums to ${snapshots}, stored ${mGet(st, cfg, m, MKT.snapshotSum)}`);
    if (long !== mGet(st, cfg, m, MKT.longOi) || short !== mGet(st, cfg, m, MKT.shortOi)) v.push(`audit ${m.symbol}: positions sum to long ${long} / short ${short}, stored OI differs`);
    if (cost !== mGet(st, cfg, m, MKT.totalCost)) v.push(`audit ${m.symbol}: costs sum to ${cost}, stored ${mGet(st, cfg, m, MKT.totalCost)}`);
    const list = holdersOf(st, cfg, m);
    if (BigInt(list.length) !== holderCount(st, cfg, m) || BigInt(new Set(list).size) !== holders || list.length !== Number(holders)) {
      v.push(`audit ${m.symbol}: holder list has ${list.length} entries, ${holders} accounts hold positions`);
    }
  }
  return v;
}
