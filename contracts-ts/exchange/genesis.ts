/**
 * applyGenesis: the exchange's initial state. Deploys the Exchange and the Liquidator Vault,
 * writes each market's parameters (so the state root commits to them), initial oracle prices
 * and funding clocks at the genesis timestamp, funds the vault, deploys and funds the dev
 * accounts, and sets the initial mode. Funding the vault and the dev accounts counts as
 * deposits, so the conservation identity holds from block 0.
 */
import type { ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { deployAccount } from '../account/account.ts';
import { EXCHANGE_CLASS, VAULT_CLASS } from '../classes.ts';
import { EX, MKT } from '../layout.ts';
import { addCollateral, exAdd, mSet } from './ledger.ts';
import { modeToFelt } from './modes.ts';

/**
 * A market's static parameters as the genesis writes them into the exchange's storage (so the
 * state root commits to them): [offset from the market's base, genesis field name, value].
 * Execution reads them from the configuration; the node's start check compares the two
 * through the committed tries (chain/verify.ts), so an edited genesis file cannot change them.
 */
export const MARKET_PARAMS: readonly (readonly [bigint, string, (m: MarketConfig) => bigint])[] = [
  [MKT.tickSize, 'tick_size', (m) => m.tickSize],
  [MKT.stepSize, 'step_size', (m) => m.stepSize],
  [MKT.minSize, 'min_size', (m) => m.minSize],
  [MKT.initialMarginFraction, 'initial_margin_fraction', (m) => m.initialMarginFraction],
  [MKT.maintenanceMarginFraction, 'maintenance_margin_fraction', (m) => m.maintenanceMarginFraction],
  [MKT.makerFee, 'maker_fee', (m) => m.makerFee],
  [MKT.takerFee, 'taker_fee', (m) => m.takerFee],
  [MKT.fundingPeriod, 'funding_period_seconds', (m) => m.fundingPeriod],
  [MKT.fundingRateClamp, 'funding_rate_clamp', (m) => m.fundingRateClamp],
  [MKT.priceBandBps, 'price_band_bps', (m) => m.priceBandBps],
  [MKT.openInterestCap, 'open_interest_cap', (m) => m.openInterestCap],
  [MKT.liquidationPenalty, 'liquidation_penalty', (m) => m.liquidationPenalty],
  [MKT.liquidationStepFraction, 'liquidation_step_fraction', (m) => m.liquidationStepFraction],
  [MKT.oracleMaxJump, 'oracle_max_jump', (m) => m.oracleMaxJump],
  [MKT.impactNotional, 'impact_notional', (m) => m.impactNotional],
  [MKT.fundingBaselineRate, 'funding_baseline_rate', (m) => m.fundingBaselineRate],
];

export function applyGenesis(st: StateAccess, cfg: ExchangeConfig, ctx: ExecContext): void {
  for (const [addr, cls] of [
    [cfg.exchangeAddress, EXCHANGE_CLASS],
    [cfg.vaultAddress, VAULT_CLASS],
  ] as const) {
    if (st.getClassHash(addr) !== 0n) throw new Error(`genesis: address 0x${addr.toString(16)} is already deployed`);
    st.deploy(addr, cls.classHash);
  }
  const now = ctx.block.timestamp;
  st.setStorage(cfg.exchangeAddress, EX.mode, modeToFelt(cfg.initialMode));
  for (const m of cfg.markets) {
    mSet(st, cfg, m, MKT.oraclePrice, m.initialPrice);
    mSet(st, cfg, m, MKT.oracleTimestamp, now);
    mSet(st, cfg, m, MKT.fundingTime, now);
    mSet(st, cfg, m, MKT.prevFundingTime, now);
    mSet(st, cfg, m, MKT.fundingPrice, m.initialPrice);
    for (const [off, , value] of MARKET_PARAMS) mSet(st, cfg, m, off, value(m));
  }
  if (cfg.vaultInitialBalance > 0n) {
    exAdd(st, cfg, EX.totalDeposits, cfg.vaultInitialBalance);
    addCollateral(st, cfg, cfg.vaultAddress, cfg.vaultInitialBalance);
  }
  for (const a of cfg.devAccounts) {
    deployAccount(st, cfg, a.publicKey);
    if (a.balance > 0n) {
      exAdd(st, cfg, EX.totalDeposits, a.balance);
      addCollateral(st, cfg, a.address, a.balance);
    }
  }
}
