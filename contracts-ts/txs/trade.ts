/** TRADE: a fill between a resting maker order and a taker order, both signed by their accounts. */
import type { SignedOrder } from '../exchange/order.ts';
import { execTrade } from '../exchange/trade.ts';
import { encodeShortString, poseidonHashMany } from '../crypto.ts';
import { F } from './codec.ts';
import { defineTx } from './define.ts';

export interface TradeTx {
  type: 'TRADE';
  maker: SignedOrder;
  taker: SignedOrder;
  size: bigint;
  price: bigint;
}

const TRADE_PREFIX = encodeShortString('PERP_TRADE');

export const TRADE = defineTx<TradeTx>('TRADE', {
  fields: { maker: F.signedOrder, taker: F.signedOrder, size: F.u128, price: F.u128 },
  /**
   * poseidon_many([PERP_TRADE, maker hash, taker hash, size, price, chainId]): each order hash
   * commits to its order's fields, and the contract refuses an order whose hash is not its own
   * (BAD_ORDER_HASH), so 6 felts identify the trade as well as the 26 of its calldata.
   */
  hash: (tx, chainId) => poseidonHashMany([TRADE_PREFIX, tx.maker.hash, tx.taker.hash, tx.size, tx.price, chainId]),
  refusedIn: ['HALTED', 'CANCEL_ONLY'],
  sender: (tx) => tx.taker.order.account,
  signature: (tx) => [...tx.maker.signature, ...tx.taker.signature],
  orders: (tx) => [tx.maker, tx.taker],
  orderParties: ['maker', 'taker'],
  execute: (tx, st, ctx, cfg) => execTrade(tx, st, ctx, cfg),
});
