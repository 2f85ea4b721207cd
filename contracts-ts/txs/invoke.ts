/**
 * INVOKE: a Starknet v3 multicall of an account (contracts-ts/starknet/). Its codec and hash are
 * Starknet's (starknet/tx.ts); its signature is checked by the account's __validate__ at
 * execution, and each call goes through executeTransaction again (mode gate included).
 */
import { execInvoke } from '../starknet/entrypoints.ts';
import { invokeTxHash, v3FromStoredJson, v3ToStoredJson, type InvokeTx } from '../starknet/tx.ts';
import { fail } from './codec.ts';
import { defineTx } from './define.ts';

export const INVOKE = defineTx<InvokeTx>('INVOKE', {
  parse(o) {
    try {
      return v3FromStoredJson(o) as InvokeTx;
    } catch (e) {
      fail(`INVOKE: ${(e as Error).message}`);
    }
  },
  toJson: (tx) => v3ToStoredJson(tx),
  calldata: (tx) => tx.calldata.slice(),
  hash: (tx, chainId) => invokeTxHash(tx, chainId),
  sender: (tx) => tx.sender,
  signature: (tx) => tx.signature.slice(),
  nonce: (tx) => tx.nonce,
  execute: (tx, st, ctx, cfg, exec) => execInvoke(tx, st, ctx, cfg, exec as Parameters<typeof execInvoke>[4]),
});
