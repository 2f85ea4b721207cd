/**
 * Read-only views for the RPC. Pure functions of (state, config): they never write.
 * Amounts are bigint in the chain's units (USDC base units, 1e-8 sizes and prices, 1e-9
 * fractions); the RPC formats them.
 */
import type { StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { ACCOUNT_CLASS } from '../classes.ts';
import { ACC, EX, MKT } from '../layout.ts';
import { abs, floorDiv, FRACTION_SCALE, FUNDING_DIVISOR, NOTIONAL_DIVISOR } from '../math.ts';
import { collateralOf, exGet, holderCount, markPriceOf, mGet } from './ledger.ts';
import { getMode, getModeSeq, type Mode } from './modes.ts';
import { readOrderState } from './orders.ts';
import { accountRisk, isLiquidatable, withdrawable, type AccountRisk, type PositionRisk } from './risk.ts';

export interface PositionView {
  market: string;
  size: bigint;
  side: 'LONG' | 'SHORT';
  /** |cost| x 1e10 / |size|, rounded down (1e-8 USD). */
  entryPrice: bigint;
  cost: bigint;
  markPrice: bigint;
  notional: bigint;
  unrealizedPnl: bigint;
  pendingFunding: bigint;
  fundingSnapshot: bigint;
  initialMargin: bigint;
  maintenanceMargin: bigint;
  /** Mark price of this market at which the account hits maintenance (others fixed); null if none. */
  liquidationPrice: bigint | null;
}

export interface AccountView {
  address: bigint;
  deployed: boolean;
  publicKey: bigint;
  nonce: bigint;
  collateral: bigint;
  equity: bigint;
  unrealizedPnl: bigint;
  pendingFunding: bigint;
  initialMargin: bigint;
  maintenanceMargin: bigint;
  freeCollateral: bigint;
  withdrawable: bigint;
  /** maintenance / equity in 1e-9 (>= 1e9: liquidatable); null when equity <= 0 with positions. */
  marginRatio: bigint | null;
  liquidatable: boolean;
  positions: PositionView[];
}

function liquidationPrice(r: AccountRisk, p: PositionRisk): bigint | null {
  const s = p.position.size;
  const otherEquity = r.equity - p.unrealized; // equity without this market's unrealized PnL
  const otherMaint = r.maintenance - p.maintenance;
  const mmf = p.market.maintenanceMarginFraction;
  // equity(x) = otherEquity + s*x/1e10 - cost ; maintenance(x) = otherMaint + |s|*x*mmf/1e19
  const denom = s * FRACTION_SCALE - abs(s) * mmf;
  if (denom === 0n) return null;
  const num = (otherMaint - otherEquity + p.position.cost) * FUNDING_DIVISOR;
  const x = floorDiv(num * (denom < 0n ? -1n : 1n), abs(denom));
  return x > 0n ? x : null;
}

export function getAccountView(st: StateAccess, cfg: ExchangeConfig, address: bigint): AccountView {
  const r = accountRisk(st, cfg, address);
  const deployed = st.getClassHash(address) === ACCOUNT_CLASS.classHash;
  return {
    address,
    deployed,
    publicKey: st.getStorage(address, ACC.publicKey),
    nonce: st.getNonce(address),
    collateral: r.collateral,
    equity: r.equity,
    unrealizedPnl: r.unrealized,
    pendingFunding: r.pendingFunding,
    initialMargin: r.initial,
    maintenanceMargin: r.maintenance,
    freeCollateral: r.equity - r.initial,
    withdrawable: withdrawable(r),
    marginRatio: r.positions.length === 0 ? 0n : r.equity > 0n ? (r.maintenance * FRACTION_SCALE) / r.equity : null,
    liquidatable: isLiquidatable(r),
    positions: r.positions.map((p) => ({
      market: p.market.symbol,
      size: p.position.size,
      side: p.position.size > 0n ? 'LONG' : 'SHORT',
      entryPrice: (abs(p.position.cost) * NOTIONAL_DIVISOR) / abs(p.position.size),
      cost: p.position.cost,
      markPrice: p.mark,
      notional: p.notional,
      unrealizedPnl: p.unrealized,
      pendingFunding: p.pendingFunding,
      fundingSnapshot: p.position.fundingSnapshot,
      initialMargin: p.initial,
      maintenanceMargin: p.maintenance,
      liquidationPrice: liquidationPrice(r, p),
    })),
  };
}

export interface FundingView {
  market: string;
  index: bigint;
  /** Rate per funding period applied last (1e-9). */
  rate: bigint;
  lastUpdate: bigint;
  previousIndex: bigint;
  previousUpdate: bigint;
  /** Mark price used by the last update. */
  price: bigint;
  updates: bigint;
  period: bigint;
  interval: bigint;
  clamp: bigint;
}

function market(cfg: ExchangeConfig, symbol: string): MarketConfig {
  const m = cfg.marketBySymbol.get(symbol);
  if (!m) throw new Error(`unknown market ${symbol}`);
  return m;
}

export function getFundingView(st: StateAccess, cfg: ExchangeConfig, symbol: string): FundingView {
  const m = market(cfg, symbol);
  return {
    market: m.symbol,
    index: mGet(st, cfg, m, MKT.fundingIndex),
    rate: mGet(st, cfg, m, MKT.fundingRate),
    lastUpdate: mGet(st, cfg, m, MKT.fundingTime),
    previousIndex: mGet(st, cfg, m, MKT.prevFundingIndex),
    previousUpdate: mGet(st, cfg, m, MKT.prevFundingTime),
    price: mGet(st, cfg, m, MKT.fundingPrice),
    updates: mGet(st, cfg, m, MKT.fundingUpdates),
    period: m.fundingPeriod,
    interval: m.fundingInterval,
    clamp: m.fundingRateClamp,
  };
}

export interface MarketView {
  symbol: string;
  config: MarketConfig;
  markPrice: bigint;
  oracleTimestamp: bigint;
  longOpenInterest: bigint;
  shortOpenInterest: bigint;
  holders: bigint;
  funding: FundingView;
}

export function getMarketView(st: StateAccess, cfg: ExchangeConfig, symbol: string): MarketView {
  const m = market(cfg, symbol);
  return {
    symbol: m.symbol,
    config: m,
    markPrice: markPriceOf(st, cfg, m),
    oracleTimestamp: mGet(st, cfg, m, MKT.oracleTimestamp),
    longOpenInterest: mGet(st, cfg, m, MKT.longOi),
    shortOpenInterest: mGet(st, cfg, m, MKT.shortOi),
    holders: holderCount(st, cfg, m),
    funding: getFundingView(st, cfg, symbol),
  };
}

export interface VaultView {
  address: bigint;
  balance: bigint;
  equity: bigint;
  unrealizedPnl: bigint;
  positions: PositionView[];
  refundsPaid: bigint;
  /** Bad debt the loss waterfall wrote off and vault income has not repaid yet. */
  socializedLoss: bigint;
  /** Every amount ever written off as socialized loss. */
  socializedLossTotal: bigint;
}

export function getVaultView(st: StateAccess, cfg: ExchangeConfig): VaultView {
  const a = getAccountView(st, cfg, cfg.vaultAddress);
  return { address: cfg.vaultAddress, balance: a.collateral, equity: a.equity, unrealizedPnl: a.unrealizedPnl, positions: a.positions, refundsPaid: exGet(st, cfg, EX.refundTotal), socializedLoss: exGet(st, cfg, EX.socializedLoss), socializedLossTotal: exGet(st, cfg, EX.socializedLossTotal) };
}

export interface OrderStateView {
  account: bigint;
  filled: bigint;
  cancelled: boolean;
  triggered: boolean;
}

/**
 * On-chain state of an order in its owner's account (the order's `account`: the chain keeps no
 * owner index; the node's order table knows every order's account).
 */
export function getOrderState(st: StateAccess, _cfg: ExchangeConfig, orderHash: bigint, account: bigint): OrderStateView {
  const { filled, cancelled, triggered } = readOrderState(st, account, orderHash);
  return { account, filled, cancelled, triggered };
}

export function markPrice(st: StateAccess, cfg: ExchangeConfig, symbol: string): bigint {
  return markPriceOf(st, cfg, market(cfg, symbol));
}

export interface ExchangeView {
  mode: Mode;
  modeSeq: bigint;
  totalDeposits: bigint;
  totalWithdrawals: bigint;
  totalCollateral: bigint;
  feeBalance: bigint;
  fundingPool: bigint;
  totalPositionCost: bigint;
  accounts: bigint;
  vaultBalance: bigint;
}

export function getExchangeView(st: StateAccess, cfg: ExchangeConfig): ExchangeView {
  return {
    mode: getMode(st, cfg),
    modeSeq: getModeSeq(st, cfg),
    totalDeposits: exGet(st, cfg, EX.totalDeposits),
    totalWithdrawals: exGet(st, cfg, EX.totalWithdrawals),
    totalCollateral: exGet(st, cfg, EX.totalCollateral),
    feeBalance: exGet(st, cfg, EX.feeBalance),
    fundingPool: exGet(st, cfg, EX.fundingPool),
    totalPositionCost: exGet(st, cfg, EX.totalCost),
    accounts: exGet(st, cfg, EX.accountCount),
    vaultBalance: collateralOf(st, cfg.vaultAddress),
  };
}
