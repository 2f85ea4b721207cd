/** REFUND (system): pays an incident refund to an account. */
import { execRefund } from '../exchange/collateral.ts';
import { F } from './codec.ts';
import { defineTx } from './define.ts';

export interface RefundTx {
  type: 'REFUND';
  incidentId: bigint;
  account: bigint;
  amount: bigint;
}

export const REFUND = defineTx<RefundTx>('REFUND', {
  fields: { incidentId: F.felt, account: F.felt, amount: F.u128 },
  system: true,
  execute: (tx, st, ctx, cfg) => execRefund(tx, st, ctx, cfg),
});
