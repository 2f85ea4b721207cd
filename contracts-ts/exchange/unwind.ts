/**
 * VAULT_UNWIND {account, market, maker, size, price, positionBefore, block}: the Liquidator Vault
 * closes part of a position it took over against one resting, signed maker order of the book
 * (a system transaction: the sequencer proposes it, the vault signs nothing; every rule is
 * re-checked here, so a follower replays it identically). Rule order:
 *  1. `account` is the vault (INVALID_ROLE); `block` is the executing block and `positionBefore`
 *     the vault's position, which is not flat (STALE_PROPOSAL); the market's oracle price is fresh;
 *  2. the maker is a resting limit order (GTC or POST_ONLY; INVALID_ROLE) of another account
 *     (SELF_TRADE) in this market, on the side that reduces the vault (a BUY when the vault is
 *     long; INVALID_ORDER), passing the static order rules;
 *  3. size: positive, on the step grid, at most |positionBefore| (the vault only reduces) and at
 *     most what is left of this block's allowance in this market (UNWIND_SIZE). The allowance is
 *     set at the block's first unwind in the market to stepOf(|s|) = max(min_size,
 *     ceil_to_step(|s| x liquidation_step_fraction)) (|s| when the remainder would fall below
 *     min_size), so the vault never dumps its whole position in one block;
 *  4. price: the maker's limit exactly (worse: PRICE_LIMIT; better: INVALID_PRICE), and within
 *     the market's MARKET-order band, |price - mark| x 1e4 <= mark x price_band_bps (PRICE_BAND);
 *  5. the maker order: not expired, signature, then TRADE's order-state rule (recordFill:
 *     not cancelled, no overfill, FOK in one block, triggered); reduce-only;
 *  6. apply: both sides settle funding and realise PnL (applyFill); the maker pays its maker fee
 *     (a rebate, a negative maker fee, is not paid: the vault has no taker fee to fund it), which
 *     is booked like a trade's fees (collectFees, vault share included); the vault pays no fee;
 *  7. margin: the maker as in TRADE (checkMargin); the vault's balance must be >= 0 afterwards
 *     and its equity >= 0 (or, when it was already below zero, not lower than before;
 *     VAULT_INSUFFICIENT), so an unwind never creates bad debt.
 * Only failures of the maker's own order carry party 'maker' (the node then drops that order
 * from its book, as for a TRADE); a band, size or vault failure names no party.
 * Event VaultUnwind [maker account] [market, maker hash, size, price, maker side, maker fee, vault's realised PnL].
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { MKT } from '../layout.ts';
import { abs, max, min, toFelt } from '../math.ts';
import { shortStringFelt } from '../typed-data.ts';
import type { VaultUnwindTx } from '../tx.ts';
import { canRest, isMarketKind, reducible, withinBand } from './order.ts';
import { revert } from './errors.ts';
import { event } from './events.ts';
import { addCollateral, applyFill, collectFees, markPriceOf, mGet, mSet, notional, positionOf } from './ledger.ts';
import { checkOracleFresh, stepOf } from './liquidation.ts';
import { checkOrderSignature, checkOrderStatic } from './orders.ts';
import { accountRisk } from './risk.ts';
import { checkLimit, checkMargin, feeOf, recordFill } from './trade.ts';

/** What the vault may still unwind in market `m` in block `block` (its position is `absSize`). */
export function unwindAllowance(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, block: bigint, absSize: bigint): bigint {
  if (mGet(st, cfg, m, MKT.vaultUnwindBlock) === block + 1n) return mGet(st, cfg, m, MKT.vaultUnwindLeft);
  return stepOf(m, absSize);
}

export function execVaultUnwind(tx: VaultUnwindTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const vault = cfg.vaultAddress;
  // 1. who, when, what
  if (tx.account !== vault) revert('INVALID_ROLE', 'only the Liquidator Vault unwinds');
  const m = cfg.marketBySymbol.get(tx.market);
  if (!m) revert('UNKNOWN_MARKET', tx.market);
  const block = ctx.block.blockNumber;
  if (tx.block !== block) revert('STALE_PROPOSAL', `proposed for block ${tx.block}, executing in block ${block}`);
  const s = positionOf(st, vault, m).size;
  if (s !== tx.positionBefore) revert('STALE_PROPOSAL', `the vault's position is ${s}, not ${tx.positionBefore}`);
  if (s === 0n) revert('STALE_PROPOSAL', 'the vault holds no position in this market');
  checkOracleFresh(st, cfg, m, ctx.block.timestamp);
  // 2. the maker
  const mo = tx.maker.order;
  if (!canRest(mo)) revert('INVALID_ROLE', 'the maker must be a resting limit order (GTC or POST_ONLY)', 'maker');
  if (mo.account === vault) revert('SELF_TRADE', 'the vault cannot trade with itself', 'maker');
  if (mo.market !== m.symbol) revert('INVALID_ORDER', `maker order is for ${mo.market}`, 'maker');
  const makerSide = s > 0n ? 'BUY' : 'SELL';
  if (mo.side !== makerSide) revert('INVALID_ORDER', `the vault's position ${s} is reduced only by a ${makerSide} maker`, 'maker');
  checkOrderStatic(mo, cfg, 'maker');
  // 3. size
  if (tx.size <= 0n || tx.size % m.stepSize !== 0n) revert('UNWIND_SIZE', `size ${tx.size} must be a positive multiple of ${m.stepSize}`);
  if (tx.size > abs(s)) revert('UNWIND_SIZE', `size ${tx.size} exceeds the vault's position ${s}`);
  const left = unwindAllowance(st, cfg, m, block, abs(s));
  if (tx.size > left) revert('UNWIND_SIZE', `at most ${left} more in block ${block}`);
  // 4. price
  checkLimit(mo, tx.price, 'maker');
  if (tx.price !== mo.price) revert('INVALID_PRICE', `the vault trades at the maker's price ${mo.price}, not ${tx.price}`);
  const mark = markPriceOf(st, cfg, m);
  if (!withinBand(tx.price, mark, m.priceBandBps)) revert('PRICE_BAND', `unwind price ${tx.price} outside mark ${mark} ± ${m.priceBandBps} bps`);
  // 5. the maker order
  if (mo.expiry <= ctx.block.timestamp) revert('ORDER_EXPIRED', `maker expiry ${mo.expiry}`, 'maker');
  const makerHash = checkOrderSignature(tx.maker, st, ctx, 'maker');
  recordFill(st, cfg, ctx, tx.maker, makerHash, tx.size, mark, 'maker');
  const makerPos = positionOf(st, mo.account, m).size;
  if (mo.reduceOnly && tx.size > reducible(mo.side, makerPos)) revert('REDUCE_ONLY', `position ${makerPos}, fill ${tx.size}`, 'maker');
  const delta = (mo.side === 'BUY' ? 1n : -1n) * tx.size;
  const increases = makerPos === 0n || (makerPos > 0n) === (delta > 0n) || abs(delta) > abs(makerPos);
  const before = increases ? undefined : accountRisk(st, cfg, mo.account);
  // 6. apply
  const vaultBefore = accountRisk(st, cfg, vault);
  const cash = notional(tx.size, tx.price);
  applyFill(st, cfg, mo.account, m, delta, cash);
  const realized = applyFill(st, cfg, vault, m, -delta, cash).realized;
  const fee = max(0n, feeOf(cash, m.makerFee));
  addCollateral(st, cfg, mo.account, -fee);
  collectFees(st, cfg, fee);
  mSet(st, cfg, m, MKT.vaultUnwindBlock, block + 1n);
  mSet(st, cfg, m, MKT.vaultUnwindLeft, left - tx.size);
  // 7. margin
  checkMargin(st, cfg, mo.account, increases, before, 'maker');
  const v = accountRisk(st, cfg, vault);
  if (v.collateral < 0n || v.equity < min(0n, vaultBefore.equity)) revert('VAULT_INSUFFICIENT', `the unwind would leave the vault with balance ${v.collateral}, equity ${v.equity}`);
  return [event(cfg.exchangeAddress, 'VaultUnwind', [mo.account], [m.id, makerHash, tx.size, tx.price, shortStringFelt(mo.side), fee, toFelt(realized)])];
}
