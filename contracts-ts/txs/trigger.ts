/** TRIGGER (system): records that a conditional order's trigger fired at the current mark. */
import type { SignedOrder } from '../exchange/order.ts';
import { execTrigger } from '../exchange/orders.ts';
import { F } from './codec.ts';
import { defineTx } from './define.ts';

export interface TriggerTx {
  type: 'TRIGGER';
  order: SignedOrder;
}

export const TRIGGER = defineTx<TriggerTx>('TRIGGER', {
  fields: { order: F.signedOrder },
  system: true,
  refusedIn: ['HALTED', 'CANCEL_ONLY', 'POST_ONLY'],
  orders: (tx) => [tx.order],
  execute: (tx, st, ctx, cfg) => execTrigger(tx, st, ctx, cfg),
});
