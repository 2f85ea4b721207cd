/** TRANSFER: moves collateral between accounts, signed by the sender with its nonce. */
import { execTransfer } from '../exchange/collateral.ts';
import { transferHash } from '../typed-data.ts';
import { F, type Sig } from './codec.ts';
import { defineTx } from './define.ts';

export interface TransferTx {
  type: 'TRANSFER';
  account: bigint;
  recipient: bigint;
  amount: bigint;
  nonce: bigint;
  signature: Sig;
}

export const TRANSFER = defineTx<TransferTx>('TRANSFER', {
  fields: { account: F.felt, recipient: F.felt, amount: F.u128, nonce: F.felt, signature: F.sig },
  sender: (tx) => tx.account,
  nonce: (tx) => tx.nonce,
  voidsNonce: true,
  own: { signer: (tx) => ({ account: tx.account }), sig: (tx) => tx.signature, message: (tx, chainId) => transferHash(tx, chainId), voidable: true },
  execute: (tx, st, ctx, cfg) => execTransfer(tx, st, ctx, cfg),
});
