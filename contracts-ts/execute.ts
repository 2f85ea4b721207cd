/**
 * executeTransaction: the one entry point of state transitions. Applies the maintenance-mode
 * gate, then the transaction's own rules; throws TxRevert on any failure (the node undoes the
 * transaction's writes). Returns the events and the accounts whose margin data it touched.
 *
 * Mode gate (each type's `refusedIn`, txs/<type>.ts):
 *   HALTED       only SET_MODE
 *   CANCEL_ONLY  no TRADE, LIQUIDATE, ADL, VAULT_UNWIND, TRIGGER, FUNDING
 *   POST_ONLY    no LIQUIDATE, ADL, VAULT_UNWIND, TRIGGER, FUNDING; TRADE only inside the maintenance band
 */
import type { ContractEvent, ExecContext, StateAccess } from './state.ts';
import type { ExchangeConfig } from './config.ts';
import type { PerpTx } from './tx.ts';
import { txDescriptor } from './txs/index.ts';
import { revert } from './exchange/errors.ts';
import { getMode } from './exchange/modes.ts';
import { checkNotVoided } from './exchange/replay.ts';

export interface ExecResult {
  events: ContractEvent[];
}

const MODE_ERROR = { HALTED: 'MODE_HALTED', CANCEL_ONLY: 'MODE_CANCEL_ONLY', POST_ONLY: 'MODE_POST_ONLY' } as const;

export function executeTransaction(tx: PerpTx, state: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ExecResult {
  const d = txDescriptor(tx.type);
  const mode = getMode(state, cfg);
  if (mode !== 'NORMAL' && d.refusedIn.includes(mode)) revert(MODE_ERROR[mode], `${tx.type} rejected`);
  checkNotVoided(tx, state, ctx, cfg); // messages of a rolled-back branch (exchange/replay.ts)
  // INVOKE: each call of the multicall goes through executeTransaction again (mode gate included).
  return { events: d.execute(tx, state, ctx, cfg, executeTransaction as (tx: { type: string }, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig) => ExecResult) };
}
