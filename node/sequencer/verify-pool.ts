/**
 * Signature checks on worker threads, so they use every core and never hold the producer lock.
 *
 * Ingress (or a follower about to replay a block) turns transactions into signature jobs
 * (`signatureJobs`), the pool verifies them in parallel, and `SignatureCache.prepare` records the
 * answers; execution then calls `ctx.verify` as always and finds each answer in the cache. The
 * answers are the crypto backend's own, computed on the same inputs, so the pool can change how
 * fast a transaction executes, never what it does. Without a pool everything still works: the
 * cache misses and execution verifies inline.
 *
 * Workers run the same crypto backend as the main thread (js or native, passed at creation).
 * The worker also computes the signed message hash itself, with the same contracts-ts hashers,
 * from the message's fields (orders: from the order, not the hash it claims; cancels, deposits,
 * oracle updates, ...), and verifies the signature against that hash, so that Poseidon work is
 * off the main thread too. For orders and cancels the hash is carried into execution:
 * `SignatureCache.prepare` records it in its MessageHashCache (contracts-ts/message-hashes.ts)
 * against the message object and the frozen copy of its fields the job took when it was made
 * (`messageContent`), which is what the worker hashed; the contract's signature check then takes
 * it from `ctx.messageHashes` instead of hashing again, and only for that object while its
 * fields still equal that copy. A follower, or any path without the cache, hashes as before.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CancelTx, PerpTx } from '../../contracts-ts/tx.ts';
import type { Order } from '../../contracts-ts/exchange/order.ts';
import type { CancelMsg } from '../../contracts-ts/typed-data.ts';
import { txDescriptor } from '../../contracts-ts/txs/index.ts';
import { messageContent } from '../../contracts-ts/message-hashes.ts';

/**
 * One signature to check. `raw`: the message hash is known; `order` / `cancel`: the worker
 * computes the hash from `content` (the frozen copy of the message's fields taken when the job
 * was made; `order` / `tx` is the message object the hash is then carried for); `tx`: the worker
 * computes the hash from the transaction (not carried).
 */
export type SigJob =
  | { kind: 'raw'; msgHash: bigint; key: bigint; sig: readonly [bigint, bigint] }
  | { kind: 'order'; order: Order; content: Readonly<Order>; chainId: bigint; key: bigint; sig: readonly [bigint, bigint] }
  | { kind: 'cancel'; tx: CancelTx; content: Readonly<CancelMsg>; chainId: bigint; key: bigint; sig: readonly [bigint, bigint] }
  | { kind: 'tx'; tx: PerpTx; key: bigint; chainId: bigint; operatorKey: bigint };

export interface SigResult {
  /** The message hash verified against (order / cancel / tx jobs: the one the worker computed; -1n: none, malformed). */
  msgHash: bigint;
  key: bigint;
  sig: readonly [bigint, bigint];
  ok: boolean;
}

/**
 * The signature jobs of a transaction: what execution will verify, with the key it will use.
 * `keyOf(account)` gives an account's stark key (undefined when unknown: that signature is left
 * to execution). System transactions carry no wallet signature (the block signature covers them).
 */
export function signatureJobs(tx: PerpTx, keyOf: (account: bigint) => bigint | undefined, chainId: bigint, operatorKey: bigint): SigJob[] {
  const out: SigJob[] = [];
  const known = (key: bigint | undefined): key is bigint => key !== undefined && key !== 0n;
  const sigOf = (sig: readonly [bigint, bigint]): readonly [bigint, bigint] => [sig[0], sig[1]];
  const d = txDescriptor(tx.type);
  for (const s of d.orders(tx)) {
    const key = keyOf(s.order.account);
    if (!known(key)) continue;
    const order = s.order;
    out.push({ kind: 'order', order, content: messageContent('Order', order), chainId, key, sig: sigOf(s.signature) });
  }
  if (d.own) {
    const who = d.own.signer(tx);
    const key = 'account' in who ? keyOf(who.account) : 'key' in who ? who.key : operatorKey;
    if (known(key)) {
      if (tx.type === 'CANCEL') out.push({ kind: 'cancel', tx, content: messageContent('Cancel', tx), chainId, key, sig: sigOf(tx.signature) });
      else out.push({ kind: 'tx', tx, key, chainId, operatorKey });
    }
  }
  return out;
}

export interface VerifyPoolOptions {
  /** Worker threads; default: the machine's available parallelism. */
  size?: number;
  /** Crypto backend the workers use; default: the main thread's active backend. */
  backend?: 'js' | 'native';
}

export interface VerifyPoolStats {
  batches: number;
  jobs: number;
  invalid: number;
}

interface Pending {
  resolve: (r: WireResults) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  outstanding: number;
  pending: Map<number, Pending>;
}

const WORKER_TAG = 'perpnode-verify-pool';

/**
 * Starts a worker on a TypeScript module. Node's workers do not inherit tsx's loader, so a
 * TypeScript entry is started through a two-line bootstrap that registers tsx first.
 */
export function spawnTsWorker(moduleUrl: URL | string, data: unknown): Worker {
  const href = typeof moduleUrl === 'string' ? moduleUrl : moduleUrl.href;
  if (!href.endsWith('.ts')) return new Worker(new URL(href), { workerData: data });
  const code = `import(${JSON.stringify(tsxEsmApi())}).then((m) => { m.register(); return import(${JSON.stringify(href)}); });`;
  return new Worker(code, { eval: true, workerData: data });
}

let tsxApi: string | undefined;
/** The file URL of tsx's ESM register API (resolved through its package.json "exports"). */
function tsxEsmApi(): string {
  if (tsxApi) return tsxApi;
  const req = createRequire(import.meta.url);
  const pkgPath = req.resolve('tsx/package.json');
  const exp = JSON.parse(readFileSync(pkgPath, 'utf8')).exports['./esm/api'];
  const entry: string = typeof exp.import === 'string' ? exp.import : exp.import.default;
  tsxApi = pathToFileURL(join(dirname(pkgPath), entry)).href;
  return tsxApi;
}

// ---- wire format ------------------------------------------------------------------------------------
// Structured-cloning objects full of bigints costs more than the verification it sends, so the
// common jobs travel packed as 32-byte big-endian felts in one transferred buffer (orders' four
// strings beside it, in `strs`):
//   raw:    tag 0 | msgHash | key | r | s
//   cancel: tag 1 | account | orderHash | key | r | s | chainId
//   order:  tag 2 | reduceOnly (0/1) | account | size | price | triggerPrice | expiry | salt | chainId | key | r | s
//           strs += market, side, orderType, timeInForce
// Other jobs (rare: deposits, oracle updates, ..., and any message with a field of an unexpected
// type or size) are structured-cloned; order and cancel jobs then travel as their content only.

const FELT = 32;
const RAW_SIZE = 1 + 4 * FELT;
const CANCEL_SIZE = 1 + 6 * FELT;
const ORDER_SIZE = 2 + 10 * FELT;

/** What a job sent structured-cloned carries (never the live message object). */
type WireJob =
  | Extract<SigJob, { kind: 'raw' | 'tx' }>
  | { kind: 'order'; content: Order; chainId: bigint; key: bigint; sig: readonly [bigint, bigint] }
  | { kind: 'cancel'; content: CancelMsg; chainId: bigint; key: bigint; sig: readonly [bigint, bigint] };

interface WireJobs {
  id: number;
  packed: Uint8Array;
  /** Strings of packed order jobs (4 per order, in job order). */
  strs: string[];
  /** Jobs not packed, with their index in the batch. */
  other: { i: number; job: WireJob }[];
  count: number;
}

interface WireResults {
  /** Per job: 1 valid, 0 invalid, 2 no message hash (malformed). */
  ok: Uint8Array;
  /** Message hashes the worker computed (every job but raw ones; -1n where none), in job order. */
  hashes: bigint[];
}

function writeFelt(v: DataView, off: number, x: bigint): void {
  v.setBigUint64(off, BigInt.asUintN(64, x >> 192n));
  v.setBigUint64(off + 8, BigInt.asUintN(64, x >> 128n));
  v.setBigUint64(off + 16, BigInt.asUintN(64, x >> 64n));
  v.setBigUint64(off + 24, BigInt.asUintN(64, x));
}

function readFelt(v: DataView, off: number): bigint {
  return (v.getBigUint64(off) << 192n) | (v.getBigUint64(off + 8) << 128n) | (v.getBigUint64(off + 16) << 64n) | v.getBigUint64(off + 24);
}

/** Values that do not fit 256 bits (never valid felts) are not packed: the slow path answers them. */
const fits = (x: bigint) => typeof x === 'bigint' && x >= 0n && x < 1n << 256n;
const isStr = (x: unknown): x is string => typeof x === 'string';

function packable(j: SigJob): number {
  if (j.kind === 'raw') return fits(j.msgHash) && fits(j.key) && fits(j.sig[0]) && fits(j.sig[1]) ? 0 : -1;
  if (j.kind === 'cancel') {
    const c = j.content;
    return fits(c.account) && fits(c.orderHash) && fits(j.key) && fits(j.sig[0]) && fits(j.sig[1]) && fits(j.chainId) ? 1 : -1;
  }
  if (j.kind === 'order') {
    const o = j.content;
    const ok =
      fits(o.account) && fits(o.size) && fits(o.price) && fits(o.triggerPrice) && fits(o.expiry) && fits(o.salt) && typeof o.reduceOnly === 'boolean' &&
      isStr(o.market) && isStr(o.side) && isStr(o.orderType) && isStr(o.timeInForce) && fits(j.chainId) && fits(j.key) && fits(j.sig[0]) && fits(j.sig[1]);
    return ok ? 2 : -1;
  }
  return -1;
}

function wireJob(j: SigJob): WireJob {
  if (j.kind === 'order') return { kind: 'order', content: { ...j.content }, chainId: j.chainId, key: j.key, sig: j.sig };
  if (j.kind === 'cancel') return { kind: 'cancel', content: { ...j.content }, chainId: j.chainId, key: j.key, sig: j.sig };
  return j;
}

function encodeJobs(id: number, jobs: readonly SigJob[]): WireJobs {
  let size = 0;
  const kinds: number[] = jobs.map(packable);
  for (const k of kinds) size += k === 0 ? RAW_SIZE : k === 1 ? CANCEL_SIZE : k === 2 ? ORDER_SIZE : 0;
  const packed = new Uint8Array(size);
  const v = new DataView(packed.buffer);
  const other: { i: number; job: WireJob }[] = [];
  const strs: string[] = [];
  let off = 0;
  jobs.forEach((j, i) => {
    if (kinds[i] === 0 && j.kind === 'raw') {
      packed[off] = 0;
      writeFelt(v, off + 1, j.msgHash);
      writeFelt(v, off + 1 + FELT, j.key);
      writeFelt(v, off + 1 + 2 * FELT, j.sig[0]);
      writeFelt(v, off + 1 + 3 * FELT, j.sig[1]);
      off += RAW_SIZE;
    } else if (kinds[i] === 1 && j.kind === 'cancel') {
      packed[off] = 1;
      writeFelt(v, off + 1, j.content.account);
      writeFelt(v, off + 1 + FELT, j.content.orderHash);
      writeFelt(v, off + 1 + 2 * FELT, j.key);
      writeFelt(v, off + 1 + 3 * FELT, j.sig[0]);
      writeFelt(v, off + 1 + 4 * FELT, j.sig[1]);
      writeFelt(v, off + 1 + 5 * FELT, j.chainId);
      off += CANCEL_SIZE;
    } else if (kinds[i] === 2 && j.kind === 'order') {
      const o = j.content;
      packed[off] = 2;
      packed[off + 1] = o.reduceOnly ? 1 : 0;
      const felts = [o.account, o.size, o.price, o.triggerPrice, o.expiry, o.salt, j.chainId, j.key, j.sig[0], j.sig[1]];
      for (let k = 0; k < felts.length; k++) writeFelt(v, off + 2 + k * FELT, felts[k]!);
      strs.push(o.market, o.side, o.orderType, o.timeInForce);
      off += ORDER_SIZE;
    } else other.push({ i, job: wireJob(j) });
  });
  return { id, packed, strs, other, count: jobs.length };
}

function jobSig(j: SigJob | WireJob): readonly [bigint, bigint] {
  return j.kind === 'tx' ? ((j.tx as { signature?: [bigint, bigint] }).signature ?? [0n, 0n]) : j.sig;
}

function decodeResults(jobs: readonly SigJob[], w: WireResults): SigResult[] {
  let h = 0;
  return jobs.map((j, i) => {
    const code = w.ok[i]!;
    const msgHash = j.kind === 'raw' ? j.msgHash : w.hashes[h++]!;
    return { msgHash: code === 2 ? -1n : msgHash, key: j.key, sig: jobSig(j), ok: code === 1 };
  });
}

export class VerifyPool {
  readonly stats: VerifyPoolStats = { batches: 0, jobs: 0, invalid: 0 };
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly slots: Slot[],
    readonly backendName: 'js' | 'native',
  ) {}

  /** Starts the workers and waits until each has its crypto backend loaded. */
  static async create(opts: VerifyPoolOptions = {}): Promise<VerifyPool> {
    const { backend } = await import('../crypto/index.ts');
    const name = opts.backend ?? backend().name;
    const size = Math.max(1, opts.size ?? availableParallelism());
    const slots: Slot[] = [];
    try {
      for (let i = 0; i < size; i++) {
        const worker = spawnTsWorker(new URL(import.meta.url), { tag: WORKER_TAG, backend: name });
        const slot: Slot = { worker, outstanding: 0, pending: new Map() };
        slots.push(slot);
      }
      await Promise.all(
        slots.map(
          (s) =>
            new Promise<void>((resolve, reject) => {
              const onMsg = (m: { ready?: boolean; error?: string }) => {
                if (m.ready) {
                  s.worker.off('message', onMsg);
                  resolve();
                } else if (m.error) reject(new Error(`verify worker failed to start: ${m.error}`));
              };
              s.worker.on('message', onMsg);
              s.worker.once('error', reject);
            }),
        ),
      );
    } catch (e) {
      await Promise.all(slots.map((s) => s.worker.terminate()));
      throw e;
    }
    const pool = new VerifyPool(slots, name);
    for (const s of slots) {
      s.worker.on('message', (m: { id: number; results?: WireResults; error?: string }) => {
        const p = s.pending.get(m.id);
        if (!p) return;
        s.pending.delete(m.id);
        s.outstanding--;
        if (m.error !== undefined) p.reject(new Error(`verify worker: ${m.error}`));
        else p.resolve(m.results!);
      });
      s.worker.on('error', (e) => pool.failAll(s, e));
      s.worker.on('exit', (code) => {
        if (!pool.closed) pool.failAll(s, new Error(`verify worker exited with code ${code}`));
      });
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  private failAll(s: Slot, e: Error): void {
    for (const p of s.pending.values()) p.reject(e);
    s.pending.clear();
    s.outstanding = 0;
  }

  /** Verifies the jobs (split over the workers); results in job order. */
  async run(jobs: readonly SigJob[]): Promise<SigResult[]> {
    if (this.closed) throw new Error('verify pool is closed');
    if (jobs.length === 0) return [];
    this.stats.batches++;
    this.stats.jobs += jobs.length;
    // Split evenly over the workers, fewest outstanding jobs first; tiny batches go to one.
    const order = [...this.slots].sort((a, b) => a.outstanding - b.outstanding);
    const parts = Math.min(order.length, Math.max(1, Math.ceil(jobs.length / 4)));
    const per = Math.ceil(jobs.length / parts);
    const promises: Promise<SigResult[]>[] = [];
    for (let i = 0; i < parts; i++) {
      const slice = jobs.slice(i * per, (i + 1) * per);
      if (slice.length === 0) break;
      const s = order[i]!;
      const id = this.nextId++;
      s.outstanding++;
      const msg = encodeJobs(id, slice);
      promises.push(
        new Promise<SigResult[]>((resolve, reject) => {
          s.pending.set(id, { resolve: (r) => resolve(decodeResults(slice, r)), reject });
          s.worker.postMessage(msg, [msg.packed.buffer as ArrayBuffer]);
        }),
      );
    }
    const results = (await Promise.all(promises)).flat();
    for (const r of results) if (!r.ok) this.stats.invalid++;
    return results;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

// ---- worker side ----------------------------------------------------------------------------------

async function workerMain(): Promise<void> {
  const port = parentPort!;
  try {
    const crypto = await import('../crypto/index.ts');
    const td = await import('../../contracts-ts/typed-data.ts');
    await crypto.useBackend((workerData as { backend: 'js' | 'native' }).backend);
    // The message hash of a job, with the contracts' own hashers; undefined when malformed.
    const messageHash = (j: WireJob): bigint | undefined => {
      try {
        if (j.kind === 'raw') return j.msgHash;
        if (j.kind === 'order') return td.orderHash(j.content, j.chainId);
        if (j.kind === 'cancel') return td.cancelHash(j.content, j.chainId);
        return txDescriptor(j.tx.type).own?.message(j.tx, j.chainId, j.operatorKey);
      } catch {
        return undefined; // malformed message: execution will reject it the same way
      }
    };
    const check = (msgHash: bigint | undefined, key: bigint, sig: readonly [bigint, bigint]): number => (msgHash === undefined ? 2 : crypto.verify(msgHash, key, sig) ? 1 : 0);
    port.on('message', (m: WireJobs) => {
      try {
        const ok = new Uint8Array(m.count);
        const hashes: bigint[] = [];
        const v = new DataView(m.packed.buffer, m.packed.byteOffset, m.packed.byteLength);
        const others = new Map(m.other.map((o) => [o.i, o.job]));
        let off = 0;
        let str = 0;
        for (let i = 0; i < m.count; i++) {
          const j = others.get(i);
          if (j) {
            const msgHash = messageHash(j);
            if (j.kind !== 'raw') hashes.push(msgHash ?? -1n);
            ok[i] = check(msgHash, j.key, jobSig(j));
          } else if (m.packed[off] === 0) {
            ok[i] = check(readFelt(v, off + 1), readFelt(v, off + 1 + FELT), [readFelt(v, off + 1 + 2 * FELT), readFelt(v, off + 1 + 3 * FELT)]);
            off += RAW_SIZE;
          } else if (m.packed[off] === 2) {
            const f = (k: number) => readFelt(v, off + 2 + k * FELT);
            const order = {
              account: f(0),
              market: m.strs[str]!,
              side: m.strs[str + 1]!,
              orderType: m.strs[str + 2]!,
              timeInForce: m.strs[str + 3]!,
              size: f(1),
              price: f(2),
              triggerPrice: f(3),
              reduceOnly: m.packed[off + 1] === 1,
              expiry: f(4),
              salt: f(5),
            } as Order;
            str += 4;
            const msgHash = messageHash({ kind: 'order', content: order, chainId: f(6), key: 0n, sig: [0n, 0n] });
            hashes.push(msgHash ?? -1n);
            ok[i] = check(msgHash, f(7), [f(8), f(9)]);
            off += ORDER_SIZE;
          } else {
            const account = readFelt(v, off + 1);
            const orderHash = readFelt(v, off + 1 + FELT);
            const msgHash = messageHash({ kind: 'cancel', content: { account, orderHash }, chainId: readFelt(v, off + 1 + 5 * FELT), key: 0n, sig: [0n, 0n] });
            hashes.push(msgHash ?? -1n);
            ok[i] = check(msgHash, readFelt(v, off + 1 + 2 * FELT), [readFelt(v, off + 1 + 3 * FELT), readFelt(v, off + 1 + 4 * FELT)]);
            off += CANCEL_SIZE;
          }
        }
        const results: WireResults = { ok, hashes };
        port.postMessage({ id: m.id, results }, [ok.buffer as ArrayBuffer]);
      } catch (e) {
        port.postMessage({ id: m.id, error: (e as Error).message });
      }
    });
    port.postMessage({ ready: true });
  } catch (e) {
    port.postMessage({ error: (e as Error).stack ?? String(e) });
  }
}

if (!isMainThread && (workerData as { tag?: string } | null)?.tag === WORKER_TAG) void workerMain();
