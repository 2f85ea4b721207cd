/** ADL (system): auto-deleveraging of a position against the vault. */
import { execAdl } from '../exchange/liquidation.ts';
import { F } from './codec.ts';
import { defineTx } from './define.ts';

export interface AdlTx {
  type: 'ADL';
  account: bigint;
  market: string;
  positionBefore: bigint;
  /** The number of the block the proposal is for (as in LiquidateTx). */
  block: bigint;
}

export const ADL = defineTx<AdlTx>('ADL', {
  fields: { account: F.felt, market: F.market, positionBefore: F.signed, block: F.u128 },
  system: true,
  refusedIn: ['HALTED', 'CANCEL_ONLY', 'POST_ONLY'],
  execute: (tx, st, ctx, cfg) => execAdl(tx, st, ctx, cfg),
});
