/**
 * PRUNE_ORDERS (system): deletes the on-chain records of expired orders (exchange/orders.ts,
 * execPruneOrders): `slots` whose stored expiry is past, `orders` that prove their expiry.
 */
import type { SignedOrder } from '../exchange/order.ts';
import { execPruneOrders } from '../exchange/orders.ts';
import { CODEC_LIMITS, F } from './codec.ts';
import { defineTx } from './define.ts';

export interface PruneOrdersTx {
  type: 'PRUNE_ORDERS';
  slots: { account: bigint; orderHash: bigint }[];
  orders: SignedOrder[];
}

export const PRUNE_ORDERS = defineTx<PruneOrdersTx>('PRUNE_ORDERS', {
  fields: { slots: F.list(CODEC_LIMITS.systemCancel, F.record({ account: F.felt, orderHash: F.felt })), orders: F.list(CODEC_LIMITS.systemCancel, F.signedOrder) },
  system: true,
  execute: (tx, st, ctx, cfg) => execPruneOrders(tx, st, ctx, cfg),
});
