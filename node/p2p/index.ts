/**
 * perpnode's p2p subsystem: block gossip over libp2p gossipsub, catch-up sync over a
 * request/response protocol, followers that verify every block by re-execution, and the
 * forwarding of trading calls from a follower to its sequencer. See docs/followers.md.
 */
import './polyfill.ts';
import type { Logger } from '../log.ts';
import { loadOrCreatePeerKey } from './key.ts';
import { P2PService, type P2PChain, type StartP2POptions } from './service.ts';

export { P2PService, isRejection, type P2PChain, type P2PStatus, type P2PPeerStatus, type P2PStats, type StartP2POptions } from './service.ts';
export { defaultP2POptions, resolveP2POptions, wireNames, MAX_RANGE_COUNT, MAX_CERTIFICATES, MAX_ORPHAN_HEADERS, type P2POptions, type Role } from './options.ts';
export { blockMessage, certificateFromWire, decodeEnvelope, encodeEnvelope, EnvelopeError, ENVELOPE_VERSION, type Envelope, type BlockEnvelope, type RollbackEnvelope, type RollbackCertificate, type ModeEnvelope } from './envelope.ts';
export { BlockError, BLOCK_ERROR_ACTIONS, BLOCK_ERROR_CODES, ProtocolError, peerOffence, type BlockErrorCode, type PeerAction, type ProtocolErrorCode, type OffenceReason } from './errors.ts';
export { FrameError, FrameReader, frame, jsonFrame } from './framing.ts';
export { createHost, type Host, type HostOptions } from './host.ts';
export { loadOrCreatePeerKey, KEY_FILE } from './key.ts';
export { PeerBook, type PeerRecord, type PeerHead } from './peers.ts';
export { ForwardingDispatcher, TRADING_METHODS, type ForwardOptions } from './forward.ts';

/**
 * Starts the p2p service for a node whose identity key lives in `dataDir` (created on first
 * start). Logs the full listen multiaddrs.
 */
export async function startP2P(chain: P2PChain, opts: StartP2POptions & { dataDir?: string }, log: Logger): Promise<P2PService> {
  const privateKey = opts.privateKey ?? (opts.dataDir ? await loadOrCreatePeerKey(opts.dataDir, log) : undefined);
  return P2PService.start(chain, { ...opts, privateKey }, log);
}
