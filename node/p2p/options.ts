/** Options of the p2p subsystem, their defaults, and the wire names derived from the chain id. */

export type Role = 'sequencer' | 'follower';

export interface P2POptions {
  role: Role;
  /** Listen host; 127.0.0.1 by default so nothing is exposed unless the operator asks. */
  host: string;
  /** TCP port; 0 picks a free one (read it back from `multiaddrs()`). */
  port: number;
  /** Multiaddrs (with /p2p/<peer id>) dialled at start and re-dialled when disconnected. */
  bootstrap: string[];
  /**
   * Largest gossip envelope, in bytes. A block whose envelope would be larger is announced
   * (number, hash, signature) and fetched over blocks_by_range instead: gossipsub drops
   * oversized messages silently, so the sequencer never publishes one.
   */
  maxGossipBytes: number;
  /** Largest block count one blocks_by_range request may ask for (the protocol maximum is 64). */
  maxRangeCount: number;
  /** Largest single frame on a request/response stream (one block), in bytes. */
  maxFrameBytes: number;
  /** Largest total blocks_by_range response, in bytes; the server sends fewer blocks to fit. */
  maxResponseBytes: number;
  /** Deadline of one request/response exchange. */
  requestTimeoutMs: number;
  /** How often peers are asked for their head (status protocol). */
  statusIntervalMs: number;
  /** How often disconnected bootstrap peers are re-dialled. */
  reconnectIntervalMs: number;
  /** How often the status line is logged at debug level. */
  statusLogIntervalMs: number;
  /** Score added per offence (negative) and the score at which a peer is disconnected and banned. */
  offencePenalty: number;
  banScore: number;
  /** How long a banned peer stays banned. */
  banMs: number;
  /** Score points a peer regains per minute (back toward 0). */
  recoveryPerMinute: number;
  /** Blocks received ahead of our head that are kept until the gap is filled. */
  maxBufferedBlocks: number;
  /** Bound on `stop()`: libp2p is abandoned (connections closed) after this long. */
  stopTimeoutMs: number;
  /** Most rollback certificates one rollbacks answer carries (and that a node keeps in memory x2). */
  maxCertificates: number;
  /**
   * Most orphaned headers a follower walks to prove that its head lies on the branch a
   * certificate orphans (a follower further below the orphaned head than this does not follow
   * that certificate by itself; it logs why).
   */
  maxOrphanWalk: number;
  /** Least time between two certificate requests to the same peer. */
  certificateFetchIntervalMs: number;
}

export const MAX_RANGE_COUNT = 64;

export const defaultP2POptions: P2POptions = {
  role: 'follower',
  host: '127.0.0.1',
  port: 5051,
  bootstrap: [],
  maxGossipBytes: 1 << 20,
  maxRangeCount: MAX_RANGE_COUNT,
  maxFrameBytes: 32 << 20,
  maxResponseBytes: 64 << 20,
  requestTimeoutMs: 10_000,
  statusIntervalMs: 5_000,
  reconnectIntervalMs: 5_000,
  statusLogIntervalMs: 10_000,
  offencePenalty: -20,
  banScore: -50,
  banMs: 10 * 60_000,
  recoveryPerMinute: 5,
  maxBufferedBlocks: 256,
  stopTimeoutMs: 5_000,
  maxCertificates: 32,
  maxOrphanWalk: 4096,
  certificateFetchIntervalMs: 2_000,
};

/** Protocol bounds of `/perpnode/<chainId>/rollbacks/1`. */
export const MAX_CERTIFICATES = 64;
export const MAX_ORPHAN_HEADERS = 256;

/** Gossip topic and request/response protocol ids for a chain (its genesis `chain_id`). */
export function wireNames(chainId: string) {
  return {
    blocksTopic: `/perpnode/${chainId}/blocks/1`,
    blocksByRange: `/perpnode/${chainId}/blocks_by_range/1`,
    status: `/perpnode/${chainId}/status/1`,
    rollbacks: `/perpnode/${chainId}/rollbacks/1`,
  };
}

export function resolveP2POptions(o: Partial<P2POptions>): P2POptions {
  const r = { ...defaultP2POptions, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as P2POptions;
  if (r.role !== 'sequencer' && r.role !== 'follower') throw new Error(`p2p: role must be sequencer or follower, got ${r.role}`);
  if (!Number.isInteger(r.port) || r.port < 0 || r.port > 65535) throw new Error(`p2p: port must be in [0, 65535]`);
  if (!Number.isInteger(r.maxRangeCount) || r.maxRangeCount < 1 || r.maxRangeCount > MAX_RANGE_COUNT) throw new Error(`p2p: maxRangeCount must be in [1, ${MAX_RANGE_COUNT}]`);
  if (r.maxGossipBytes < 256) throw new Error('p2p: maxGossipBytes must be at least 256');
  if (!Number.isInteger(r.maxCertificates) || r.maxCertificates < 1 || r.maxCertificates > MAX_CERTIFICATES) throw new Error(`p2p: maxCertificates must be in [1, ${MAX_CERTIFICATES}]`);
  if (!Number.isInteger(r.maxOrphanWalk) || r.maxOrphanWalk < 1) throw new Error('p2p: maxOrphanWalk must be a positive integer');
  if (r.offencePenalty >= 0 || r.banScore >= 0) throw new Error('p2p: offencePenalty and banScore must be negative');
  return r;
}
