/**
 * VAULT_UNWIND (system): the Liquidator Vault unwinds a position it took over against one
 * resting, signed maker order (exchange/unwind.ts). `account` must be the vault address.
 */
import type { SignedOrder } from '../exchange/order.ts';
import { execVaultUnwind } from '../exchange/unwind.ts';
import { F } from './codec.ts';
import { defineTx } from './define.ts';

export interface VaultUnwindTx {
  type: 'VAULT_UNWIND';
  account: bigint;
  market: string;
  maker: SignedOrder;
  /** Size the vault closes (1e-8, positive): the maker's fill. */
  size: bigint;
  /** Must be the maker's limit price. */
  price: bigint;
  /** The vault's signed position before this unwind (stale proposals fail). */
  positionBefore: bigint;
  /** The number of the block the proposal is for (as in LiquidateTx). */
  block: bigint;
}

export const VAULT_UNWIND = defineTx<VaultUnwindTx>('VAULT_UNWIND', {
  fields: { account: F.felt, market: F.market, maker: F.signedOrder, size: F.u128, price: F.u128, positionBefore: F.signed, block: F.u128 },
  system: true,
  refusedIn: ['HALTED', 'CANCEL_ONLY', 'POST_ONLY'],
  orders: (tx) => [tx.maker],
  orderParties: ['maker'],
  execute: (tx, st, ctx, cfg) => execVaultUnwind(tx, st, ctx, cfg),
});
