/** SYSTEM_CANCEL (system): cancellations the sequencer decided (rollback, expiry, STP, IOC rest). */
import { execSystemCancel } from '../exchange/orders.ts';
import { CODEC_LIMITS, F } from './codec.ts';
import { defineTx } from './define.ts';

export interface SystemCancelTx {
  type: 'SYSTEM_CANCEL';
  /** Short string, e.g. "rollback", "expired", "self_trade". */
  reason: string;
  orders: { account: bigint; orderHash: bigint }[];
}

export const SYSTEM_CANCEL = defineTx<SystemCancelTx>('SYSTEM_CANCEL', {
  fields: { reason: F.short, orders: F.list(CODEC_LIMITS.systemCancel, F.record({ account: F.felt, orderHash: F.felt })) },
  system: true,
  execute: (tx, st, ctx, cfg) => execSystemCancel(tx, st, ctx, cfg),
});
