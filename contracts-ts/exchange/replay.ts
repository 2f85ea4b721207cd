/**
 * Replay protection across rollbacks. A rollback restores nonces, order states and oracle
 * timestamps, so every message signed on the orphaned branch would be valid again on the new
 * one and anyone holding a copy could resubmit it. The sequencer's first block after a rollback
 * commits the orphaned branch's signed-message hashes into the state (VOID_SIGNED, a system
 * transaction every follower executes like any other); from then on the contracts refuse any
 * transaction that carries a voided message (ORPHANED_MESSAGE). The same transaction raises
 * each account's nonce past the nonces its orphaned WITHDRAW / TRANSFER / CANCEL_ALL used, so a
 * replay also fails INVALID_NONCE and the owner's new signature (with the new nonce) is a new
 * message. Orders are signed anew with a new salt.
 *
 * Which messages: WITHDRAW, TRANSFER, CANCEL, CANCEL_ALL, ORACLE_UPDATE and the orders of TRADE
 * and TRIGGER and the maker order of VAULT_UNWIND. Not DEPLOY_ACCOUNT (an address has one deploy message: re-deploying must stay
 * possible, and it moves no value) and not DEPOSIT (the L1 deposit happened: the bridge
 * re-delivers it, keyed by its deposit id).
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig } from '../config.ts';
import type { PerpTx, VoidSignedTx } from '../tx.ts';
import { EX, mapKey } from '../layout.ts';
import { isAccount } from '../account/account.ts';
import { txDescriptor } from '../txs/index.ts';
import { revert } from './errors.ts';
import { event } from './events.ts';

/**
 * The signed-message hashes a transaction carries (orders: the hash they claim, checked later
 * against the order): its own voidable message, then its orders (txs/<type>.ts says which).
 */
export function signedMessages(tx: PerpTx, chainId: bigint): bigint[] {
  const d = txDescriptor(tx.type);
  const out = d.own?.voidable ? [d.own.message(tx, chainId, 0n)] : [];
  for (const o of d.orders(tx)) out.push(o.hash);
  return out;
}

/** The account nonce a nonce-using transaction leaves behind (nonce + 1), or undefined. */
export function nonceAfter(tx: PerpTx): { account: bigint; nonce: bigint } | undefined {
  const d = txDescriptor(tx.type);
  return d.voidsNonce ? { account: d.sender(tx, 0n), nonce: d.nonce(tx)! + 1n } : undefined;
}

export function isVoided(st: StateAccess, cfg: ExchangeConfig, hash: bigint): boolean {
  return st.getStorage(cfg.exchangeAddress, mapKey(EX.voided, hash)) !== 0n;
}

/**
 * Refuses a transaction carrying a voided message. Costs one storage read on a chain that never
 * rolled back; afterwards one read per message (plus the message hash of the non-order types).
 */
export function checkNotVoided(tx: PerpTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): void {
  if (st.getStorage(cfg.exchangeAddress, EX.voidedCount) === 0n) return;
  const hashes = signedMessages(tx, ctx.block.chainId);
  const d = txDescriptor(tx.type);
  const parties = d.orderParties;
  const ownCount = d.own?.voidable ? 1 : 0;
  for (let i = 0; i < hashes.length; i++) {
    if (isVoided(st, cfg, hashes[i]!)) revert('ORPHANED_MESSAGE', `0x${hashes[i]!.toString(16)}`, parties?.[i - ownCount]);
  }
}

/**
 * VOID_SIGNED: records the listed hashes as voided (already-voided ones skipped) and raises each
 * listed deployed account's nonce to at least the given one. A transaction that changes nothing reverts.
 */
export function execVoidSigned(tx: VoidSignedTx, st: StateAccess, _ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const max = cfg.limits.maxSystemCancelOrders;
  if (tx.hashes.length + tx.nonces.length === 0 || tx.hashes.length > max || tx.nonces.length > max) revert('TOO_MANY', `1 to ${max} hashes and nonces`);
  let raised = 0n;
  for (const { account, nonce } of tx.nonces) {
    if (!isAccount(st, account) || st.getNonce(account) >= nonce) continue;
    st.setNonce(account, nonce);
    raised++;
  }
  let added = 0n;
  for (const h of tx.hashes) {
    if (isVoided(st, cfg, h)) continue;
    st.setStorage(cfg.exchangeAddress, mapKey(EX.voided, h), 1n);
    added++;
  }
  if (added === 0n && raised === 0n) revert('DUPLICATE', 'every listed message is already voided, every nonce already past');
  const total = st.getStorage(cfg.exchangeAddress, EX.voidedCount) + added;
  if (added > 0n) st.setStorage(cfg.exchangeAddress, EX.voidedCount, total);
  return [event(cfg.exchangeAddress, 'MessagesVoided', [], [added, total, raised])];
}
