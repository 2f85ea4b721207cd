/**
 * Why the p2p layer holds something against a peer, as codes rather than messages.
 *
 * - `BlockError`: a block that did not verify. Its code names the check that failed and
 *   fixes the action on the peer that sent it: an `offence` (scored, enough of them ban the
 *   peer), a `conflict` (a block the sequencer signed on another branch than ours: not the
 *   relaying peer's fault; the rollback follower asks that peer for certificates) or `ignore`
 *   (nothing held against the peer). The follower's import (p2p/chain.ts) turns every
 *   chain/replay.ts rejection into one; gossip's own pre-checks throw the same codes.
 * - `ProtocolError`: a broken request/response answer (always an offence).
 *
 * `peerOffence(e)` is the one place that decides whether an error is the peer's offence and
 * under which reason (the lower-case code: the key of `stats.rejected`, the `offence` event's
 * `reason` and a peer's `last_offence`). The table is documented in docs/followers.md and
 * tested against it (test/unit/p2p-errors.test.ts).
 */
import { EnvelopeError, type EnvelopeErrorCode } from './envelope.ts';
import { FrameError } from './framing.ts';

export type PeerAction = 'offence' | 'conflict' | 'ignore';

/** Every block check, with the action on the peer that sent a block failing it. */
export const BLOCK_ERROR_ACTIONS = {
  /** The sequencer signature over the block hash does not verify against the genesis key. */
  BAD_SIGNATURE: 'offence',
  /** The header does not hash to the block's stated hash. */
  BAD_HASH: 'offence',
  /**
   * The block's number is not our head + 1. The import only runs a block numbered head + 1
   * (checked under the import lock against the same head), so this means our own head moved:
   * not the peer's doing.
   */
  NOT_NEXT: 'ignore',
  /** Signed by the sequencer, but its parent is not our head: another branch (a rollback). */
  BAD_PARENT: 'conflict',
  BAD_TIMESTAMP: 'offence',
  /** A header field fixed by genesis differs, or the rebuilt header hashes differently. */
  BAD_HEADER: 'offence',
  /** Transaction and receipt counts differ. */
  BAD_BODY: 'offence',
  /** A transaction body does not parse. */
  BAD_TX: 'offence',
  BAD_TX_HASH: 'offence',
  BAD_TX_SIGNATURE: 'offence',
  /** A transaction fails on re-execution. */
  TX_FAILED: 'offence',
  BAD_RECEIPT: 'offence',
  /** Re-execution breaks an exchange invariant. */
  INVARIANT: 'offence',
  BAD_STATE_ROOT: 'offence',
  BAD_COMMITMENT: 'offence',
  /** A rejection whose reason this table does not know (a check added to the import later). */
  INVALID_BLOCK: 'offence',
} as const satisfies Record<string, PeerAction>;

export type BlockErrorCode = keyof typeof BLOCK_ERROR_ACTIONS;

export const BLOCK_ERROR_CODES = Object.keys(BLOCK_ERROR_ACTIONS) as BlockErrorCode[];

const lower = <C extends string>(c: C) => c.toLowerCase() as Lowercase<C>;

/** A block that failed verification (nothing was written). */
export class BlockError extends Error {
  constructor(
    readonly code: BlockErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'BlockError';
  }

  get action(): PeerAction {
    return BLOCK_ERROR_ACTIONS[this.code];
  }

  /** The offence reason (stats, events, peer records): the code in lower case. */
  get reason(): Lowercase<BlockErrorCode> {
    return lower(this.code);
  }

  /**
   * The code for a chain/replay.ts rejection reason (its reasons are these codes in lower
   * case); an unknown reason is INVALID_BLOCK.
   */
  static codeOf(reason: string): BlockErrorCode {
    const c = reason.toUpperCase();
    return Object.hasOwn(BLOCK_ERROR_ACTIONS, c) ? (c as BlockErrorCode) : 'INVALID_BLOCK';
  }
}

export type ProtocolErrorCode = 'BAD_RESPONSE' | 'BAD_RANGE' | 'BAD_STATUS' | 'MALFORMED';

/** A request/response answer that breaks the protocol: always an offence. */
export class ProtocolError extends Error {
  readonly action = 'offence' as const;
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }

  get reason(): Lowercase<ProtocolErrorCode> {
    return lower(this.code);
  }
}

/** Every reason a peer can be penalised under. */
export type OffenceReason = Lowercase<BlockErrorCode> | Lowercase<ProtocolErrorCode> | EnvelopeErrorCode | 'oversized' | 'malformed' | 'bad_certificate';

/**
 * The offence `e` is on the peer it came from, or undefined when it is not the peer's (a
 * timeout, a closed stream, a refusal, a local failure, a conflict or an ignored block).
 */
export function peerOffence(e: unknown): { reason: OffenceReason; detail: string } | undefined {
  if (e instanceof BlockError) return e.action === 'offence' ? { reason: e.reason, detail: e.message } : undefined;
  if (e instanceof ProtocolError) return { reason: e.reason, detail: e.message };
  if (e instanceof EnvelopeError) return { reason: e.code, detail: e.message };
  if (e instanceof FrameError && (e.code === 'oversized' || e.code === 'malformed')) return { reason: e.code, detail: e.message };
  return undefined;
}
