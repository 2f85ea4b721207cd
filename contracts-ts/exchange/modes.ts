/**
 * Maintenance modes, stored on-chain in the exchange contract (SET_MODE system transactions):
 * - NORMAL: everything allowed.
 * - CANCEL_ONLY: no trades, no triggers, no liquidations, no new orders; cancels, deposits,
 *   withdrawals, transfers, oracle updates, funding and refunds continue.
 * - POST_ONLY: trades only at prices within oracle ± postOnlyBandBps; no triggers, no
 *   liquidations; new orders must rest inside the band.
 * - HALTED: every transaction but SET_MODE is rejected.
 */
import type { StateAccess } from '../state.ts';
import type { ExchangeConfig } from '../config.ts';
import { EX } from '../layout.ts';

export const MODES = ['NORMAL', 'CANCEL_ONLY', 'POST_ONLY', 'HALTED'] as const;
export type Mode = (typeof MODES)[number];

/** Storage encoding: the index in MODES (so an unset slot reads NORMAL). */
export function modeToFelt(m: Mode): bigint {
  return BigInt(MODES.indexOf(m));
}

export function modeFromFelt(x: bigint): Mode {
  const m = MODES[Number(x)];
  if (x < 0n || x >= BigInt(MODES.length) || !m) throw new Error(`corrupt mode value ${x} in storage`);
  return m;
}


/** The current mode, from the exchange contract's storage. */
export function getMode(st: StateAccess, cfg: ExchangeConfig): Mode {
  return modeFromFelt(st.getStorage(cfg.exchangeAddress, EX.mode));
}

/** Number of mode changes so far (SET_MODE must carry this + 1). */
export function getModeSeq(st: StateAccess, cfg: ExchangeConfig): bigint {
  return st.getStorage(cfg.exchangeAddress, EX.modeSeq);
}
