/** SET_MODE (system): changes the maintenance mode; the one type every mode accepts. */
import { execSetMode } from '../exchange/admin.ts';
import { MODES, type Mode } from '../exchange/modes.ts';
import { F } from './codec.ts';
import { defineTx } from './define.ts';

export interface SetModeTx {
  type: 'SET_MODE';
  mode: Mode;
  /** Short string (<= 31 ASCII characters). */
  reason: string;
  /** Must be the stored mode sequence + 1 (makes every mode change a distinct transaction). */
  seq: bigint;
}

export const SET_MODE = defineTx<SetModeTx>('SET_MODE', {
  fields: { mode: F.oneOf(MODES), reason: F.short, seq: F.felt },
  system: true,
  refusedIn: [],
  execute: (tx, st, ctx, cfg) => execSetMode(tx, st, ctx, cfg),
});
