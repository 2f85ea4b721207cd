/**
 * executeTransaction: the one entry point of state transitions. Applies the maintenance-mode
 * gate, then the transaction's own rules; throws TxRevert on any failure (the node undoes the
 * transaction's writes). Returns the events and the accounts whose margin data it touched.
 *
 * Mode gate:
 *   HALTED       only SET_MODE
 *   CANCEL_ONLY  no TRADE, LIQUIDATE, ADL, VAULT_UNWIND, TRIGGER, FUNDING
 *   POST_ONLY    no LIQUIDATE, ADL, VAULT_UNWIND, TRIGGER, FUNDING; TRADE only inside the maintenance band
 */
import type { ContractEvent, ExecContext, StateAccess } from './state.ts';
import type { ExchangeConfig } from './config.ts';
import type { PerpTx } from './tx.ts';
import { execDeployAccount } from './account/account.ts';
import { revert } from './exchange/errors.ts';
import { execDeposit, execRefund, execTransfer, execWithdraw } from './exchange/collateral.ts';
import { execCancel, execCancelAll, execSystemCancel, execTrigger } from './exchange/orders.ts';
import { execTrade } from './exchange/trade.ts';
import { execOracleUpdate } from './exchange/oracle.ts';
import { execFunding, execFundingSample } from './exchange/funding.ts';
import { execAdl, execLiquidate } from './exchange/liquidation.ts';
import { execVaultUnwind } from './exchange/unwind.ts';
import { execSetMode } from './exchange/admin.ts';
import { getMode } from './exchange/modes.ts';
import { checkNotVoided, execVoidSigned } from './exchange/replay.ts';
import { execDeployAccountV3, execInvoke } from './starknet/entrypoints.ts';

export interface ExecResult {
  events: ContractEvent[];
}

const NO_CANCEL_ONLY = new Set<PerpTx['type']>(['TRADE', 'LIQUIDATE', 'ADL', 'VAULT_UNWIND', 'TRIGGER', 'FUNDING']);
const NO_POST_ONLY = new Set<PerpTx['type']>(['LIQUIDATE', 'ADL', 'VAULT_UNWIND', 'TRIGGER', 'FUNDING']);

export function executeTransaction(tx: PerpTx, state: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ExecResult {
  const mode = getMode(state, cfg);
  if (mode === 'HALTED' && tx.type !== 'SET_MODE') revert('MODE_HALTED', `${tx.type} rejected`);
  if (mode === 'CANCEL_ONLY' && NO_CANCEL_ONLY.has(tx.type)) revert('MODE_CANCEL_ONLY', `${tx.type} rejected`);
  if (mode === 'POST_ONLY' && NO_POST_ONLY.has(tx.type)) revert('MODE_POST_ONLY', `${tx.type} rejected`);
  checkNotVoided(tx, state, ctx, cfg); // messages of a rolled-back branch (exchange/replay.ts)
  switch (tx.type) {
    case 'DEPLOY_ACCOUNT':
      return { events: execDeployAccount(tx, state, ctx, cfg) };
    case 'DEPOSIT':
      return { events: execDeposit(tx, state, ctx, cfg) };
    case 'WITHDRAW':
      return { events: execWithdraw(tx, state, ctx, cfg) };
    case 'TRANSFER':
      return { events: execTransfer(tx, state, ctx, cfg) };
    case 'TRADE':
      return { events: execTrade(tx, state, ctx, cfg) };
    case 'CANCEL':
      return { events: execCancel(tx, state, ctx, cfg) };
    case 'CANCEL_ALL':
      return { events: execCancelAll(tx, state, ctx, cfg) };
    case 'ORACLE_UPDATE':
      return { events: execOracleUpdate(tx, state, ctx, cfg) };
    case 'FUNDING':
      return { events: execFunding(tx, state, ctx, cfg) };
    case 'FUNDING_SAMPLE':
      return { events: execFundingSample(tx, state, ctx, cfg) };
    case 'LIQUIDATE':
      return { events: execLiquidate(tx, state, ctx, cfg) };
    case 'ADL':
      return { events: execAdl(tx, state, ctx, cfg) };
    case 'VAULT_UNWIND':
      return { events: execVaultUnwind(tx, state, ctx, cfg) };
    case 'SET_MODE':
      return { events: execSetMode(tx, state, ctx, cfg) };
    case 'REFUND':
      return { events: execRefund(tx, state, ctx, cfg) };
    case 'SYSTEM_CANCEL':
      return { events: execSystemCancel(tx, state, ctx, cfg) };
    case 'TRIGGER':
      return { events: execTrigger(tx, state, ctx, cfg) };
    case 'VOID_SIGNED':
      return { events: execVoidSigned(tx, state, ctx, cfg) };
    case 'INVOKE':
      // Each call of the multicall goes through executeTransaction again (mode gate included).
      return { events: execInvoke(tx, state, ctx, cfg, executeTransaction) };
    case 'DEPLOY_ACCOUNT_V3':
      return { events: execDeployAccountV3(tx, state, ctx, cfg) };
  }
}
