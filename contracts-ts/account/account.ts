/**
 * The account contract: deployed for a stark key at its Starknet-derived address, holding the
 * key, the Starknet nonce and (in the same storage) the account's margin data. Signatures are
 * checked against the x-only stark key (ctx.verify tries both y candidates).
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig } from '../config.ts';
import { ACCOUNT_CLASS, accountAddress } from '../classes.ts';
import { ACC, EX, mapKey } from '../layout.ts';
import { deployAccountHash } from '../typed-data.ts';
import { revert } from '../exchange/errors.ts';
import { exAdd } from '../exchange/ledger.ts';
import { event } from '../exchange/events.ts';
import type { DeployAccountTx, Sig } from '../tx.ts';

export function isAccount(st: StateAccess, addr: bigint): boolean {
  return st.getClassHash(addr) === ACCOUNT_CLASS.classHash;
}

/** The stark key of a deployed account; reverts ACCOUNT_NOT_DEPLOYED otherwise. */
export function requireAccount(st: StateAccess, addr: bigint, party?: 'maker' | 'taker'): bigint {
  if (!isAccount(st, addr)) revert('ACCOUNT_NOT_DEPLOYED', `0x${addr.toString(16)}`, party);
  return st.getStorage(addr, ACC.publicKey);
}

export function checkSig(ctx: ExecContext, msgHash: bigint, starkKey: bigint, sig: Sig, what: string, party?: 'maker' | 'taker'): void {
  if (!ctx.verify(msgHash, starkKey, sig[0], sig[1])) revert('BAD_SIGNATURE', what, party);
}

/** Deploys an account and registers it in the exchange's account list (for O(N) audits). */
export function deployAccount(st: StateAccess, cfg: ExchangeConfig, publicKey: bigint): bigint {
  const addr = accountAddress(publicKey);
  if (st.getClassHash(addr) !== 0n) revert('ACCOUNT_EXISTS', `0x${addr.toString(16)}`);
  st.deploy(addr, ACCOUNT_CLASS.classHash);
  st.setStorage(addr, ACC.publicKey, publicKey);
  // Starknet semantics: a deployed account's nonce is 1 (the DEPLOY_ACCOUNT used nonce 0).
  st.setNonce(addr, 1n);
  const n = exAdd(st, cfg, EX.accountCount, 1n);
  st.setStorage(cfg.exchangeAddress, mapKey(EX.accounts, n - 1n), addr);
  return addr;
}

export function execDeployAccount(tx: DeployAccountTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  if (tx.publicKey === 0n || tx.publicKey >= 2n ** 251n) revert('INVALID_ORDER', 'public key out of range');
  const addr = accountAddress(tx.publicKey);
  checkSig(ctx, deployAccountHash(tx.publicKey, ctx.block.chainId), tx.publicKey, tx.signature, 'DeployAccount');
  deployAccount(st, cfg, tx.publicKey);
  return [event(addr, 'AccountDeployed', [addr], [tx.publicKey])];
}

/** Registered accounts in deployment order (for audits). */
export function accountList(st: StateAccess, cfg: ExchangeConfig): bigint[] {
  const n = st.getStorage(cfg.exchangeAddress, EX.accountCount);
  const out: bigint[] = [];
  for (let i = 0n; i < n; i++) out.push(st.getStorage(cfg.exchangeAddress, mapKey(EX.accounts, i)));
  return out;
}
