/**
 * Money in and out: DEPOSIT (bridge operator signature, deduplicated by deposit id; to an account
 * or to the Liquidator Vault's address, which recapitalises the vault), WITHDRAW
 * and TRANSFER (account signature and nonce; may not take collateral below the initial margin
 * requirement; refused while the withdrawal gate is closed), REFUND (system: from the
 * Liquidator Vault, once per incident and account).
 *
 * Withdrawal gate (dYdX's rule, docs/exchange.md "Withdrawal gate"): WITHDRAW and TRANSFER are
 * refused (WITHDRAWALS_GATED) in the withdrawal_gate_blocks blocks from the last block in which
 * an account was seen with negative equity (a liquidation or ADL of a bankrupt account), or in
 * which an outage ended (two oracle updates chain_outage_seconds or more apart), and while an
 * outage is in progress (no oracle update for chain_outage_seconds). Unbacked profit cannot leave
 * before the loss behind it is settled, nor against prices the chain has not seen.
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig } from '../config.ts';
import { checkSig, isAccount, requireAccount } from '../account/account.ts';
import { EX, mapKey, refundKey } from '../layout.ts';
import { depositHash, transferHash, withdrawHash } from '../typed-data.ts';
import type { DepositTx, RefundTx, TransferTx, WithdrawTx } from '../tx.ts';
import { revert } from './errors.ts';
import { event } from './events.ts';
import { addCollateral, collateralOf, creditVault, exAdd, exGet, exSet } from './ledger.ts';
import { accountRisk, withdrawable } from './risk.ts';

/** Checks nonce == account nonce and bumps it. */
export function useNonce(st: StateAccess, addr: bigint, nonce: bigint): void {
  const cur = st.getNonce(addr);
  if (nonce !== cur) revert('INVALID_NONCE', `expected ${cur}, got ${nonce}`);
  st.setNonce(addr, cur + 1n);
}

export function execDeposit(tx: DepositTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  if (tx.amount <= 0n) revert('INVALID_AMOUNT', 'deposit amount must be positive');
  checkSig(ctx, depositHash(tx, cfg.bridgeOperator.publicKey, ctx.block.chainId), cfg.bridgeOperator.publicKey, tx.signature, 'Deposit (bridge operator)');
  const toVault = tx.recipient === cfg.vaultAddress;
  if (!toVault && !isAccount(st, tx.recipient)) revert('ACCOUNT_NOT_DEPLOYED', `recipient 0x${tx.recipient.toString(16)}`);
  const k = mapKey(EX.deposits, tx.depositId);
  if (st.getStorage(cfg.exchangeAddress, k) !== 0n) revert('DUPLICATE', `deposit 0x${tx.depositId.toString(16)} already processed`);
  st.setStorage(cfg.exchangeAddress, k, 1n);
  exAdd(st, cfg, EX.totalDeposits, tx.amount);
  // A deposit to the vault address recapitalises the Liquidator Vault (repaying socialized loss first).
  if (toVault) creditVault(st, cfg, tx.amount);
  else addCollateral(st, cfg, tx.recipient, tx.amount);
  return [event(cfg.exchangeAddress, 'Deposit', [tx.recipient], [tx.depositId, tx.amount])];
}

export function isDepositProcessed(st: StateAccess, cfg: ExchangeConfig, depositId: bigint): boolean {
  return st.getStorage(cfg.exchangeAddress, mapKey(EX.deposits, depositId)) !== 0n;
}

/** Records that an account was seen with negative equity in this block (closes the withdrawal gate). */
export function noteNegativeEquity(st: StateAccess, cfg: ExchangeConfig, ctx: ExecContext): void {
  exSet(st, cfg, EX.negativeEquityBlock, ctx.block.blockNumber);
}

/** Why withdrawals and transfers are gated in this block, or null when they are open. */
export function withdrawalGate(st: StateAccess, cfg: ExchangeConfig, ctx: ExecContext): string | null {
  const n = cfg.withdrawalGateBlocks;
  const b = ctx.block.blockNumber;
  const neg = exGet(st, cfg, EX.negativeEquityBlock);
  if (n > 0n && neg !== 0n && b < neg + n) return `an account had negative equity in block ${neg}: open again at block ${neg + n}`;
  const out = exGet(st, cfg, EX.outageBlock);
  if (n > 0n && out !== 0n && b < out + n) return `an outage ended in block ${out}: open again at block ${out + n}`;
  const last = exGet(st, cfg, EX.oracleLastUpdate);
  if (last !== 0n && ctx.block.timestamp - last >= cfg.chainOutageSeconds) return `no oracle price for ${ctx.block.timestamp - last}s (outage)`;
  return null;
}

function gate(st: StateAccess, cfg: ExchangeConfig, ctx: ExecContext): void {
  const why = withdrawalGate(st, cfg, ctx);
  if (why) revert('WITHDRAWALS_GATED', why);
}

function takeFree(st: StateAccess, cfg: ExchangeConfig, addr: bigint, amount: bigint): void {
  const r = accountRisk(st, cfg, addr);
  const w = withdrawable(r);
  if (amount > w) revert('INSUFFICIENT_COLLATERAL', `at most ${w} may leave the account (collateral ${r.collateral}, equity ${r.equity}, initial margin ${r.initial})`);
  addCollateral(st, cfg, addr, -amount);
}

export function execWithdraw(tx: WithdrawTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const key = requireAccount(st, tx.account);
  checkSig(ctx, withdrawHash(tx, ctx.block.chainId), key, tx.signature, 'Withdraw');
  useNonce(st, tx.account, tx.nonce);
  if (tx.amount <= 0n) revert('INVALID_AMOUNT', 'withdrawal amount must be positive');
  if (tx.recipient === 0n) revert('INVALID_RECIPIENT', 'recipient must be nonzero');
  gate(st, cfg, ctx);
  takeFree(st, cfg, tx.account, tx.amount);
  exAdd(st, cfg, EX.totalWithdrawals, tx.amount);
  return [event(cfg.exchangeAddress, 'Withdraw', [tx.account], [tx.recipient, tx.amount, tx.nonce])];
}

export function execTransfer(tx: TransferTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const key = requireAccount(st, tx.account);
  checkSig(ctx, transferHash(tx, ctx.block.chainId), key, tx.signature, 'Transfer');
  useNonce(st, tx.account, tx.nonce);
  if (tx.amount <= 0n) revert('INVALID_AMOUNT', 'transfer amount must be positive');
  if (tx.recipient === tx.account || !isAccount(st, tx.recipient)) revert('INVALID_RECIPIENT', 'recipient must be another deployed account');
  gate(st, cfg, ctx);
  takeFree(st, cfg, tx.account, tx.amount);
  addCollateral(st, cfg, tx.recipient, tx.amount);
  return [event(cfg.exchangeAddress, 'Transfer', [tx.account, tx.recipient], [tx.amount, tx.nonce])];
}

/** REFUND: vault -> account, keyed by (incident, account) so it is paid at most once. */
export function execRefund(tx: RefundTx, st: StateAccess, _ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  if (tx.amount <= 0n) revert('INVALID_AMOUNT', 'refund amount must be positive');
  if (!isAccount(st, tx.account)) revert('ACCOUNT_NOT_DEPLOYED', `0x${tx.account.toString(16)}`);
  const k = refundKey(tx.incidentId, tx.account);
  if (st.getStorage(cfg.exchangeAddress, k) !== 0n) revert('DUPLICATE', `refund for incident 0x${tx.incidentId.toString(16)} already paid to this account`);
  const vault = collateralOf(st, cfg.vaultAddress);
  if (vault < tx.amount) revert('VAULT_INSUFFICIENT', `vault holds ${vault}, refund is ${tx.amount}`);
  st.setStorage(cfg.exchangeAddress, k, tx.amount);
  exAdd(st, cfg, EX.refundTotal, tx.amount);
  addCollateral(st, cfg, cfg.vaultAddress, -tx.amount);
  addCollateral(st, cfg, tx.account, tx.amount);
  return [event(cfg.exchangeAddress, 'Refund', [tx.account], [tx.incidentId, tx.amount])];
}

/** The amount refunded for (incident, account), 0 if none. */
export function refundPaid(st: StateAccess, cfg: ExchangeConfig, incidentId: bigint, account: bigint): bigint {
  return st.getStorage(cfg.exchangeAddress, refundKey(incidentId, account));
}
