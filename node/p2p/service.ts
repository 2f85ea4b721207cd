/**
 * The p2p service of one node: the composition of its parts around one shared context
 * (context.ts). It sees the chain only through `P2PChain`, so the sequencer, a follower and a
 * test double all plug in the same way.
 *
 * - gossip.ts      the blocks topic: publish (blocks, announcements, mode hints, certificates)
 *                  and the validation of every message received
 * - reqresp.ts     blocks_by_range, status and rollbacks: handlers and client calls
 * - sync.ts        block import (one lock, head + 1 only), the ahead-buffer, range sync and
 *                  status polling
 * - rollbacks.ts   the rollback follower (certificates, the orphaned-branch proof, the rollback)
 * - errors.ts      `BlockError` codes and the action on the peer; `ProtocolError`
 * - peers.ts       scores, offences, bans and heads of peers
 *
 * This file owns the host's lifecycle: start (listen, handlers, subscriptions, peer events,
 * timers, bootstrap dials), the status report, and a bounded stop. docs/followers.md describes
 * how a follower imports, syncs and follows rollbacks.
 *
 * Events: 'block' (Block imported), 'offence' ({peer, reason, detail, banned}), 'conflict'
 * ({number, hash, from}), 'mode' ({mode, number, hash, from}), 'rollback' (a new valid
 * certificate), 'rolledBack' ({certificate, from, to}).
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import type { PrivateKey } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Block } from '../chain/block.ts';
import type { Logger } from '../log.ts';
import { hex, P2PContext, type P2PChain, type P2PStats } from './context.ts';
import type { RollbackCertificate } from './envelope.ts';
import { BlockError } from './errors.ts';
import { Gossip } from './gossip.ts';
import { createHost, type Host } from './host.ts';
import type { PeerBook, PeerHead } from './peers.ts';
import { resolveP2POptions, type P2POptions, type Role } from './options.ts';
import { ReqResp } from './reqresp.ts';
import { RollbackFollower } from './rollbacks.ts';
import { Sync } from './sync.ts';

export type { P2PChain, P2PStats } from './context.ts';

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

/** A block import rejected as invalid (as opposed to a local failure): a `BlockError`. */
export function isRejection(e: unknown): e is BlockError {
  return e instanceof BlockError;
}

export interface StartP2POptions extends Partial<P2POptions> {
  privateKey?: PrivateKey;
}

export class P2PService extends EventEmitter {
  readonly opts: P2POptions;
  private readonly ctx: P2PContext;
  private readonly reqresp: ReqResp;
  private readonly sync: Sync;
  private readonly rollbacks: RollbackFollower;
  private readonly gossip: Gossip;
  private readonly timers: NodeJS.Timeout[] = [];

  private constructor(
    readonly chain: P2PChain,
    opts: StartP2POptions,
    readonly log: Logger,
  ) {
    super();
    this.opts = resolveP2POptions(opts);
    if (this.opts.role === 'follower' && !chain.importBlock) throw new Error('p2p: a follower needs chain.importBlock');
    const ctx = (this.ctx = new P2PContext(chain, this.opts, log, this));
    setMaxListeners(Infinity, ctx.ac.signal); // every request links its own signal to this one
    // The parts refer to each other only through the narrow hooks they declare.
    this.reqresp = new ReqResp(ctx, () => this.rollbacks.knownCertificates());
    this.rollbacks = new RollbackFollower(ctx, this.reqresp, { clearBuffer: () => this.sync.clearBuffer(), pollStatus: () => this.sync.pollStatus() });
    this.sync = new Sync(ctx, this.reqresp, this.rollbacks);
    this.gossip = new Gossip(ctx, this.sync, this.rollbacks, (bytes) => this.publishRaw(bytes));
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

  get names(): P2PContext['names'] {
    return this.ctx.names;
  }

  get peers(): PeerBook {
    return this.ctx.peers;
  }

  get stats(): P2PStats {
    return this.ctx.stats;
  }

  get peerId(): string {
    return this.ctx.node.peerId.toString();
  }

  /** Full listen multiaddrs, `/ip4/<host>/tcp/<port>/p2p/<peer id>`. */
  multiaddrs(): string[] {
    return this.ctx.node.getMultiaddrs().map(String);
  }

  /** The libp2p host (tests and tools; not for ordinary use). */
  get host(): Host {
    return this.ctx.node;
  }

  private async init(privateKey?: PrivateKey): Promise<void> {
    const { ctx, opts, log } = this;
    ctx.head = await this.chain.head();
    ctx.genesisHash = (await this.chain.signedHeader(0n))?.hash ?? 0n;
    const node = (ctx.host = await createHost({
      privateKey,
      host: opts.host,
      port: opts.port,
      maxGossipBytes: opts.maxGossipBytes,
      topics: [ctx.names.blocksTopic],
      isBanned: (id) => ctx.peers.isBanned(id),
    }));
    await this.reqresp.register(node);
    await this.rollbacks.load();
    this.gossip.attach(node);
    node.addEventListener('peer:connect', (evt) => {
      const id = evt.detail.toString();
      ctx.peerIds.set(id, evt.detail);
      ctx.peers.setConnected(id, true);
      log.debug(`peer connected ${id}`);
      // Ask its head once the connection settled (identify runs first).
      setTimeout(() => {
        if (ctx.stopping) return;
        // Then its certificates: a follower that was offline during a rollback learns it here.
        void ctx.track(this.sync.queryStatus(id).then(() => this.rollbacks.scheduleFollow(id)));
      }, 100).unref?.();
    });
    node.addEventListener('peer:disconnect', (evt) => {
      const id = evt.detail.toString();
      ctx.peers.setConnected(id, false);
      log.debug(`peer disconnected ${id}`);
    });
    for (const a of this.multiaddrs()) log.info(`p2p ${opts.role} listening on ${a}`);
    this.every(opts.statusIntervalMs, () => this.sync.pollStatus());
    this.every(opts.reconnectIntervalMs, () => this.dialBootstrap());
    this.every(opts.statusLogIntervalMs, () => this.logStatus());
    void this.dialBootstrap();
  }

  private every(ms: number, fn: () => unknown): void {
    const t = setInterval(() => {
      if (!this.ctx.stopping) void this.ctx.track(Promise.resolve().then(fn));
    }, ms);
    t.unref?.();
    this.timers.push(t);
  }

  private async dialBootstrap(): Promise<void> {
    const { ctx } = this;
    for (const addr of this.opts.bootstrap) {
      if (ctx.stopping) return;
      let ma: Multiaddr;
      try {
        ma = multiaddr(addr);
      } catch (e) {
        this.log.warn(`bad --bootstrap address ${addr}: ${(e as Error).message}`);
        continue;
      }
      const pid = ma.getComponents().find((c) => c.name === 'p2p')?.value;
      if (pid && (ctx.peers.isBanned(pid) || ctx.node.getConnections().some((c) => c.remotePeer.toString() === pid))) continue;
      try {
        await ctx.node.dial(ma, { signal: AbortSignal.any([ctx.ac.signal, AbortSignal.timeout(this.opts.requestTimeoutMs)]) });
      } catch (e) {
        if (!ctx.stopping) this.log.debug(`bootstrap ${addr} not reachable: ${(e as Error).message}`);
      }
    }
  }

  // ---- gossip (gossip.ts) ---------------------------------------------------------------------

  /** Publishes a sealed block (sequencer). Never throws: a peer that misses it syncs later. */
  publishBlock(b: Block): Promise<void> {
    return this.gossip.publishBlock(b);
  }

  /**
   * Publishes the certificate of a rollback the sequencer just made (its head is now the
   * target). Queued synchronously, so a block published after this call goes out after it.
   */
  publishRollback(certificate: RollbackCertificate): Promise<void> {
    return this.gossip.publishRollback(certificate);
  }

  /**
   * Publishes a certificate of an earlier (offline) rollback: now if a peer listens, else as
   * soon as one subscribes. Peers that connect later ask for it on the rollbacks protocol.
   */
  announceRollback(certificate: RollbackCertificate): void {
    this.gossip.announceRollback(certificate);
  }

  /** Publishes a mode-change hint naming the block that records it. */
  publishMode(mode: string, number: bigint, hash: bigint): Promise<void> {
    return this.gossip.publishMode(mode, number, hash);
  }

  /**
   * Publishes bytes on the blocks topic as they are (tests use it to play a hostile peer).
   * Every publication goes through this method, so a test may wrap it to watch them.
   */
  publishRaw(bytes: Uint8Array): Promise<void> {
    return this.gossip.publishRaw(bytes);
  }

  // ---- request/response (reqresp.ts) and sync (sync.ts) ---------------------------------------

  /** The certificates this node knows (stored and learnt), newest targets first, bounded. */
  knownCertificates(): Promise<RollbackCertificate[]> {
    return this.rollbacks.knownCertificates();
  }

  /** Starts a catch-up sync unless one runs (then it runs again when done). */
  requestSync(): void {
    this.sync.requestSync();
  }

  /** Asks one peer for its head; records it when it proves it (signed header). */
  queryStatus(id: string): Promise<PeerHead | undefined> {
    return this.sync.queryStatus(id);
  }

  /** blocks_by_range client: at most `count` consecutive blocks from `from`, checked for shape. */
  requestRange(id: string, from: bigint, count: number): Promise<Block[]> {
    return this.reqresp.requestRange(id, from, count);
  }

  /** rollbacks client: the certificates a peer holds (shape checked; signatures are not). */
  requestCertificates(id: string): Promise<RollbackCertificate[]> {
    return this.reqresp.requestCertificates(id);
  }

  /** rollbacks client: up to `count` hash-linked orphaned headers from block `from` down. */
  requestOrphans(id: string, from: bigint, count: number) {
    return this.reqresp.requestOrphans(id, from, count);
  }

  // ---- status ---------------------------------------------------------------------------------

  status(): P2PStatus {
    const { ctx } = this;
    const best = ctx.peers.bestHead();
    const head = ctx.head;
    const lag = best && best.number > head.number ? Number(best.number - head.number) : 0;
    return {
      role: this.opts.role,
      peer_id: this.peerId,
      listen: this.multiaddrs(),
      head: { number: Number(head.number), hash: hex(head.hash) },
      best_peer_head: best ? Number(best.number) : null,
      lag,
      syncing: this.sync.syncing,
      peers: ctx.peers
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
          banned: ctx.peers.isBanned(p.id),
        })),
      stats: { ...ctx.stats, rejected: { ...ctx.stats.rejected } },
    };
  }

  private logStatus(): void {
    const s = this.status();
    this.log.debug(`p2p status: head ${s.head.number} best peer head ${s.best_peer_head ?? '-'} lag ${s.lag} peers ${s.peers.filter((p) => p.connected).length}${s.syncing ? ' (syncing)' : ''}`);
  }

  /** Resolves once our head reaches `n` (tests and tools); rejects after `timeoutMs`. */
  waitForHead(n: bigint, timeoutMs: number): Promise<void> {
    const { ctx } = this;
    return new Promise((resolve, reject) => {
      if (ctx.head.number >= n) return resolve();
      const onBlock = () => {
        if (ctx.head.number >= n) done();
      };
      const t = setTimeout(() => {
        this.off('block', onBlock);
        reject(new Error(`head ${ctx.head.number} did not reach ${n} within ${timeoutMs} ms`));
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
    const { ctx } = this;
    if (ctx.stopping) return;
    ctx.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    ctx.ac.abort();
    const deadline = new Promise<'timeout'>((r) => {
      const t = setTimeout(() => r('timeout'), this.opts.stopTimeoutMs);
      t.unref?.();
    });
    const work = (async () => {
      // An import in progress finishes (atomic batch); nothing new starts.
      await ctx.importLock.run(() => undefined);
      await Promise.allSettled(ctx.pending());
      await ctx.node.stop();
    })();
    const r = await Promise.race([work.then(() => 'ok' as const), deadline]);
    if (r === 'timeout') {
      this.log.warn(`p2p did not stop within ${this.opts.stopTimeoutMs} ms; closing its connections`);
      await Promise.race([Promise.allSettled(ctx.node.getConnections().map((c) => c.abort(new Error('stopping')))), new Promise((r) => setTimeout(r, 200))]);
    } else this.log.info('p2p stopped');
  }
}
