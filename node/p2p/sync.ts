/**
 * Block import and catching up (a follower).
 *
 * - `importOne` is the only way a block reaches the chain: under the import lock, numbered
 *   exactly head + 1, through `chain.importBlock` (re-execution). A `BlockError` it throws is
 *   acted on by its code's action (errors.ts): an offence of the sending peer, a conflict (the
 *   rollback follower asks that peer for certificates) or nothing.
 * - Blocks that arrive ahead of our head are kept in a bounded buffer (closest to our head
 *   kept) and imported as soon as the gap is filled.
 * - Range sync: while a peer proves a head above ours (status protocol, or a gossiped block),
 *   ask the best-scored peers for up to `maxRangeCount` blocks from head + 1 and import them.
 *   Runs once at a time; a request while it runs makes it run another round.
 * - Status polling: every `statusIntervalMs` each peer is asked for its head.
 */
import type { Block } from '../chain/block.ts';
import { hex, type P2PContext } from './context.ts';
import { BlockError } from './errors.ts';
import type { PeerHead } from './peers.ts';
import type { ReqResp } from './reqresp.ts';

export type ImportOutcome = 'imported' | 'duplicate' | 'old' | 'conflict' | 'gap' | 'rejected' | 'ignored' | 'error' | 'stopped';

/** What sync needs from the rollback follower. */
export interface ConflictSink {
  /** A sequencer-signed block `number`/`hash` from `from` is on another branch than ours. */
  noteConflict(number: bigint, hash: bigint, from: string): void;
  /** Whether `hash` is a block some certificate orphaned. */
  isOrphan(hash: bigint): Promise<boolean>;
}

export class Sync {
  private readonly buffer = new Map<bigint, { block: Block; from: string }>();
  private syncPromise: Promise<void> | undefined;
  private syncAgain = false;

  constructor(
    private readonly ctx: P2PContext,
    private readonly reqresp: ReqResp,
    private readonly rollbacks: ConflictSink,
  ) {}

  /** A range sync is running. */
  get syncing(): boolean {
    return this.syncPromise !== undefined;
  }

  // ---- import ---------------------------------------------------------------------------------

  /** Imports `b` if it is the next block (see the file comment); never throws. */
  importOne(b: Block, from: string, via: 'gossip' | 'sync'): Promise<ImportOutcome> {
    const { ctx } = this;
    return ctx.importLock.run(async (): Promise<ImportOutcome> => {
      if (ctx.stopping || ctx.broken) return 'stopped';
      const n = b.header.block_number;
      const head = (ctx.head = await ctx.chain.head());
      if (n <= head.number) {
        const ours = await ctx.chain.signedHeader(n);
        return ours?.hash === b.hash ? 'duplicate' : 'old';
      }
      if (n !== head.number + 1n) return 'gap';
      const t0 = performance.now();
      try {
        await ctx.chain.importBlock!(b);
      } catch (e) {
        if (e instanceof BlockError) return this.onBlockError(e, from, n, b.hash);
        ctx.log.error(`importing block ${n} failed locally: ${(e as Error).stack ?? e}`);
        return 'error';
      }
      ctx.head = { number: n, hash: b.hash };
      ctx.stats.imported++;
      if (via === 'gossip') ctx.stats.importedFromGossip++;
      else ctx.stats.importedFromSync++;
      ctx.peers.reward(from);
      ctx.log.debug(`imported block ${n} ${hex(b.hash)} txs=${b.transactions.length} via ${via} from ${from} in ${Math.round(performance.now() - t0)} ms`);
      ctx.emit('block', b);
      return 'imported';
    });
  }

  /** Acts on a block error from peer `from` by its code's action. */
  onBlockError(e: BlockError, from: string, number: bigint, hash: bigint): 'rejected' | 'conflict' | 'ignored' {
    switch (e.action) {
      case 'offence':
        this.ctx.penalise(from, e.reason, e.message);
        return 'rejected';
      case 'conflict':
        // Signed by the sequencer (the signature is checked first) but on another branch: the
        // sequencer rolled back. Not the relaying peer's fault; following it needs the
        // rollback certificate, which we ask that peer for.
        this.rollbacks.noteConflict(number, hash, from);
        return 'conflict';
      case 'ignore':
        this.ctx.log.debug(`block ${number} ${hex(hash)} from ${from} not imported (${e.reason}): ${e.message}`);
        return 'ignored';
    }
  }

  /** Keeps a block ahead of our head until the gap is filled (bounded; the closest kept). */
  bufferBlock(b: Block, from: string): void {
    const n = b.header.block_number;
    if (this.buffer.has(n)) return;
    if (this.buffer.size >= this.ctx.opts.maxBufferedBlocks) {
      // Keep the blocks closest to our head: drop the furthest.
      const far = [...this.buffer.keys()].reduce((a, c) => (c > a ? c : a));
      if (far < n) return;
      this.buffer.delete(far);
    }
    this.buffer.set(n, { block: b, from });
  }

  /** Forgets the buffered blocks (after a rollback they may be on the orphaned branch). */
  clearBuffer(): void {
    this.buffer.clear();
  }

  /** Imports buffered blocks while the next one is there. */
  async drainBuffer(): Promise<void> {
    const { ctx } = this;
    for (;;) {
      for (const k of this.buffer.keys()) if (k <= ctx.head.number) this.buffer.delete(k);
      const next = this.buffer.get(ctx.head.number + 1n);
      if (!next || ctx.stopping) return;
      this.buffer.delete(ctx.head.number + 1n);
      const r = await this.importOne(next.block, next.from, 'gossip');
      if (r !== 'imported' && r !== 'duplicate') return;
    }
  }

  /** An announced (too big for gossip) block: fetched from its announcer, then from others. */
  async fetchAnnounced(number: bigint, hash: bigint, from: string): Promise<Block | undefined> {
    const { peers } = this.ctx;
    const order = [from, ...peers.candidates(number).map((p) => p.id).filter((id) => id !== from)];
    for (const id of order.slice(0, 4)) {
      try {
        const [b] = await this.reqresp.requestRange(id, number, 1);
        if (b && b.hash === hash) return b;
        peers.demote(id);
      } catch (e) {
        this.onRequestError(id, e);
      }
    }
    return undefined;
  }

  // ---- range sync -----------------------------------------------------------------------------

  /** Starts a catch-up sync unless one runs (then it runs again when done). */
  requestSync(): void {
    const { ctx } = this;
    if (ctx.opts.role !== 'follower' || ctx.stopping) return;
    if (this.syncPromise) {
      this.syncAgain = true;
      return;
    }
    this.syncPromise = ctx.track(this.syncLoop()).finally(() => {
      this.syncPromise = undefined;
    });
  }

  private async syncLoop(): Promise<void> {
    const { ctx } = this;
    let idleRounds = 0;
    while (!ctx.stopping) {
      this.syncAgain = false;
      const head = (ctx.head = await ctx.chain.head());
      const best = ctx.peers.bestHead();
      if (!best || best.number <= head.number) {
        await this.drainBuffer();
        if (this.syncAgain) continue;
        return;
      }
      const from = head.number + 1n;
      const gap = best.number - head.number;
      const count = Number(gap < BigInt(ctx.opts.maxRangeCount) ? gap : BigInt(ctx.opts.maxRangeCount));
      let progressed = false;
      for (const p of ctx.peers.candidates(from)) {
        if (ctx.stopping) return;
        const got = await this.syncFrom(p.id, from, count);
        if (got > 0) {
          progressed = true;
          break;
        }
      }
      await this.drainBuffer();
      if (progressed || ctx.head.number >= from) {
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
      blocks = await this.reqresp.requestRange(id, from, count);
    } catch (e) {
      this.onRequestError(id, e);
      return 0;
    }
    if (blocks.length === 0) {
      // It claimed a head it cannot serve (it may have been syncing itself): forget the claim.
      const r = this.ctx.peers.get(id);
      if (r.head && r.head.number >= from) r.head = undefined;
      this.ctx.peers.demote(id);
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

  /** A failed blocks_by_range request: an offence if the peer broke the protocol, else a demotion. */
  private onRequestError(id: string, e: unknown): void {
    const { ctx } = this;
    ctx.stats.rangeFailures++;
    if (ctx.punish(id, e)) return;
    ctx.peers.demote(id);
    ctx.peers.get(id).head = undefined;
    if (!ctx.stopping) ctx.log.debug(`request to ${id} failed: ${(e as Error).message}`);
  }

  // ---- status polling -------------------------------------------------------------------------

  /** Asks one peer for its head; records it when it proves it (signed header). */
  async queryStatus(id: string): Promise<PeerHead | undefined> {
    const { ctx } = this;
    try {
      const s = await this.reqresp.requestStatus(id);
      if (!s) return undefined;
      const { head, known } = s;
      if (s.role) ctx.peers.setRole(id, s.role);
      if (!known && (await this.rollbacks.isOrphan(head.hash))) {
        // A peer still on a branch a certificate orphaned: not a head to sync from.
        ctx.peers.get(id).head = undefined;
        ctx.log.debug(`peer ${id} is at ${head.number} ${hex(head.hash)}, an orphaned block: not syncing from it`);
        return undefined;
      }
      if (!known && head.number <= ctx.head.number) {
        // Our head may have moved while we checked: compare with the block we hold now.
        const ours = await ctx.chain.signedHeader(head.number);
        if (ours && ours.hash !== head.hash) this.rollbacks.noteConflict(head.number, head.hash, id);
      }
      ctx.peers.setHead(id, head, true);
      if (ctx.opts.role === 'follower' && head.number > ctx.head.number) this.requestSync();
      return head;
    } catch (e) {
      if (!ctx.punish(id, e)) ctx.log.debug(`status of ${id}: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** Asks every active peer for its head, then syncs (a follower). */
  async pollStatus(): Promise<void> {
    await Promise.all(this.ctx.peers.active().map((p) => this.queryStatus(p.id)));
    if (this.ctx.opts.role === 'follower') this.requestSync();
  }
}
