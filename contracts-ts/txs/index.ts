/**
 * The transaction registry: type -> descriptor (txs/define.ts), one module per type. The order
 * of TX_DESCRIPTORS is TX_TYPES' order (it appears in error messages).
 */
import { DEPLOY_ACCOUNT } from './deploy-account.ts';
import { DEPOSIT } from './deposit.ts';
import { WITHDRAW } from './withdraw.ts';
import { TRANSFER } from './transfer.ts';
import { TRADE } from './trade.ts';
import { CANCEL } from './cancel.ts';
import { CANCEL_ALL } from './cancel-all.ts';
import { ORACLE_UPDATE } from './oracle-update.ts';
import { FUNDING } from './funding.ts';
import { FUNDING_SAMPLE } from './funding-sample.ts';
import { LIQUIDATE } from './liquidate.ts';
import { ADL } from './adl.ts';
import { VAULT_UNWIND } from './vault-unwind.ts';
import { SET_MODE } from './set-mode.ts';
import { REFUND } from './refund.ts';
import { SYSTEM_CANCEL } from './system-cancel.ts';
import { TRIGGER } from './trigger.ts';
import { VOID_SIGNED } from './void-signed.ts';
import { PRUNE_ORDERS } from './prune-orders.ts';
import { INVOKE } from './invoke.ts';
import { DEPLOY_ACCOUNT_V3 } from './deploy-account-v3.ts';
import type { TxDescriptor } from './define.ts';

export const TX_DESCRIPTORS = [
  DEPLOY_ACCOUNT,
  DEPOSIT,
  WITHDRAW,
  TRANSFER,
  TRADE,
  CANCEL,
  CANCEL_ALL,
  ORACLE_UPDATE,
  FUNDING,
  LIQUIDATE,
  ADL,
  VAULT_UNWIND,
  SET_MODE,
  REFUND,
  SYSTEM_CANCEL,
  TRIGGER,
  VOID_SIGNED,
  INVOKE,
  DEPLOY_ACCOUNT_V3,
  FUNDING_SAMPLE,
  PRUNE_ORDERS,
] as const;

type Tx<D> = D extends TxDescriptor<infer T> ? T : never;

/** Every transaction, derived from the descriptors. */
export type PerpTx = Tx<(typeof TX_DESCRIPTORS)[number]>;
export type TxType = PerpTx['type'];

const BY_TYPE = new Map<string, TxDescriptor<PerpTx>>(TX_DESCRIPTORS.map((d) => [d.type, d as unknown as TxDescriptor<PerpTx>]));

/** The descriptor of a transaction's type (typed loosely: each field function takes the whole union). */
export function txDescriptor(type: string): TxDescriptor<PerpTx> {
  const d = BY_TYPE.get(type);
  if (!d) throw new Error(`unknown transaction type ${type}`);
  return d;
}

export type { TxDescriptor, OwnSignature, SignerRef, Executor } from './define.ts';
export type { DeployAccountTx } from './deploy-account.ts';
export type { DepositTx } from './deposit.ts';
export type { WithdrawTx } from './withdraw.ts';
export type { TransferTx } from './transfer.ts';
export type { TradeTx } from './trade.ts';
export type { CancelTx } from './cancel.ts';
export type { CancelAllTx } from './cancel-all.ts';
export type { OracleUpdateTx } from './oracle-update.ts';
export type { FundingTx } from './funding.ts';
export type { FundingSampleTx } from './funding-sample.ts';
export type { LiquidateTx } from './liquidate.ts';
export type { AdlTx } from './adl.ts';
export type { VaultUnwindTx } from './vault-unwind.ts';
export type { SetModeTx } from './set-mode.ts';
export type { RefundTx } from './refund.ts';
export type { SystemCancelTx } from './system-cancel.ts';
export type { TriggerTx } from './trigger.ts';
export type { VoidSignedTx } from './void-signed.ts';
export type { PruneOrdersTx } from './prune-orders.ts';
