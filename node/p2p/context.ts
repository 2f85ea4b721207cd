/**
 * What the parts of the p2p service share (gossip.ts, reqresp.ts, sync.ts, rollbacks.ts): the
 * chain, options and wire names, the peer book, the counters, our head as last seen, the import
 * lock, the stop signal, and the two things every part does to a peer — penalise it and track
 * a background task. Each part keeps its own state; this holds only what more than one needs.
 */
import type { EventEmitter } from 'node:events';
import type { PeerId } from '@libp2p/interface';
import { encodeShortString } from '../crypto/index.ts';
import type { Block } from '../chain/block.ts';
import type { BlockHeader } from '../chain/header.ts';
import type { Logger } from '../log.ts';
import { Mutex } from '../sequencer/mutex.ts';
import type { RollbackCertificate } from './envelope.ts';
import { peerOffence, type OffenceReason } from './errors.ts';
import type { Host } from './host.ts';
import { PeerBook, type PeerHead } from './peers.ts';
import { wireNames, type P2POptions } from './options.ts';

/** What the p2p layer needs from the chain. */
export interface P2PChain {
  /** The genesis `chain_id` string (names the topic and protocols). */
  chainId: string;
  /** The sequencer's stark key from genesis: every block's signature is checked against it. */
  sequencerKey: bigint;
  head(): Promise<{ number: bigint; hash: bigint }>;
  block(n: bigint): Promise<Block | undefined>;
  signedHeader(n: bigint): Promise<{ header: BlockHeader; hash: bigint; signature: [bigint, bigint] } | undefined>;
  /**
   * Followers: verify `b` by re-execution on top of the head and commit it atomically. Throws
   * a `BlockError` (errors.ts: a code and the action on the peer) when the block is invalid
   * (nothing written); any other error is a local failure.
   */
  importBlock?(b: Block): Promise<void>;
  /** Rollback certificates this node stored (served to peers on the rollbacks protocol). */
  certificates?(): Promise<RollbackCertificate[]>;
  /** The header of a block this node archived as orphaned (rolled back), by hash. */
  orphanHeader?(hash: bigint): Promise<BlockHeader | undefined>;
  /**
   * Followers: roll back to `c.target_height` under the sequencer's certificate (archive the
   * orphaned blocks, check the target's state root, store `c`). Without it a follower checks
   * certificates but does not follow them.
   */
  rollbackTo?(c: RollbackCertificate): Promise<void>;
}

export interface P2PStats {
  published: number;
  announced: number;
  gossipReceived: number;
  imported: number;
  importedFromGossip: number;
  importedFromSync: number;
  ignoredOld: number;
  conflicting: number;
  rejected: Record<string, number>;
  rangeRequestsServed: number;
  rangeRequestsMade: number;
  rangeFailures: number;
  /** Valid certificates received that this node did not follow (not its branch, or it cannot). */
  rollbacksIgnored: number;
  /** Rollbacks this follower made under a sequencer certificate. */
  rollbacksApplied: number;
  /** Valid certificates learnt (gossip or the rollbacks protocol). */
  certificatesLearnt: number;
}

export const hex = (x: bigint) => '0x' + x.toString(16);
export const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

export class P2PContext {
  readonly names: ReturnType<typeof wireNames>;
  readonly peers: PeerBook;
  readonly chainIdFelt: bigint;
  readonly stats: P2PStats = {
    published: 0,
    announced: 0,
    gossipReceived: 0,
    imported: 0,
    importedFromGossip: 0,
    importedFromSync: 0,
    ignoredOld: 0,
    conflicting: 0,
    rejected: {},
    rangeRequestsServed: 0,
    rangeRequestsMade: 0,
    rangeFailures: 0,
    rollbacksIgnored: 0,
    rollbacksApplied: 0,
    certificatesLearnt: 0,
  };
  /** Every import and rollback runs under it: the head moves one step at a time. */
  readonly importLock = new Mutex();
  /** libp2p peer ids by their string, for dialling and hanging up. */
  readonly peerIds = new Map<string, PeerId>();
  /** Aborted by stop: every request links its own signal to it. */
  readonly ac = new AbortController();
  /** Set once the host runs (P2PService.start); absent in unit tests of one part. */
  host: Host | undefined;
  /** Our head as last seen (import, publish, rollback). */
  head: PeerHead = { number: 0n, hash: 0n };
  genesisHash = 0n;
  stopping = false;
  /** Set when a follower's rollback failed half-way: nothing is imported until a restart resumes it. */
  broken: string | undefined;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    readonly chain: P2PChain,
    readonly opts: P2POptions,
    readonly log: Logger,
    /** Where the service's events go (the P2PService itself). */
    readonly events: Pick<EventEmitter, 'emit'>,
  ) {
    this.names = wireNames(chain.chainId);
    this.chainIdFelt = encodeShortString(chain.chainId);
    this.peers = new PeerBook(opts);
  }

  emit(event: string, payload: unknown): void {
    this.events.emit(event, payload);
  }

  /** Runs `p` in the background; stop waits for it. Failures are logged, not thrown at stop. */
  track<T>(p: Promise<T>): Promise<T> {
    const q = p.catch((e) => {
      if (!this.stopping) this.log.debug(`p2p task failed: ${(e as Error)?.message ?? e}`);
    }) as Promise<unknown>;
    this.inflight.add(q);
    void q.finally(() => this.inflight.delete(q));
    return p;
  }

  /** The tracked tasks still running (stop waits for them). */
  pending(): Promise<unknown>[] {
    return [...this.inflight];
  }

  /** Records an offence of `id`; bans and disconnects it at the ban score. */
  penalise(id: string, reason: OffenceReason, detail: string): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    const banned = this.peers.offence(id, reason);
    this.log.warn(`peer ${id}: ${reason}: ${detail}${banned ? ' — disconnecting and banning it' : ''}`);
    this.emit('offence', { peer: id, reason, detail, banned });
    if (banned) {
      const pid = this.peerIds.get(id);
      if (pid && this.host) void this.host.hangUp(pid).catch(() => undefined);
    }
  }

  /** Penalises `id` when `e` is its offence (errors.ts `peerOffence`); returns whether it was. */
  punish(id: string, e: unknown): boolean {
    const o = peerOffence(e);
    if (o) this.penalise(id, o.reason, o.detail);
    return o !== undefined;
  }

  /** The running host; throws before start. */
  get node(): Host {
    if (!this.host) throw new Error('p2p: the host is not running');
    return this.host;
  }
}
