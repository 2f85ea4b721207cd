/**
 * Remembers signature checks already done (at ingress, or by a worker pool), so re-checking
 * inside a transaction is a map lookup. The answer is crypto.verify's, so caching cannot
 * change execution results: a remembered answer is exactly what verify would return for the
 * same (message hash, key, r, s), valid or not.
 *
 * Entries are keyed by message hash (a bigint Map key, no string building) and compared on the
 * key and signature; two generations bound the memory (the older one is dropped whole when the
 * young one fills up, and a hit in the old one moves to the young one).
 */
import { verify } from '../crypto/index.ts';
import { MessageHashCache } from '../../contracts-ts/message-hashes.ts';
import type { SigJob, VerifyPool } from './verify-pool.ts';

interface Entry {
  key: bigint;
  r: bigint;
  s: bigint;
  ok: boolean;
  /** Another signature over the same message hash (rare: e.g. the same order re-signed). */
  next: Entry | undefined;
}

export interface SignatureCacheStats {
  hits: number;
  misses: number;
  /** Verifications run inline (on a miss). */
  inline: number;
  /** Answers recorded from outside (pool or add()). */
  recorded: number;
}

export class SignatureCache {
  private young = new Map<bigint, Entry>();
  private old = new Map<bigint, Entry>();
  private readonly half: number;
  private pool: VerifyPool | null = null;
  /**
   * The order and cancel message hashes the pool computed, for execution (ctx.messageHashes):
   * answered only for the message object each was computed for, while its fields are unchanged.
   */
  readonly messageHashes = new MessageHashCache();
  readonly stats: SignatureCacheStats = { hits: 0, misses: 0, inline: 0, recorded: 0 };

  constructor(max = 200_000) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  /** Uses a worker pool for `prepare` (null: prepare does nothing, execution verifies inline). */
  attachPool(pool: VerifyPool | null): void {
    this.pool = pool;
  }

  get attachedPool(): VerifyPool | null {
    return this.pool;
  }

  private find(msgHash: bigint, starkKey: bigint, r: bigint, s: bigint): Entry | undefined {
    let e = this.young.get(msgHash);
    for (let x = e; x; x = x.next) if (x.key === starkKey && x.r === r && x.s === s) return x;
    e = this.old.get(msgHash);
    for (let x = e; x; x = x.next) {
      if (x.key === starkKey && x.r === r && x.s === s) {
        this.store(msgHash, x.key, x.r, x.s, x.ok);
        return x;
      }
    }
    return undefined;
  }

  /** crypto.verify, answered from the cache when this exact check was done before. */
  verify(msgHash: bigint, starkKey: bigint, sig: readonly [bigint, bigint]): boolean {
    const hit = this.find(msgHash, starkKey, sig[0], sig[1]);
    if (hit) {
      this.stats.hits++;
      return hit.ok;
    }
    this.stats.misses++;
    this.stats.inline++;
    const good = verify(msgHash, starkKey, sig);
    this.store(msgHash, starkKey, sig[0], sig[1], good);
    return good;
  }

  /** True when this exact check is cached (either answer). */
  has(msgHash: bigint, starkKey: bigint, sig: readonly [bigint, bigint]): boolean {
    let e = this.young.get(msgHash);
    for (let x = e; x; x = x.next) if (x.key === starkKey && x.r === sig[0] && x.s === sig[1]) return true;
    e = this.old.get(msgHash);
    for (let x = e; x; x = x.next) if (x.key === starkKey && x.r === sig[0] && x.s === sig[1]) return true;
    return false;
  }

  /** Records a positive result computed elsewhere (e.g. a worker thread). */
  add(msgHash: bigint, starkKey: bigint, sig: readonly [bigint, bigint]): void {
    this.record(msgHash, starkKey, sig, true);
  }

  /** Records a result computed elsewhere with crypto.verify on exactly these inputs. */
  record(msgHash: bigint, starkKey: bigint, sig: readonly [bigint, bigint], ok: boolean): void {
    this.stats.recorded++;
    this.store(msgHash, starkKey, sig[0], sig[1], ok);
  }

  /** True when the job's answer (and for an order or cancel, its carried hash) is already here. */
  private done(j: SigJob): boolean {
    if (j.kind === 'raw') return this.has(j.msgHash, j.key, j.sig);
    if (j.kind === 'tx') return false;
    const h = j.kind === 'order' ? this.messageHashes.peek('Order', j.order, j.chainId) : this.messageHashes.peek('Cancel', j.tx, j.chainId);
    return h !== undefined && this.has(h, j.key, j.sig);
  }

  /**
   * Verifies the jobs on the attached pool (skipping checks already cached) and records the
   * answers, and the hashes computed for orders and cancels against their message objects (each
   * bound to the copy of the fields its job took, which is what the worker hashed). Without a
   * pool it returns at once. Never throws for a bad signature (that is an answer like any
   * other); a pool failure is thrown, and execution would then verify inline.
   */
  async prepare(jobs: readonly SigJob[]): Promise<void> {
    const pool = this.pool;
    if (!pool || jobs.length === 0) return;
    const todo = jobs.filter((j) => !this.done(j));
    if (todo.length === 0) return;
    const results = await pool.run(todo);
    if (results.length !== todo.length) throw new Error(`verify pool answered ${results.length} of ${todo.length} jobs`);
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (r.msgHash < 0n) continue;
      this.record(r.msgHash, r.key, r.sig, r.ok);
      const j = todo[i]!;
      if (j.kind === 'order') this.messageHashes.record('Order', j.order, j.content, j.chainId, r.msgHash);
      else if (j.kind === 'cancel') this.messageHashes.record('Cancel', j.tx, j.content, j.chainId, r.msgHash);
    }
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  private store(msgHash: bigint, key: bigint, r: bigint, s: bigint, ok: boolean): void {
    const head = this.young.get(msgHash);
    for (let x = head; x; x = x.next) if (x.key === key && x.r === r && x.s === s) return;
    this.young.set(msgHash, { key, r, s, ok, next: head });
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
  }
}
