/** CANCEL_ALL: cancels an account's open orders (one market or ALL), signed with its nonce. */
import { execCancelAll } from '../exchange/orders.ts';
import { cancelAllHash } from '../typed-data.ts';
import { CODEC_LIMITS, F, type Sig } from './codec.ts';
import { defineTx } from './define.ts';

export interface CancelAllTx {
  type: 'CANCEL_ALL';
  account: bigint;
  /** Market symbol or "ALL". */
  market: string;
  nonce: bigint;
  signature: Sig;
  /** The account's open orders the sequencer holds (filled in by the node): each is cancelled on-chain. */
  orderHashes: bigint[];
}

export const CANCEL_ALL = defineTx<CancelAllTx>('CANCEL_ALL', {
  fields: { account: F.felt, market: F.marketOrAll, nonce: F.felt, signature: F.sig, orderHashes: F.list(CODEC_LIMITS.orderHashes, F.felt) },
  sender: (tx) => tx.account,
  nonce: (tx) => tx.nonce,
  voidsNonce: true,
  own: { signer: (tx) => ({ account: tx.account }), sig: (tx) => tx.signature, message: (tx, chainId) => cancelAllHash(tx, chainId), voidable: true },
  execute: (tx, st, ctx, cfg) => execCancelAll(tx, st, ctx, cfg),
});
