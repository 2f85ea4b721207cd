/** SET_MODE: the sequencer records a maintenance mode change on-chain. */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig } from '../config.ts';
import { EX } from '../layout.ts';
import { encodeShortString } from '../crypto.ts';
import type { SetModeTx } from '../tx.ts';
import { revert } from './errors.ts';
import { accrueAll } from './funding.ts';
import { event } from './events.ts';
import { getModeSeq, modeToFelt, type Mode } from './modes.ts';

export function execSetMode(tx: SetModeTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const seq = getModeSeq(st, cfg);
  if (tx.seq !== seq + 1n) revert('MODE_SEQUENCE', `expected ${seq + 1n}, got ${tx.seq}`);
  accrueAll(st, cfg, ctx.block.timestamp); // funding accrues only over NORMAL time: close the stretch in the old mode
  st.setStorage(cfg.exchangeAddress, EX.mode, modeToFelt(tx.mode));
  st.setStorage(cfg.exchangeAddress, EX.modeSeq, tx.seq);
  st.setStorage(cfg.exchangeAddress, EX.modeReason, encodeShortString(tx.reason));
  return [event(cfg.exchangeAddress, 'ModeChanged', [], [encodeShortString(tx.mode), encodeShortString(tx.reason), tx.seq])];
}

/** A SET_MODE transaction with the next sequence number (for the node's admin_setMode). */
export function makeSetModeTx(st: StateAccess, cfg: ExchangeConfig, mode: Mode, reason: string): SetModeTx {
  return { type: 'SET_MODE', mode, reason, seq: getModeSeq(st, cfg) + 1n };
}
