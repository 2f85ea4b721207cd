/**
 * The p2p service of one node: block gossip, the blocks_by_range and status protocols, and (on
 * a follower) catch-up sync. It sees the chain only through `P2PChain`, so the sequencer, a
 * follower and a test double all plug in the same way.
 *
 * Follower rules:
 * - A block is applied only by `chain.importBlock` (signature against the genesis key, link to
 *   our head, re-execution to the same root, commitments and hash). Anything it rejects costs
 *   the peer that sent it an offence; enough offences disconnect and ban the peer.
 * - Gossip of block head+1 is imported at once; a block further ahead is kept (bounded) and
 *   starts a range sync; a block at or below our head is ignored (never re-applied).
 * - Gossip is forwarded to other peers only after it was verified (gossipsub async validation).
 * - Every import, from gossip or sync, runs under one lock, so the head moves by one block at
 *   a time and a rejected block leaves the state untouched.
 *
 * Rollback following (docs/followers.md):
 * - A certificate is believed only if it is signed by the genesis sequencer key for this chain
 *   id; a forged one costs its sender an offence. Valid ones are kept (bounded) and served on
 *   `/perpnode/<chainId>/rollbacks/1`, with the headers of the orphaned blocks we archived.
 * - A follower rolls back under certificate C only when its chain holds C's target and it can
 *   prove that its head lies on the branch C orphans: it holds C's orphaned head, or the chain of
 *   orphaned headers walked down from that (signed) head reaches its own head. A replayed old
 *   certificate therefore never undoes the branch that replaced it.
 * - Certificates arrive by gossip, are asked from every peer on connect (a follower that was
 *   offline during the rollback), and from a peer that shows us a sequencer-signed block on
 *   another branch than ours (a 'conflict').
 * - The rollback itself is chain/rollback.ts under the import lock (orphaned blocks archived,
 *   target root checked, the certificate stored); then the head, buffer and peers' heads are
 *   reset and the follower syncs the new branch from the target.
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import type { PeerId, Stream, Connection } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { encodeShortString, verify } from '../crypto/index.ts';
import { certificateHash, certificateToJson, verifyCertificate } from '../chain/rollback.ts';
import { blockFromJson, blockToJson, headerFromJson, headerToJson, type Block } from '../chain/block.ts';
import { blockHash, type BlockHeader } from '../chain/header.ts';
import type { Logger } from '../log.ts';
import { Mutex } from '../sequencer/mutex.ts';
import { blockMessage, certificateFromWire, decodeEnvelope, encodeEnvelope, EnvelopeError, type Envelope, type RollbackCertificate } from './envelope.ts';
import { FrameError, FrameReader, jsonFrame, send, withDeadline } from './framing.ts';
import { createHost, type Host } from './host.ts';
import { PeerBook, type PeerHead } from './peers.ts';
import { MAX_CERTIFICATES, MAX_ORPHAN_HEADERS, resolveP2POptions, wireNames, type P2POptions, type Role } from './options.ts';
import type { PrivateKey } from '@libp2p/interface';
import { TopicValidatorResult } from '@libp2p/gossipsub';

const hex = (x: bigint) => '0x' + x.toString(16);
const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const enc = new TextEncoder();
/** Largest rollbacks-protocol answer: 64 certificates or 256 headers fit well under it. */
const MAX_ROLLBACKS_ANSWER = 1 << 20;

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
   * an error named 'BlockRejected' with a `reason` when the block is invalid (nothing written);
   * any other error is a local failure.
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

export interface P2PPeerStatus {
  id: string;
  connected: boolean;
  role: Role | null;
  head: { number: number; hash: string } | null;
  score: number;
  offences: number;
  last_offence: string | null;
  banned: boolean;
}

export interface P2PStatus {
  role: Role;
  peer_id: string;
  listen: string[];
  head: { number: number; hash: string };
  best_peer_head: number | null;
  lag: number;
  syncing: boolean;
  peers: P2PPeerStatus[];
  stats: P2PStats;
}

/** A block import rejected as invalid (as opposed to a local failure). */
export function isRejection(e: unknown): e is Error & { reason: string } {
  return e instanceof Error && e.name === 'BlockRejected' && typeof (e as any).reason === 'string';
}

type Acceptance = 'accept' | 'reject' | 'ignore';
const ACCEPTANCE: Record<Acceptance, TopicValidatorResult> = { accept: TopicValidatorResult.Accept, reject: TopicValidatorResult.Reject, ignore: TopicValidatorResult.Ignore };
type ImportOutcome = 'imported' | 'duplicate' | 'old' | 'conflict' | 'gap' | 'rejected' | 'error' | 'stopped';

class ProtocolOffence extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface StartP2POptions extends Partial<P2POptions> {
  privateKey?: PrivateKey;
}

export class P2PService extends EventEmitter {
  readonly opts: P2POptions;
  readonly names: ReturnType<typeof wireNames>;
  readonly peers: PeerBook;
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
  private node!: Host;
  private localHead!: { number: bigint; hash: bigint };
  private genesisHash = 0n;
  private readonly chainIdFelt: bigint;
  private readonly importLock = new Mutex();
  private readonly buffer = new Map<bigint, { block: Block; from: string }>();
  private readonly peerIds = new Map<string, PeerId>();
  private readonly unsupported = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly ac = new AbortController();
  private syncPromise: Promise<void> | undefined;
  private syncAgain = false;
  private stopping = false;
  private inflight = new Set<Promise<unknown>>();
  /** Verified certificates by certificate hash (insertion order; bounded). */
  private readonly certs = new Map<bigint, RollbackCertificate>();
  /** Orphaned headers proven by hash linkage: hash -> (number, parent hash). Bounded. */
  private readonly orphanLinks = new Map<bigint, { number: bigint; parent: bigint }>();
  private readonly certFetchedAt = new Map<string, number>();
  private readonly followPeers = new Set<string>();
  private followPromise: Promise<void> | undefined;
  private followAgain = false;
  private readonly walkWarned = new Set<bigint>();
  private readonly freshCerts = new Set<RollbackCertificate>();
  /** Set when a follower's rollback failed half-way: nothing is imported until a restart resumes it. */
  private broken: string | undefined;
  /** Publications go out in call order (a certificate before the first block of its branch). */
  private publishTail: Promise<void> = Promise.resolve();
  /** A certificate to publish once a peer subscribes (sequencer start after an offline rollback). */
  private pendingAnnouncement: RollbackCertificate | undefined;

  private constructor(
    readonly chain: P2PChain,
    opts: StartP2POptions,
    readonly log: Logger,
  ) {
    super();
    this.opts = resolveP2POptions(opts);
    this.names = wireNames(chain.chainId);
    this.chainIdFelt = encodeShortString(chain.chainId);
    this.peers = new PeerBook(this.opts);
    setMaxListeners(Infinity, this.ac.signal); // every request links its own signal to this one
    if (this.opts.role === 'follower' && !chain.importBlock) throw new Error('p2p: a follower needs chain.importBlock');
  }

  /** Starts listening, dials the bootstrap peers (in the background) and starts the timers. */
  static async start(chain: P2PChain, opts: StartP2POptions, log: Logger): Promise<P2PService> {
    const s = new P2PService(chain, opts, log);
    await s.init(opts.privateKey);
    return s;
  }

  get role(): Role {
    return this.opts.role;
  }

  get peerId(): string {
    return this.node.peerId.toString();
  }

  /** Full listen multiaddrs, `/ip4/<host>/tcp/<port>/p2p/<peer id>`. */
  multiaddrs(): string[] {
    return this.node.getMultiaddrs().map(String);
  }

  /** The libp2p host (tests and tools; not for ordinary use). */
  get host(): Host {
    return this.node;
  }

  private async init(privateKey?: PrivateKey): Promise<void> {
    this.localHead = await this.chain.head();
    this.genesisHash = (await this.chain.signedHeader(0n))?.hash ?? 0n;
    this.node = await createHost({
      privateKey,
      host: this.opts.host,
      port: this.opts.port,
      maxGossipBytes: this.opts.maxGossipBytes,
      topics: [this.names.blocksTopic],
      isBanned: (id) => this.peers.isBanned(id),
    });
    await this.node.handle(this.names.blocksByRange, (stream, conn) => this.track(this.serveRange(stream, conn)), { maxInboundStreams: 8, maxOutboundStreams: 8 });
    await this.node.handle(this.names.status, (stream, conn) => this.track(this.serveStatus(stream, conn)), { maxInboundStreams: 4, maxOutboundStreams: 4 });
    await this.node.handle(this.names.rollbacks, (stream, conn) => this.track(this.serveRollbacks(stream, conn)), { maxInboundStreams: 4, maxOutboundStreams: 4 });
    for (const c of (await this.chain.certificates?.()) ?? []) this.remember(c);
    const pubsub = this.node.services.pubsub;
    // Implemented by gossipsub, missing from its exported interface.
    const report = (msgId: string, src: string, a: Acceptance) =>
      (pubsub as unknown as { reportMessageValidationResult(id: string, src: string, a: TopicValidatorResult): void }).reportMessageValidationResult(msgId, src, ACCEPTANCE[a]);
    pubsub.addEventListener('gossipsub:message', (evt) => {
      const { msgId, propagationSource, msg } = evt.detail;
      if (msg.topic !== this.names.blocksTopic) return;
      this.peerIds.set(propagationSource.toString(), propagationSource);
      this.track(
        this.onGossip(msg.data, propagationSource.toString()).then(
          (a) => report(msgId, propagationSource.toString(), a),
          (e) => {
            this.log.error(`gossip handling failed: ${(e as Error).stack ?? e}`);
            report(msgId, propagationSource.toString(), 'ignore');
          },
        ),
      );
    });
    pubsub.subscribe(this.names.blocksTopic);
    pubsub.addEventListener('subscription-change', (evt) => {
      const c = this.pendingAnnouncement;
      if (!c || !evt.detail.subscriptions.some((s) => s.topic === this.names.blocksTopic && s.subscribe)) return;
      this.pendingAnnouncement = undefined;
      this.log.info(`publishing rollback certificate (target ${c.target_height}) now that a peer listens`);
      void this.enqueuePublish(encodeEnvelope({ type: 'rollback', certificate: c }));
    });
    this.node.addEventListener('peer:connect', (evt) => {
      const id = evt.detail.toString();
      this.peerIds.set(id, evt.detail);
      this.peers.setConnected(id, true);
      this.log.debug(`peer connected ${id}`);
      // Ask its head once the connection settled (identify runs first).
      setTimeout(() => {
        if (this.stopping) return;
        // Then its certificates: a follower that was offline during a rollback learns it here.
        void this.track(this.queryStatus(id).then(() => this.scheduleFollow(id)));
      }, 100).unref?.();
    });
    this.node.addEventListener('peer:disconnect', (evt) => {
      const id = evt.detail.toString();
      this.peers.setConnected(id, false);
      this.log.debug(`peer disconnected ${id}`);
    });
    for (const a of this.multiaddrs()) this.log.info(`p2p ${this.opts.role} listening on ${a}`);
    this.every(this.opts.statusIntervalMs, () => this.pollStatus());
    this.every(this.opts.reconnectIntervalMs, () => this.dialBootstrap());
    this.every(this.opts.statusLogIntervalMs, () => this.logStatus());
    void this.dialBootstrap();
  }

  private every(ms: number, fn: () => unknown): void {
    const t = setInterval(() => {
      if (!this.stopping) void this.track(Promise.resolve().then(fn));
    }, ms);
    t.unref?.();
    this.timers.push(t);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const q = p.catch((e) => {
      if (!this.stopping) this.log.debug(`p2p task failed: ${(e as Error)?.message ?? e}`);
    }) as Promise<unknown>;
    this.inflight.add(q);
    void q.finally(() => this.inflight.delete(q));
    return p;
  }

  // ---- bootstrap ------------------------------------------------------------------------------

  private async dialBootstrap(): Promise<void> {
    for (const addr of this.opts.bootstrap) {
      if (this.stopping) return;
      let ma: Multiaddr;
      try {
        ma = multiaddr(addr);
      } catch (e) {
        this.log.warn(`bad --bootstrap address ${addr}: ${(e as Error).message}`);
        continue;
      }
      const pid = ma.getComponents().find((c) => c.name === 'p2p')?.value;
      if (pid && (this.peers.isBanned(pid) || this.node.getConnections().some((c) => c.remotePeer.toString() === pid))) continue;
      try {
        await this.node.dial(ma, { signal: AbortSignal.any([this.ac.signal, AbortSignal.timeout(this.opts.requestTimeoutMs)]) });
      } catch (e) {
        if (!this.stopping) this.log.debug(`bootstrap ${addr} not reachable: ${(e as Error).message}`);
      }
    }
  }

  // ---- penalties ------------------------------------------------------------------------------

  private penalise(id: string, reason: string, detail: string): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    const banned = this.peers.offence(id, reason);
    this.log.warn(`peer ${id}: ${reason}: ${detail}${banned ? ' — disconnecting and banning it' : ''}`);
    this.emit('offence', { peer: id, reason, detail, banned });
    if (banned) {
      const pid = this.peerIds.get(id);
      if (pid) void this.node.hangUp(pid).catch(() => undefined);
    }
  }

  // ---- gossip ---------------------------------------------------------------------------------

  /** Publishes a sealed block (sequencer). Never throws: a peer that misses it syncs later. */
  async publishBlock(b: Block): Promise<void> {
    this.localHead = { number: b.header.block_number, hash: b.hash };
    const { bytes, announced } = blockMessage(b, this.opts.maxGossipBytes);
    await this.enqueuePublish(bytes);
    this.stats.published++;
    if (announced) {
      this.stats.announced++;
      this.log.debug(`block ${b.header.block_number} is larger than the gossip limit: announced, served over blocks_by_range`);
    }
    // Mode changes are on-chain (SET_MODE); the hint tells wallets' followers at once.
    for (const t of b.transactions) {
      const body = t.body as { type?: unknown; mode?: unknown } | null;
      if (body && body.type === 'SET_MODE' && typeof body.mode === 'string') await this.publishMode(body.mode, b.header.block_number, b.hash);
    }
  }

  /**
   * Publishes the certificate of a rollback the sequencer just made (its head is now the
   * target). Queued synchronously, so a block published after this call goes out after it.
   */
  publishRollback(certificate: RollbackCertificate): Promise<void> {
    this.localHead = { number: certificate.target_height, hash: certificate.target_hash };
    this.remember(certificate);
    this.log.warn(`publishing rollback certificate: target ${certificate.target_height} ${hex(certificate.target_hash)}, orphaned head ${certificate.orphaned_head_height} ${hex(certificate.orphaned_head_hash)}`);
    return this.enqueuePublish(encodeEnvelope({ type: 'rollback', certificate }));
  }

  /**
   * Publishes a certificate of an earlier (offline) rollback: now if a peer listens, else as
   * soon as one subscribes. Peers that connect later ask for it on the rollbacks protocol.
   */
  announceRollback(certificate: RollbackCertificate): void {
    this.remember(certificate);
    if (this.node.services.pubsub.getSubscribers(this.names.blocksTopic).length > 0) void this.enqueuePublish(encodeEnvelope({ type: 'rollback', certificate }));
    else this.pendingAnnouncement = certificate;
  }

  /** The certificates this node knows (stored and learnt), newest targets first, bounded. */
  async knownCertificates(): Promise<RollbackCertificate[]> {
    for (const c of (await this.chain.certificates?.()) ?? []) this.remember(c);
    return [...this.certs.values()]
      .sort((a, b) => (a.target_height === b.target_height ? cmp(b.orphaned_head_height, a.orphaned_head_height) : cmp(b.target_height, a.target_height)))
      .slice(0, this.opts.maxCertificates);
  }

  /** Keeps a verified certificate; false when it was already known. */
  private remember(c: RollbackCertificate): boolean {
    const h = certificateHash(c);
    if (this.certs.has(h)) return false;
    this.certs.set(h, c);
    while (this.certs.size > 2 * this.opts.maxCertificates) this.certs.delete(this.certs.keys().next().value!);
    return true;
  }

  /** Publishes a mode-change hint naming the block that records it. */
  async publishMode(mode: string, number: bigint, hash: bigint): Promise<void> {
    await this.enqueuePublish(encodeEnvelope({ type: 'mode', mode, number, hash }));
  }

  private enqueuePublish(bytes: Uint8Array): Promise<void> {
    const p = this.publishTail.then(() => this.publishRaw(bytes));
    this.publishTail = p;
    return p;
  }

  /** Publishes bytes on the blocks topic as they are (tests use it to play a hostile peer). */
  async publishRaw(bytes: Uint8Array): Promise<void> {
    if (this.stopping) return;
    try {
      await this.node.services.pubsub.publish(this.names.blocksTopic, bytes);
    } catch (e) {
      this.log.debug(`publish failed: ${(e as Error).message}`);
    }
  }

  private async onGossip(data: Uint8Array, from: string): Promise<Acceptance> {
    this.stats.gossipReceived++;
    if (this.stopping) return 'ignore';
    let env: Envelope;
    try {
      env = decodeEnvelope(data, this.opts.maxGossipBytes);
    } catch (e) {
      const code = e instanceof EnvelopeError ? e.code : 'malformed';
      this.penalise(from, code, (e as Error).message);
      return 'reject';
    }
    if (env.type === 'rollback') return this.onCertificate(env.certificate, from);
    if (env.type === 'mode') {
      // A hint only: the mode a follower enforces is the one in its state, from the block.
      this.log.info(`mode hint from ${from}: ${env.mode} at block ${env.number} ${hex(env.hash)}`);
      this.emit('mode', { mode: env.mode, number: env.number, hash: env.hash, from });
      return 'ignore';
    }
    const head = this.localHead;
    // The next block goes straight to importBlock, which checks signature and hash first (a
    // STARK verify costs milliseconds: do it once). Anything else is checked here.
    const direct = this.opts.role === 'follower' && env.block !== undefined && env.number === head.number + 1n;
    if (!direct) {
      if (!verify(env.hash, this.chain.sequencerKey, env.signature)) {
        this.penalise(from, 'bad_signature', `block ${env.number} ${hex(env.hash)}: sequencer signature does not verify`);
        return 'reject';
      }
      if (env.block && blockHash(env.block.header) !== env.hash) {
        this.penalise(from, 'bad_hash', `block ${env.number}: header does not hash to ${hex(env.hash)}`);
        return 'reject';
      }
    }
    if (this.opts.role === 'sequencer') return 'ignore';
    if (env.number <= head.number) return this.onOldBlock(env, from);
    if (env.number > head.number + 1n) {
      this.peers.setHead(from, { number: env.number, hash: env.hash });
      if (env.block) this.bufferBlock(env.block, from);
      this.requestSync();
      return 'ignore';
    }
    let block = env.block;
    if (!block) {
      block = await this.fetchAnnounced(env.number, env.hash, from);
      if (!block) return 'ignore';
    }
    const r = await this.importOne(block, from, 'gossip');
    if (r === 'imported') {
      this.peers.setHead(from, { number: env.number, hash: env.hash });
      void this.drainBuffer();
    }
    if (r === 'duplicate') return env.number === this.localHead.number && (await this.sameAsOurs(env)) ? 'accept' : 'ignore';
    return r === 'imported' ? 'accept' : r === 'rejected' ? 'reject' : 'ignore';
  }

  /** Whether a (signature-checked) block message carries exactly the block we hold. */
  private async sameAsOurs(env: { number: bigint; hash: bigint; block?: Block }): Promise<boolean> {
    const ours = await this.chain.block(env.number);
    if (!ours || ours.hash !== env.hash) return false;
    return !env.block || JSON.stringify(blockToJson(env.block)) === JSON.stringify(blockToJson(ours));
  }

  private async onOldBlock(env: { number: bigint; hash: bigint; block?: Block }, from: string): Promise<Acceptance> {
    const { number, hash } = env;
    const ours = await this.chain.signedHeader(number);
    if (ours && ours.hash === hash) {
      this.stats.ignoredOld++;
      // The block we imported last is still fresh gossip worth relaying (if it is exactly ours);
      // older ones are replays.
      return number === this.localHead.number && (await this.sameAsOurs(env)) ? 'accept' : 'ignore';
    }
    this.noteConflict(number, hash, from);
    return 'ignore';
  }

  private readonly conflicts = new Set<string>();
  private noteConflict(number: bigint, hash: bigint, from: string): void {
    this.stats.conflicting++;
    const key = `${number}:${hash}`;
    if (this.conflicts.has(key)) return;
    if (this.conflicts.size > 1000) this.conflicts.clear();
    this.conflicts.add(key);
    this.log.warn(`peer ${from} sent a sequencer-signed block ${number} ${hex(hash)} on another branch than ours (the sequencer rolled back?)${this.follows ? ': asking it for rollback certificates' : ''}`);
    this.emit('conflict', { number, hash, from });
    this.scheduleFollow(from);
  }

  private bufferBlock(b: Block, from: string): void {
    const n = b.header.block_number;
    if (this.buffer.has(n)) return;
    if (this.buffer.size >= this.opts.maxBufferedBlocks) {
      // Keep the blocks closest to our head: drop the furthest.
      const far = [...this.buffer.keys()].reduce((a, c) => (c > a ? c : a));
      if (far < n) return;
      this.buffer.delete(far);
    }
    this.buffer.set(n, { block: b, from });
  }

  private async drainBuffer(): Promise<void> {
    for (;;) {
      for (const k of this.buffer.keys()) if (k <= this.localHead.number) this.buffer.delete(k);
      const next = this.buffer.get(this.localHead.number + 1n);
      if (!next || this.stopping) return;
      this.buffer.delete(this.localHead.number + 1n);
      const r = await this.importOne(next.block, next.from, 'gossip');
      if (r !== 'imported' && r !== 'duplicate') return;
    }
  }

  /** An announced (too big for gossip) block: fetched from its announcer, then from others. */
  private async fetchAnnounced(number: bigint, hash: bigint, from: string): Promise<Block | undefined> {
    const order = [from, ...this.peers.candidates(number).map((p) => p.id).filter((id) => id !== from)];
    for (const id of order.slice(0, 4)) {
      try {
        const [b] = await this.requestRange(id, number, 1);
        if (b && b.hash === hash) return b;
        this.peers.demote(id);
      } catch (e) {
        this.onRequestError(id, e);
      }
    }
    return undefined;
  }

  // ---- import ---------------------------------------------------------------------------------

  private importOne(b: Block, from: string, via: 'gossip' | 'sync'): Promise<ImportOutcome> {
    return this.importLock.run(async (): Promise<ImportOutcome> => {
      if (this.stopping || this.broken) return 'stopped';
      const n = b.header.block_number;
      const head = (this.localHead = await this.chain.head());
      if (n <= head.number) {
        const ours = await this.chain.signedHeader(n);
        return ours?.hash === b.hash ? 'duplicate' : 'old';
      }
      if (n !== head.number + 1n) return 'gap';
      const t0 = performance.now();
      try {
        await this.chain.importBlock!(b);
      } catch (e) {
        if (isRejection(e) && e.reason === 'bad_parent') {
          // Signed by the sequencer (the signature is checked first) but on another branch: the
          // sequencer rolled back. Not the relaying peer's fault; following it needs the
          // rollback certificate, which we ask that peer for.
          this.noteConflict(n, b.hash, from);
          return 'conflict';
        }
        if (isRejection(e)) {
          this.penalise(from, e.reason, e.message);
          return 'rejected';
        }
        this.log.error(`importing block ${n} failed locally: ${(e as Error).stack ?? e}`);
        return 'error';
      }
      this.localHead = { number: n, hash: b.hash };
      this.stats.imported++;
      if (via === 'gossip') this.stats.importedFromGossip++;
      else this.stats.importedFromSync++;
      this.peers.reward(from);
      this.log.debug(`imported block ${n} ${hex(b.hash)} txs=${b.transactions.length} via ${via} from ${from} in ${Math.round(performance.now() - t0)} ms`);
      this.emit('block', b);
      return 'imported';
    });
  }

  // ---- sync -----------------------------------------------------------------------------------

  /** Starts a catch-up sync unless one runs (then it runs again when done). */
  requestSync(): void {
    if (this.opts.role !== 'follower' || this.stopping) return;
    if (this.syncPromise) {
      this.syncAgain = true;
      return;
    }
    this.syncPromise = this.track(this.syncLoop()).finally(() => {
      this.syncPromise = undefined;
    });
  }

  private async syncLoop(): Promise<void> {
    let idleRounds = 0;
    while (!this.stopping) {
      this.syncAgain = false;
      const head = (this.localHead = await this.chain.head());
      const best = this.peers.bestHead();
      if (!best || best.number <= head.number) {
        await this.drainBuffer();
        if (this.syncAgain) continue;
        return;
      }
      const from = head.number + 1n;
      const gap = best.number - head.number;
      const count = Number(gap < BigInt(this.opts.maxRangeCount) ? gap : BigInt(this.opts.maxRangeCount));
      let progressed = false;
      for (const p of this.peers.candidates(from)) {
        if (this.stopping) return;
        const got = await this.syncFrom(p.id, from, count);
        if (got > 0) {
          progressed = true;
          break;
        }
      }
      await this.drainBuffer();
      if (progressed || this.localHead.number >= from) {
        idleRounds = 0;
        continue;
      }
      // Nobody delivered: peers' claimed heads were dropped on failure, so the loop ends once
      // none claims more; wait a little between rounds so we do not spin.
      if (++idleRounds > 5) return;
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * idleRounds)));
    }
  }

  /** Requests a range from one peer and imports it; returns how many blocks it imported. */
  private async syncFrom(id: string, from: bigint, count: number): Promise<number> {
    let blocks: Block[];
    try {
      blocks = await this.requestRange(id, from, count);
    } catch (e) {
      this.onRequestError(id, e);
      return 0;
    }
    if (blocks.length === 0) {
      // It claimed a head it cannot serve (it may have been syncing itself): forget the claim.
      const r = this.peers.get(id);
      if (r.head && r.head.number >= from) r.head = undefined;
      this.peers.demote(id);
      return 0;
    }
    let imported = 0;
    for (const b of blocks) {
      const r = await this.importOne(b, id, 'sync');
      if (r === 'imported') imported++;
      else if (r !== 'duplicate') break;
    }
    return imported;
  }

  private onRequestError(id: string, e: unknown): void {
    this.stats.rangeFailures++;
    if (e instanceof ProtocolOffence) this.penalise(id, e.reason, e.message);
    else if (e instanceof FrameError && (e.code === 'oversized' || e.code === 'malformed')) this.penalise(id, e.code, e.message);
    else {
      this.peers.demote(id);
      const r = this.peers.get(id);
      r.head = undefined;
      if (!this.stopping) this.log.debug(`request to ${id} failed: ${(e as Error).message}`);
    }
  }

  private async openStream(id: string, protocol: string): Promise<Stream> {
    const pid = this.peerIds.get(id);
    if (!pid) throw new Error(`unknown peer ${id}`);
    const signal = AbortSignal.any([this.ac.signal, AbortSignal.timeout(this.opts.requestTimeoutMs)]);
    const conn = this.node.getConnections(pid).find((c: Connection) => c.status === 'open');
    if (conn) return conn.newStream(protocol, { signal });
    return this.node.dialProtocol(pid, protocol, { signal });
  }

  /** blocks_by_range client: at most `count` consecutive blocks from `from`, checked for shape. */
  async requestRange(id: string, from: bigint, count: number): Promise<Block[]> {
    if (count < 1 || count > this.opts.maxRangeCount) throw new Error(`range count ${count} out of bounds`);
    this.stats.rangeRequestsMade++;
    const stream = await this.openStream(id, this.names.blocksByRange);
    return withDeadline(
      stream,
      this.opts.requestTimeoutMs,
      `blocks_by_range ${from}+${count} from ${id}`,
      async (signal) => {
        await send(stream, jsonFrame({ from: Number(from), count }), signal);
        await stream.close({ signal });
        const reader = new FrameReader(stream);
        const hdr = (await reader.nextJson(4096)) as any;
        if (!hdr || typeof hdr !== 'object') throw new ProtocolOffence('bad_response', 'blocks_by_range answer header is not an object');
        if (hdr.ok !== true) throw new Error(`peer refused blocks_by_range: ${String(hdr.error).slice(0, 200)}`);
        if (!Number.isSafeInteger(hdr.count) || hdr.count < 0 || hdr.count > count) throw new ProtocolOffence('bad_response', `blocks_by_range answer announces ${hdr.count} blocks for a request of ${count}`);
        const out: Block[] = [];
        let total = 0;
        for (let i = 0; i < hdr.count; i++) {
          const f = await reader.next(this.opts.maxFrameBytes);
          if (f === null) throw new FrameError('closed', `blocks_by_range answer ended after ${i} of ${hdr.count} blocks`);
          total += f.length;
          if (total > this.opts.maxResponseBytes) throw new FrameError('oversized', `blocks_by_range answer exceeds ${this.opts.maxResponseBytes} bytes`);
          let b: Block;
          try {
            b = blockFromJson(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(f)));
          } catch (e) {
            throw new ProtocolOffence('malformed', `blocks_by_range block ${i}: ${(e as Error).message}`);
          }
          if (b.header.block_number !== from + BigInt(i)) throw new ProtocolOffence('bad_range', `blocks_by_range answer has block ${b.header.block_number} at position ${i} of a range from ${from}`);
          out.push(b);
        }
        return out;
      },
      this.ac.signal,
    ).finally(() => {
      if (stream.status === 'open') stream.abort(new Error('done'));
    });
  }

  private async serveRange(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    if (this.peers.isBanned(peer)) return stream.abort(new Error('banned'));
    this.stats.rangeRequestsServed++;
    await withDeadline(
      stream,
      this.opts.requestTimeoutMs,
      `serving blocks_by_range to ${peer}`,
      async (signal) => {
        const reader = new FrameReader(stream);
        let req: any;
        try {
          req = await reader.nextJson(1024);
        } catch (e) {
          await send(stream, jsonFrame({ ok: false, error: (e as Error).message }), signal);
          return stream.close({ signal });
        }
        const fromOk = req && Number.isSafeInteger(req.from) && req.from >= 0;
        const countOk = req && Number.isSafeInteger(req.count) && req.count >= 1 && req.count <= this.opts.maxRangeCount;
        if (!fromOk || !countOk) {
          await send(stream, jsonFrame({ ok: false, error: `request must be {from >= 0, count in [1, ${this.opts.maxRangeCount}]}` }), signal);
          return stream.close({ signal });
        }
        const head = await this.chain.head();
        const frames: Uint8Array[] = [];
        let total = 0;
        for (let n = BigInt(req.from); n <= head.number && frames.length < req.count; n++) {
          const b = await this.chain.block(n);
          if (!b) break;
          const bytes = enc.encode(JSON.stringify(blockToJson(b)));
          if (bytes.length > this.opts.maxFrameBytes || total + bytes.length > this.opts.maxResponseBytes) break;
          total += bytes.length + 4;
          const f = new Uint8Array(4 + bytes.length);
          new DataView(f.buffer).setUint32(0, bytes.length, false);
          f.set(bytes, 4);
          frames.push(f);
        }
        await send(stream, jsonFrame({ ok: true, count: frames.length }), signal);
        for (const f of frames) await send(stream, f, signal);
        await stream.close({ signal });
      },
      this.ac.signal,
    ).catch((e) => {
      if (!this.stopping) this.log.debug(`serving blocks_by_range to ${peer} failed: ${(e as Error).message}`);
    });
  }

  // ---- status protocol -----------------------------------------------------------------------

  private async serveStatus(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    if (this.peers.isBanned(peer)) return stream.abort(new Error('banned'));
    await withDeadline(
      stream,
      this.opts.requestTimeoutMs,
      `serving status to ${peer}`,
      async (signal) => {
        await new FrameReader(stream).nextJson(1024);
        const head = await this.chain.head();
        const sh = await this.chain.signedHeader(head.number);
        if (!sh) throw new Error(`no header for our head ${head.number}`);
        await send(stream, jsonFrame({ ok: true, role: this.opts.role, header: headerToJson(sh.header), hash: hex(sh.hash), signature: sh.signature.map(hex) }), signal);
        await stream.close({ signal });
      },
      this.ac.signal,
    ).catch((e) => {
      if (!this.stopping) this.log.debug(`serving status to ${peer} failed: ${(e as Error).message}`);
    });
  }

  /** Asks one peer for its head; records it when it proves it (signed header). */
  async queryStatus(id: string): Promise<PeerHead | undefined> {
    if (this.stopping || this.peers.isBanned(id) || this.unsupported.has(id)) return undefined;
    let stream: Stream;
    try {
      stream = await this.openStream(id, this.names.status);
    } catch (e) {
      if (/protocol/i.test((e as Error).message) && /(not supported|selection|negotiat)/i.test((e as Error).message)) this.unsupported.add(id);
      this.log.debug(`status of ${id}: ${(e as Error).message}`);
      return undefined;
    }
    try {
      const j = (await withDeadline(
        stream,
        this.opts.requestTimeoutMs,
        `status from ${id}`,
        async (signal) => {
          await send(stream, jsonFrame({}), signal);
          await stream.close({ signal });
          return new FrameReader(stream).nextJson(64 << 10);
        },
        this.ac.signal,
      )) as any;
      let header: BlockHeader, hash: bigint, sig: [bigint, bigint];
      try {
        header = headerFromJson(j.header);
        hash = BigInt(j.hash);
        sig = [BigInt(j.signature[0]), BigInt(j.signature[1])];
      } catch (e) {
        throw new ProtocolOffence('bad_status', `status answer is malformed: ${(e as Error).message}`);
      }
      if (blockHash(header) !== hash) throw new ProtocolOffence('bad_status', `status header does not hash to ${hex(hash)}`);
      // A head we hold needs no signature check (a STARK verify costs milliseconds).
      const known = header.block_number <= this.localHead.number && (await this.chain.signedHeader(header.block_number))?.hash === hash;
      const signed = known || (header.block_number === 0n ? hash === this.genesisHash : verify(hash, this.chain.sequencerKey, sig));
      if (!signed) throw new ProtocolOffence('bad_status', `status head ${header.block_number} ${hex(hash)} is not signed by this chain's sequencer`);
      const head = { number: header.block_number, hash };
      if (j.role === 'sequencer' || j.role === 'follower') this.peers.setRole(id, j.role);
      if (!known && (await this.isOrphan(hash))) {
        // A peer still on a branch a certificate orphaned: not a head to sync from.
        this.peers.get(id).head = undefined;
        this.log.debug(`peer ${id} is at ${header.block_number} ${hex(hash)}, an orphaned block: not syncing from it`);
        return undefined;
      }
      if (!known && header.block_number <= this.localHead.number) {
        // Our head may have moved while we checked: compare with the block we hold now.
        const ours = await this.chain.signedHeader(header.block_number);
        if (ours && ours.hash !== hash) this.noteConflict(header.block_number, hash, id);
      }
      this.peers.setHead(id, head, true);
      if (this.opts.role === 'follower' && head.number > this.localHead.number) this.requestSync();
      return head;
    } catch (e) {
      if (e instanceof ProtocolOffence) this.penalise(id, e.reason, e.message);
      else if (e instanceof FrameError && (e.code === 'oversized' || e.code === 'malformed')) this.penalise(id, e.code, e.message);
      else this.log.debug(`status of ${id}: ${(e as Error).message}`);
      return undefined;
    } finally {
      if (stream.status === 'open') stream.abort(new Error('done'));
    }
  }

  private async pollStatus(): Promise<void> {
    await Promise.all(this.peers.active().map((p) => this.queryStatus(p.id)));
    if (this.opts.role === 'follower') this.requestSync();
  }

  // ---- rollback following -----------------------------------------------------------------------

  /** A follower that acts on certificates (a chain without rollbackTo only checks them). */
  private get follows(): boolean {
    return this.opts.role === 'follower' && this.chain.rollbackTo !== undefined;
  }

  /** Signature by the genesis key and chain id; remembers a valid certificate seen first now. */
  private checkCertificate(c: RollbackCertificate): 'new' | 'known' | 'invalid' {
    const k = this.certs.get(certificateHash(c));
    if (k && k.signature[0] === c.signature[0] && k.signature[1] === c.signature[1]) return 'known';
    if (c.chain_id !== this.chainIdFelt || !verifyCertificate(c, this.chain.sequencerKey)) return 'invalid';
    if (k) return 'known';
    this.remember(c);
    this.stats.certificatesLearnt++;
    return 'new';
  }

  private async onCertificate(c: RollbackCertificate, from: string): Promise<Acceptance> {
    const v = this.checkCertificate(c);
    if (v === 'invalid') {
      this.penalise(from, 'bad_certificate', `rollback certificate to ${c.target_height} is not signed by this chain's sequencer for this chain`);
      return 'reject';
    }
    if (v === 'known' || this.opts.role === 'sequencer') return 'ignore';
    this.log.warn(`rollback certificate from ${from}: target ${c.target_height} ${hex(c.target_hash)}, orphaned head ${c.orphaned_head_height} ${hex(c.orphaned_head_hash)}, reason ${JSON.stringify(c.reason)}`);
    this.emit('rollback', c);
    const ours = c.target_height <= this.localHead.number ? await this.chain.signedHeader(c.target_height) : undefined;
    if (ours && ours.hash !== c.target_hash) {
      this.stats.rollbacksIgnored++;
      this.log.warn(`certificate target ${c.target_height} ${hex(c.target_hash)} is not our block ${hex(ours.hash)} at that height: not followed`);
      return 'ignore';
    }
    if (!this.follows) {
      this.stats.rollbacksIgnored++;
      this.log.warn('this node does not follow rollbacks: certificate ignored');
      return 'accept';
    }
    this.scheduleFollow(from, c);
    return 'accept';
  }

  /** Asks `peer` (if given) for its certificates, then follows any that applies; coalesced. */
  private scheduleFollow(peer?: string, fresh?: RollbackCertificate): void {
    if (!this.follows || this.stopping) return;
    if (peer) this.followPeers.add(peer);
    if (fresh) this.freshCerts.add(fresh);
    if (this.followPromise) {
      this.followAgain = true;
      return;
    }
    this.followPromise = this.track(this.followLoop()).finally(() => {
      this.followPromise = undefined;
    });
  }

  private async followLoop(): Promise<void> {
    do {
      this.followAgain = false;
      const peers = [...this.followPeers];
      const fresh = [...this.freshCerts];
      this.followPeers.clear();
      this.freshCerts.clear();
      for (const id of peers) await this.fetchCertificates(id);
      if (this.stopping) return;
      const applied = await this.applyCertificates(peers);
      for (const c of fresh)
        if (c !== applied) {
          this.stats.rollbacksIgnored++;
          this.log.info(`certificate to ${c.target_height} does not orphan our head: not followed`);
        }
      if (applied) await this.pollStatus();
    } while (this.followAgain && !this.stopping);
  }

  /** The certificates a peer serves; each is verified, a forged one is an offence. */
  private async fetchCertificates(id: string): Promise<void> {
    const now = Date.now();
    if ((this.certFetchedAt.get(id) ?? 0) + this.opts.certificateFetchIntervalMs > now || this.peers.isBanned(id)) return;
    this.certFetchedAt.set(id, now);
    if (this.certFetchedAt.size > 1000) this.certFetchedAt.clear();
    let certs: RollbackCertificate[];
    try {
      certs = await this.requestCertificates(id);
    } catch (e) {
      this.onRollbacksError(id, e);
      return;
    }
    for (const c of certs)
      if (this.checkCertificate(c) === 'invalid') {
        this.penalise(id, 'bad_certificate', `served a rollback certificate to ${c.target_height} that is not signed by this chain's sequencer for this chain`);
        return;
      }
  }

  private onRollbacksError(id: string, e: unknown): void {
    if (e instanceof ProtocolOffence) this.penalise(id, e.reason, e.message);
    else if (e instanceof FrameError && (e.code === 'oversized' || e.code === 'malformed')) this.penalise(id, e.code, e.message);
    else if (!this.stopping) this.log.debug(`rollbacks request to ${id} failed: ${(e as Error).message}`);
  }

  /**
   * Rolls back under the known certificate with the lowest target that holds for our chain:
   * its target is our block at that height, and our head provably lies on the branch it
   * orphans. Returns the certificate followed, if any.
   */
  private async applyCertificates(hints: string[]): Promise<RollbackCertificate | undefined> {
    if (this.certs.size === 0 || this.broken) return undefined;
    const head = await this.chain.head();
    let chosen: { c: RollbackCertificate; at: PeerHead } | undefined;
    for (const c of [...this.certs.values()].sort((a, b) => cmp(a.target_height, b.target_height))) {
      if (this.stopping) return undefined;
      if (c.target_height >= head.number) break;
      if ((await this.chain.signedHeader(c.target_height))?.hash !== c.target_hash) continue;
      const at = await this.proveOrphaned(c, head, hints);
      if (at) {
        chosen = { c, at };
        break;
      }
    }
    if (!chosen) return undefined;
    const { c, at } = chosen;
    return this.importLock.run(async () => {
      if (this.stopping || this.broken) return undefined;
      // Imports may have run meanwhile: the proof must still hold.
      const cur = await this.chain.head();
      if (c.target_height >= cur.number || at.number > cur.number) return undefined;
      if ((await this.chain.signedHeader(c.target_height))?.hash !== c.target_hash) return undefined;
      if ((await this.chain.signedHeader(at.number))?.hash !== at.hash) return undefined;
      this.log.warn(
        `following the sequencer's rollback: head ${cur.number} ${hex(cur.hash)} lies on the branch orphaned by the certificate (target ${c.target_height} ${hex(c.target_hash)}, orphaned head ${c.orphaned_head_height}, reason ${JSON.stringify(c.reason)}, incident ${hex(c.incident_id)}); rolling back`,
      );
      const t0 = performance.now();
      try {
        await this.chain.rollbackTo!(c);
      } catch (e) {
        this.broken = `rollback to ${c.target_height} failed: ${(e as Error).message}`;
        this.log.error(`${this.broken}; block import stopped — restart the node to finish the rollback. ${(e as Error).stack ?? ''}`);
        return undefined;
      }
      this.localHead = await this.chain.head();
      this.buffer.clear();
      this.conflicts.clear();
      // Peers' heads above the target may be on the orphaned branch: ask them again.
      for (const p of this.peers.all()) if (p.head && p.head.number > c.target_height) p.head = undefined;
      this.stats.rollbacksApplied++;
      this.log.warn(`rolled back from ${cur.number} to ${this.localHead.number} ${hex(this.localHead.hash)} in ${Math.round(performance.now() - t0)} ms; following the new branch`);
      this.emit('rolledBack', { certificate: c, from: cur, to: this.localHead });
      return c;
    });
  }

  /**
   * Where our chain provably meets the branch `c` orphans (a height and our hash there), or
   * undefined. We hold the orphaned head itself, or the orphaned headers walked down from it
   * (hash-linked from the signed orphaned head hash) reach our head.
   */
  private async proveOrphaned(c: RollbackCertificate, head: PeerHead, hints: string[]): Promise<PeerHead | undefined> {
    if (head.number >= c.orphaned_head_height) {
      const ours = await this.chain.signedHeader(c.orphaned_head_height);
      return ours?.hash === c.orphaned_head_hash ? { number: c.orphaned_head_height, hash: c.orphaned_head_hash } : undefined;
    }
    const gap = c.orphaned_head_height - head.number;
    if (gap > BigInt(this.opts.maxOrphanWalk)) {
      const h = certificateHash(c);
      if (!this.walkWarned.has(h)) {
        this.walkWarned.add(h);
        this.log.warn(`certificate to ${c.target_height}: our head ${head.number} is ${gap} blocks below its orphaned head (more than maxOrphanWalk ${this.opts.maxOrphanWalk}); cannot tell whether it orphans our branch — roll this node back by hand if it does`);
      }
      return undefined;
    }
    const theirs = await this.orphanedHashAt(c, head.number, hints);
    return theirs !== undefined && theirs === head.hash ? head : undefined;
  }

  /** The hash of the block at `height` on the branch `c` orphans (target < height <= orphaned head). */
  private async orphanedHashAt(c: RollbackCertificate, height: bigint, hints: string[]): Promise<bigint | undefined> {
    let hash = c.orphaned_head_hash;
    let n = c.orphaned_head_height;
    while (n > height) {
      let link = this.orphanLinks.get(hash);
      if (!link) {
        const local = await this.chain.orphanHeader?.(hash);
        link = local ? { number: local.block_number, parent: local.parent_hash } : await this.fetchOrphanLinks(hash, n - height, c.target_height, hints);
      }
      if (!link || link.number !== n) return undefined;
      hash = link.parent;
      n--;
    }
    return hash;
  }

  /** Fetches orphaned headers from `hash` down (at most `want`), keeping those above `floor`. */
  private async fetchOrphanLinks(hash: bigint, want: bigint, floor: bigint, hints: string[]): Promise<{ number: bigint; parent: bigint } | undefined> {
    const count = Number(want < BigInt(MAX_ORPHAN_HEADERS) ? want : BigInt(MAX_ORPHAN_HEADERS));
    const active = this.peers.active();
    const order = [...new Set([...hints, ...active.filter((p) => p.role === 'sequencer').map((p) => p.id), ...active.map((p) => p.id)])].filter((id) => !this.peers.isBanned(id));
    for (const id of order.slice(0, 4)) {
      if (this.stopping) return undefined;
      let headers: { header: BlockHeader; hash: bigint }[];
      try {
        headers = await this.requestOrphans(id, hash, count);
      } catch (e) {
        this.onRollbacksError(id, e);
        continue;
      }
      if (headers.length === 0) continue;
      if (this.orphanLinks.size + headers.length > 4 * this.opts.maxOrphanWalk) this.orphanLinks.clear();
      for (const x of headers) if (x.header.block_number > floor) this.orphanLinks.set(x.hash, { number: x.header.block_number, parent: x.header.parent_hash });
      return this.orphanLinks.get(hash);
    }
    return undefined;
  }

  /** Whether `hash` is a block some certificate orphaned (as far as we know). */
  private async isOrphan(hash: bigint): Promise<boolean> {
    if (this.orphanLinks.has(hash)) return true;
    for (const c of this.certs.values()) if (c.orphaned_head_hash === hash) return true;
    return (await this.chain.orphanHeader?.(hash)) !== undefined;
  }

  /** One request/response exchange on the rollbacks protocol. */
  private async rollbacksExchange(id: string, request: unknown, what: string): Promise<any> {
    const stream = await this.openStream(id, this.names.rollbacks);
    try {
      const j = (await withDeadline(
        stream,
        this.opts.requestTimeoutMs,
        `${what} from ${id}`,
        async (signal) => {
          await send(stream, jsonFrame(request), signal);
          await stream.close({ signal });
          return new FrameReader(stream).nextJson(MAX_ROLLBACKS_ANSWER);
        },
        this.ac.signal,
      )) as any;
      if (!j || typeof j !== 'object') throw new ProtocolOffence('bad_response', `${what} answer is not an object`);
      if (j.ok !== true) throw new Error(`peer refused ${what}: ${String(j.error).slice(0, 200)}`);
      return j;
    } finally {
      if (stream.status === 'open') stream.abort(new Error('done'));
    }
  }

  /** rollbacks client: the certificates a peer holds (shape checked; signatures are not). */
  async requestCertificates(id: string): Promise<RollbackCertificate[]> {
    const j = await this.rollbacksExchange(id, { type: 'certificates' }, 'rollback certificates');
    if (!Array.isArray(j.certificates) || j.certificates.length > MAX_CERTIFICATES) throw new ProtocolOffence('bad_response', `rollback certificates answer must hold at most ${MAX_CERTIFICATES} certificates`);
    try {
      return j.certificates.map((c: unknown, i: number) => certificateFromWire(c, `certificates[${i}]`));
    } catch (e) {
      throw new ProtocolOffence('malformed', (e as Error).message);
    }
  }

  /**
   * rollbacks client: up to `count` orphaned headers from block `from` down, each checked to
   * hash to its stated hash and to be the parent of the one before (so they are exactly the
   * ancestors of `from`).
   */
  async requestOrphans(id: string, from: bigint, count: number): Promise<{ header: BlockHeader; hash: bigint }[]> {
    if (count < 1 || count > MAX_ORPHAN_HEADERS) throw new Error(`orphan header count ${count} out of bounds`);
    const j = await this.rollbacksExchange(id, { type: 'orphans', from: hex(from), count }, 'orphaned headers');
    if (!Array.isArray(j.headers) || j.headers.length > count) throw new ProtocolOffence('bad_response', `orphaned headers answer must hold at most ${count} headers`);
    const out: { header: BlockHeader; hash: bigint }[] = [];
    for (const [i, x] of (j.headers as any[]).entries()) {
      let header: BlockHeader, hash: bigint;
      try {
        header = headerFromJson(x.header);
        hash = BigInt(x.hash);
      } catch (e) {
        throw new ProtocolOffence('malformed', `orphaned header ${i}: ${(e as Error).message}`);
      }
      if (blockHash(header) !== hash) throw new ProtocolOffence('bad_response', `orphaned header ${i} does not hash to ${hex(hash)}`);
      const prev = out[i - 1];
      if (i === 0 ? hash !== from : hash !== prev!.header.parent_hash || header.block_number + 1n !== prev!.header.block_number)
        throw new ProtocolOffence('bad_response', `orphaned header ${i} (${hex(hash)}) is not the parent of the one before it`);
      out.push({ header, hash });
    }
    return out;
  }

  private async serveRollbacks(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    if (this.peers.isBanned(peer)) return stream.abort(new Error('banned'));
    await withDeadline(
      stream,
      this.opts.requestTimeoutMs,
      `serving rollbacks to ${peer}`,
      async (signal) => {
        let req: any;
        try {
          req = await new FrameReader(stream).nextJson(1024);
        } catch (e) {
          req = undefined;
        }
        let answer: unknown;
        if (req?.type === 'certificates') {
          answer = { ok: true, certificates: (await this.knownCertificates()).map(certificateToJson) };
        } else if (req?.type === 'orphans' && typeof req.from === 'string' && /^0x[0-9a-fA-F]{1,64}$/.test(req.from) && Number.isSafeInteger(req.count) && req.count >= 1 && req.count <= MAX_ORPHAN_HEADERS) {
          const headers: unknown[] = [];
          let hash = BigInt(req.from);
          while (headers.length < req.count) {
            const h = await this.chain.orphanHeader?.(hash);
            if (!h) break;
            headers.push({ header: headerToJson(h), hash: hex(hash) });
            hash = h.parent_hash;
          }
          answer = { ok: true, headers };
        } else answer = { ok: false, error: `request must be {"type":"certificates"} or {"type":"orphans","from":"0x…","count":1..${MAX_ORPHAN_HEADERS}}` };
        await send(stream, jsonFrame(answer), signal);
        await stream.close({ signal });
      },
      this.ac.signal,
    ).catch((e) => {
      if (!this.stopping) this.log.debug(`serving rollbacks to ${peer} failed: ${(e as Error).message}`);
    });
  }

  // ---- status ---------------------------------------------------------------------------------

  status(): P2PStatus {
    const best = this.peers.bestHead();
    const head = this.localHead;
    const lag = best && best.number > head.number ? Number(best.number - head.number) : 0;
    return {
      role: this.opts.role,
      peer_id: this.peerId,
      listen: this.multiaddrs(),
      head: { number: Number(head.number), hash: hex(head.hash) },
      best_peer_head: best ? Number(best.number) : null,
      lag,
      syncing: this.syncPromise !== undefined,
      peers: this.peers
        .all()
        .filter((p) => p.connected || p.offences > 0)
        .map((p) => ({
          id: p.id,
          connected: p.connected,
          role: p.role ?? null,
          head: p.head ? { number: Number(p.head.number), hash: hex(p.head.hash) } : null,
          score: Math.round(p.score * 100) / 100,
          offences: p.offences,
          last_offence: p.lastOffence ?? null,
          banned: this.peers.isBanned(p.id),
        })),
      stats: { ...this.stats, rejected: { ...this.stats.rejected } },
    };
  }

  private logStatus(): void {
    const s = this.status();
    this.log.debug(`p2p status: head ${s.head.number} best peer head ${s.best_peer_head ?? '-'} lag ${s.lag} peers ${s.peers.filter((p) => p.connected).length}${s.syncing ? ' (syncing)' : ''}`);
  }

  /** Resolves once our head reaches `n` (tests and tools); rejects after `timeoutMs`. */
  waitForHead(n: bigint, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.localHead.number >= n) return resolve();
      const onBlock = () => {
        if (this.localHead.number >= n) done();
      };
      const t = setTimeout(() => {
        this.off('block', onBlock);
        reject(new Error(`head ${this.localHead.number} did not reach ${n} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        this.off('block', onBlock);
        resolve();
      };
      this.on('block', onBlock);
    });
  }

  // ---- stop -----------------------------------------------------------------------------------

  /** Stops timers, in-flight requests and libp2p; bounded by `stopTimeoutMs`. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.ac.abort();
    const deadline = new Promise<'timeout'>((r) => {
      const t = setTimeout(() => r('timeout'), this.opts.stopTimeoutMs);
      t.unref?.();
    });
    const work = (async () => {
      // An import in progress finishes (atomic batch); nothing new starts.
      await this.importLock.run(() => undefined);
      await Promise.allSettled([...this.inflight]);
      await this.node.stop();
    })();
    const r = await Promise.race([work.then(() => 'ok' as const), deadline]);
    if (r === 'timeout') {
      this.log.warn(`p2p did not stop within ${this.opts.stopTimeoutMs} ms; closing its connections`);
      await Promise.race([Promise.allSettled(this.node.getConnections().map((c) => c.abort(new Error('stopping')))), new Promise((r) => setTimeout(r, 200))]);
    } else this.log.info('p2p stopped');
  }
}
