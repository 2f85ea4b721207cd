/** LIQUIDATE (system): the Liquidator Vault takes over part of an under-margined position. */
import { execLiquidate } from '../exchange/liquidation.ts';
import { F } from './codec.ts';
import { defineTx } from './define.ts';

export interface LiquidateTx {
  type: 'LIQUIDATE';
  account: bigint;
  market: string;
  /** Size to take over (1e-8, positive). */
  size: bigint;
  /** The account's signed position before this step (stale proposals fail). */
  positionBefore: bigint;
  /**
   * The number of the block the proposal is for; the contract refuses it in any other block
   * (STALE_PROPOSAL). Makes the hash unique: the same position can recur in a later block.
   */
  block: bigint;
}

export const LIQUIDATE = defineTx<LiquidateTx>('LIQUIDATE', {
  fields: { account: F.felt, market: F.market, size: F.u128, positionBefore: F.signed, block: F.u128 },
  system: true,
  refusedIn: ['HALTED', 'CANCEL_ONLY', 'POST_ONLY'],
  execute: (tx, st, ctx, cfg) => execLiquidate(tx, st, ctx, cfg),
});
