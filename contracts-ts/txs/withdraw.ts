/** WITHDRAW: moves collateral to an L1 recipient, signed by the account with its nonce. */
import { execWithdraw } from '../exchange/collateral.ts';
import { withdrawHash } from '../typed-data.ts';
import { F, type Sig } from './codec.ts';
import { defineTx } from './define.ts';

export interface WithdrawTx {
  type: 'WITHDRAW';
  account: bigint;
  amount: bigint;
  recipient: bigint;
  nonce: bigint;
  signature: Sig;
}

export const WITHDRAW = defineTx<WithdrawTx>('WITHDRAW', {
  fields: { account: F.felt, amount: F.u128, recipient: F.felt, nonce: F.felt, signature: F.sig },
  sender: (tx) => tx.account,
  nonce: (tx) => tx.nonce,
  voidsNonce: true,
  own: { signer: (tx) => ({ account: tx.account }), sig: (tx) => tx.signature, message: (tx, chainId) => withdrawHash(tx, chainId), voidable: true },
  execute: (tx, st, ctx, cfg) => execWithdraw(tx, st, ctx, cfg),
});
