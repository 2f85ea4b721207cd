/**
 * applyGenesis: the exchange's initial state. Deploys the Exchange and the Liquidator Vault,
 * writes each market's parameters (so the state root commits to them), initial oracle prices
 * and funding clocks at the genesis timestamp, funds the vault, deploys and funds the dev
 * accounts, and sets the initial mode. Funding the vault and the dev accounts counts as
 * deposits, so the conservation identity holds from block 0.
 */
import type { ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig } from '../config.ts';
import { deployAccount } from '../account/account.ts';
import { EXCHANGE_CLASS, VAULT_CLASS } from '../classes.ts';
import { EX, MKT } from '../layout.ts';
import { addCollateral, exAdd, mSet } from './ledger.ts';
import { modeToFelt } from './modes.ts';

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
    mSet(st, cfg, m, MKT.tickSize, m.tickSize);
    mSet(st, cfg, m, MKT.stepSize, m.stepSize);
    mSet(st, cfg, m, MKT.minSize, m.minSize);
    mSet(st, cfg, m, MKT.initialMarginFraction, m.initialMarginFraction);
    mSet(st, cfg, m, MKT.maintenanceMarginFraction, m.maintenanceMarginFraction);
    mSet(st, cfg, m, MKT.makerFee, m.makerFee);
    mSet(st, cfg, m, MKT.takerFee, m.takerFee);
    mSet(st, cfg, m, MKT.fundingPeriod, m.fundingPeriod);
    mSet(st, cfg, m, MKT.fundingRateClamp, m.fundingRateClamp);
    mSet(st, cfg, m, MKT.priceBandBps, m.priceBandBps);
    mSet(st, cfg, m, MKT.openInterestCap, m.openInterestCap);
    mSet(st, cfg, m, MKT.liquidationPenalty, m.liquidationPenalty);
    mSet(st, cfg, m, MKT.liquidationStepFraction, m.liquidationStepFraction);
    mSet(st, cfg, m, MKT.oracleMaxJump, m.oracleMaxJump);
    mSet(st, cfg, m, MKT.impactNotional, m.impactNotional);
    mSet(st, cfg, m, MKT.fundingBaselineRate, m.fundingBaselineRate);
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
