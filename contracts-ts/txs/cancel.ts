/** CANCEL: cancels one order, signed by its account. */
import { execCancel } from '../exchange/orders.ts';
import { cancelHash } from '../typed-data.ts';
import { F, type Sig } from './codec.ts';
import { defineTx } from './define.ts';

export interface CancelTx {
  type: 'CANCEL';
  account: bigint;
  orderHash: bigint;
  signature: Sig;
}

export const CANCEL = defineTx<CancelTx>('CANCEL', {
  fields: { account: F.felt, orderHash: F.felt, signature: F.sig },
  sender: (tx) => tx.account,
  own: { signer: (tx) => ({ account: tx.account }), sig: (tx) => tx.signature, message: (tx, chainId) => cancelHash(tx, chainId), voidable: true },
  execute: (tx, st, ctx, cfg) => execCancel(tx, st, ctx, cfg),
});
