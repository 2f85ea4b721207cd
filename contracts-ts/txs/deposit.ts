/** DEPOSIT: credits an L1 deposit, signed by the bridge operator key. */
import { execDeposit } from '../exchange/collateral.ts';
import { depositHash } from '../typed-data.ts';
import { F, type Sig } from './codec.ts';
import { defineTx } from './define.ts';

export interface DepositTx {
  type: 'DEPOSIT';
  depositId: bigint;
  recipient: bigint;
  amount: bigint;
  /** By the bridge operator key. */
  signature: Sig;
}

export const DEPOSIT = defineTx<DepositTx>('DEPOSIT', {
  fields: { depositId: F.felt, recipient: F.felt, amount: F.u128, signature: F.sig },
  sender: (tx) => tx.recipient,
  // Not voidable: the L1 deposit happened; the bridge re-delivers it, keyed by its deposit id.
  own: { signer: () => ({ operator: true }), sig: (tx) => tx.signature, message: (tx, chainId, operatorKey) => depositHash(tx, operatorKey, chainId), voidable: false },
  execute: (tx, st, ctx, cfg) => execDeposit(tx, st, ctx, cfg),
});
