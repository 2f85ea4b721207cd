/**
 * Starknet's binary Merkle-Patricia trie over a content-addressed node store.
 *
 * `put` only records the new value; `commit` merges all recorded puts into the last committed
 * version in one pass (sorted keys, shared paths visited once), then hashes the new nodes rank
 * by rank through the crypto backend's batch calls. Unchanged subtrees are referenced by hash
 * and never rehashed; old nodes are never removed, so every committed root stays readable.
 */
import { P } from '../crypto/index.ts';
import {
  build,
  collect,
  commonPrefix,
  EMPTY,
  firstWithBit,
  hashLevels,
  isEmpty,
  MASK,
  newBinary,
  newEdge,
  ref,
  SH,
  toTrieNode,
  type NewNode,
  type Sub,
} from './core.ts';
import { hashTrieNode } from './proof.ts';
import { isWritable, LevelNodeStore, MemoryNodeStore, NodeCache, type LevelDbLike, type NodeStore, type WritableNodeStore } from './store.ts';
import {
  MissingNodeError,
  TrieError,
  TrieIntegrityError,
  type HashKind,
  type ProofNode,
  type TrieHeight,
  type TrieNode,
} from './types.ts';

export interface TrieOptions {
  hash: HashKind;
  /** 251 (state tries, the default) or 64 (block commitments). */
  height?: TrieHeight;
  /** The committed version to open; 0n (the default) is the empty trie. */
  root?: bigint;
  /** A node store. Without `store` and `db` the trie keeps its nodes in memory. */
  store?: NodeStore | WritableNodeStore;
  /** A classic-level (abstract-level) database opened with 'view' encodings; commit() writes to it. */
  db?: LevelDbLike;
  /** Key prefix of the node table when `db` is given; default 'T'. */
  prefix?: Uint8Array | string;
  /**
   * Whether commit() writes the new nodes into the store itself. Default: true for `db`, for the
   * in-memory default, and for any store with a `writeNodes` method; false otherwise.
   */
  persist?: boolean;
  /** Whether commit() keeps the new nodes for takeWrites(). Default: !persist. */
  trackWrites?: boolean;
  /** A node cache (may be shared between tries over one store); default a private one of `cacheSize`. */
  cache?: NodeCache;
  /** Entries of the private cache; default 200_000. Ignored for an in-memory store. */
  cacheSize?: number;
}

export interface TrieStats {
  /** Commits that had puts to merge (empty commits are not counted). */
  commits: number;
  /** Nodes hashed, over the trie's life. */
  hashes: number;
  /** Nodes hashed by the last commit (= new nodes it created). */
  lastCommitHashes: number;
  /** Nodes fetched from the store (cache misses). */
  storeReads: number;
}

type Job = {
  trie: Trie;
  keys: bigint[];
  vals: bigint[];
  snapshot: Map<bigint, bigint>;
  sub?: Sub;
  nodes?: NewNode[];
};

export class Trie {
  readonly hashKind: HashKind;
  readonly height: TrieHeight;
  readonly store: NodeStore;
  readonly stats: TrieStats = { commits: 0, hashes: 0, lastCommitHashes: 0, storeReads: 0 };

  private committed: bigint;
  private pending = new Map<bigint, bigint>();
  /** Puts handed to commits that have not finished, oldest first (still visible to get). */
  private queued: Map<bigint, bigint>[] = [];
  /** Nodes created since the last takeWrites() (trackWrites mode); readable until taken. */
  private writes = new Map<bigint, TrieNode>();
  private readonly cache: NodeCache | null;
  private readonly persist: boolean;
  private readonly track: boolean;
  private readonly keyLimit: bigint;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(opts: TrieOptions) {
    if (opts.hash !== 'pedersen' && opts.hash !== 'poseidon') throw new TrieError(`unknown trie hash ${String(opts.hash)}`);
    const height = opts.height ?? 251;
    if (height !== 251 && height !== 64) throw new TrieError(`trie height must be 251 or 64, got ${String(height)}`);
    this.hashKind = opts.hash;
    this.height = height;
    const root = opts.root ?? 0n;
    if (typeof root !== 'bigint' || root < 0n || root >= P) throw new TrieError('root must be a felt');
    this.committed = root;
    this.keyLimit = 1n << BigInt(height);
    if (opts.store && opts.db) throw new TrieError('give either store or db, not both');
    this.store = opts.store ?? (opts.db ? new LevelNodeStore(opts.db, { prefix: opts.prefix }) : new MemoryNodeStore());
    this.persist = opts.persist ?? isWritable(this.store);
    if (this.persist && !isWritable(this.store)) throw new TrieError('persist: true needs a store with writeNodes');
    this.track = opts.trackWrites ?? !this.persist;
    if (!this.persist && !this.track) throw new TrieError('with persist: false the trie must track writes, or new nodes would be lost');
    this.cache = opts.cache ?? (this.store instanceof MemoryNodeStore ? null : new NodeCache(opts.cacheSize ?? 200_000));
  }

  /** The root of the last commit (or the root the trie was opened at). */
  get root(): bigint {
    return this.committed;
  }

  /** Puts recorded since the last commit. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Records key -> value for the next commit; value 0 deletes. No hashing, no reads. */
  put(key: bigint, value: bigint): void {
    if (typeof key !== 'bigint' || key < 0n || key >= this.keyLimit) throw new TrieError(`trie key out of range for height ${this.height}`);
    if (typeof value !== 'bigint' || value < 0n || value >= P) throw new TrieError('trie value must be a felt');
    this.pending.set(key, value);
  }

  /** Drops the puts recorded since the last commit. */
  discard(): void {
    this.pending.clear();
  }

  /** The value at key, seeing uncommitted puts; 0n when absent. */
  async get(key: bigint): Promise<bigint> {
    this.checkKey(key);
    const p = this.pending.get(key);
    if (p !== undefined) return p;
    for (let i = this.queued.length - 1; i >= 0; i--) {
      const f = this.queued[i]!.get(key);
      if (f !== undefined) return f;
    }
    return this.getAt(this.committed, key);
  }

  /** The value at key in the committed version `root` (any version in the store). */
  async getAt(root: bigint, key: bigint): Promise<bigint> {
    this.checkKey(key);
    const H = this.height;
    let h = root;
    let d = 0;
    for (;;) {
      if (h === 0n) return 0n;
      if (d === H) return h;
      let n = this.load(h);
      if (n instanceof Promise) n = await n;
      if (n.kind === 'binary') {
        h = ((key >> SH[H - 1 - d]!) & 1n) === 0n ? n.left : n.right;
        d++;
      } else {
        if (((key >> SH[H - d - n.length]!) & MASK[n.length]!) !== n.path) return 0n;
        h = n.child;
        d += n.length;
      }
    }
  }

  /**
   * Proof for key against the committed root (uncommitted puts are not in it): the nodes from
   * the root down along the key's path, in the starknet_getStorageProof node format. For a
   * present key it ends above the leaf; for an absent one at the edge that diverges from the
   * key (or it is empty, for the empty trie).
   */
  async prove(key: bigint, root: bigint = this.committed): Promise<ProofNode[]> {
    this.checkKey(key);
    const H = this.height;
    const out: ProofNode[] = [];
    let h = root;
    let d = 0;
    while (h !== 0n && d < H) {
      let n = this.load(h);
      if (n instanceof Promise) n = await n;
      if (n.kind === 'binary') {
        out.push({ node_hash: h, node: { left: n.left, right: n.right } });
        h = ((key >> SH[H - 1 - d]!) & 1n) === 0n ? n.left : n.right;
        d++;
      } else {
        out.push({ node_hash: h, node: { child: n.child, path: n.path, length: n.length } });
        if (((key >> SH[H - d - n.length]!) & MASK[n.length]!) !== n.path) break;
        h = n.child;
        d += n.length;
      }
    }
    return out;
  }

  /** Merges the recorded puts, hashes the changed paths, records the new nodes; returns the root. */
  commit(): Promise<bigint> {
    return Trie.commitAll([this]).then((r) => r[0]!);
  }

  /**
   * Commits several tries at once: their new nodes are hashed together, rank by rank, so the
   * crypto backend gets fewer, larger batches (one block touches many small storage tries).
   */
  static commitAll(tries: readonly Trie[]): Promise<bigint[]> {
    if (new Set(tries).size !== tries.length) throw new TrieError('commitAll: the same trie is listed twice');
    // The puts made before this call belong to this commit, whatever is still in flight.
    const snaps = tries.map((t) => {
      const snap = t.pending;
      t.pending = new Map();
      t.queued.push(snap);
      return snap;
    });
    const prev = Promise.all(tries.map((t) => t.tail));
    const run = prev.then(() => Trie.runCommit(tries, snaps));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    for (const t of tries) t.tail = settled;
    return run;
  }

  /** The nodes created by commits since the last call (then forgotten here): write them yourself. */
  takeWrites(): Map<bigint, TrieNode> {
    const w = this.writes;
    this.writes = new Map();
    if (this.cache) for (const [h, n] of w) this.cache.set(h, n);
    return w;
  }

  /** Every (key, value) of the committed version `root`, in key order. */
  async *leaves(root: bigint = this.committed): AsyncGenerator<{ key: bigint; value: bigint }> {
    if (root === 0n) return;
    const H = this.height;
    const stack: Array<{ h: bigint; d: number; prefix: bigint }> = [{ h: root, d: 0, prefix: 0n }];
    while (stack.length) {
      const { h, d, prefix } = stack.pop()!;
      if (d === H) {
        yield { key: prefix, value: h };
        continue;
      }
      let n = this.load(h);
      if (n instanceof Promise) n = await n;
      if (n.kind === 'binary') {
        stack.push({ h: n.right, d: d + 1, prefix: (prefix << 1n) | 1n });
        stack.push({ h: n.left, d: d + 1, prefix: prefix << 1n });
      } else stack.push({ h: n.child, d: d + n.length, prefix: (prefix << SH[n.length]!) | n.path });
    }
  }

  /**
   * Checks the committed version `root` against the store: the root node hashes to the root,
   * and with `full` every node below too (batched by depth), plus Starknet's shape rules
   * (maximal edges, no empty child, paths inside their length, non-zero leaves).
   * Throws TrieIntegrityError or MissingNodeError; returns what it checked.
   */
  async verify(opts: { full?: boolean; root?: bigint } = {}): Promise<{ nodes: number; leaves: number }> {
    const root = opts.root ?? this.committed;
    if (root === 0n) return { nodes: 0, leaves: 0 };
    const H = this.height;
    let frontier: Array<{ h: bigint; d: number; underEdge: boolean }> = [{ h: root, d: 0, underEdge: false }];
    let nodes = 0;
    let leaves = 0;
    while (frontier.length) {
      const next: typeof frontier = [];
      const loaded: TrieNode[] = [];
      for (const f of frontier) {
        let n = this.load(f.h);
        if (n instanceof Promise) n = await n;
        loaded.push(n);
      }
      const hashes = batchHashNodes(this.hashKind, loaded);
      for (let i = 0; i < frontier.length; i++) {
        const f = frontier[i]!;
        const n = loaded[i]!;
        const at = `node 0x${f.h.toString(16)} at depth ${f.d}`;
        if (hashes[i] !== f.h) throw new TrieIntegrityError(`${at} does not hash to its key (got 0x${hashes[i]!.toString(16)})`);
        nodes++;
        const kids: Array<[bigint, number, boolean]> = [];
        if (n.kind === 'binary') {
          if (n.left === 0n || n.right === 0n) throw new TrieIntegrityError(`${at}: binary node with an empty child`);
          kids.push([n.left, f.d + 1, false], [n.right, f.d + 1, false]);
        } else {
          if (f.underEdge) throw new TrieIntegrityError(`${at}: edge below an edge (edges must be maximal)`);
          if (n.length < 1 || f.d + n.length > H) throw new TrieIntegrityError(`${at}: edge length ${n.length} out of range`);
          if (n.path > MASK[n.length]!) throw new TrieIntegrityError(`${at}: edge path longer than its length`);
          if (n.child === 0n) throw new TrieIntegrityError(`${at}: edge to nothing`);
          kids.push([n.child, f.d + n.length, true]);
        }
        if (!opts.full) continue;
        for (const [h, d, underEdge] of kids) {
          if (d === H) leaves++;
          else next.push({ h, d, underEdge });
        }
      }
      frontier = next;
    }
    return { nodes, leaves };
  }

  // ---- internals ------------------------------------------------------------------------

  private checkKey(key: bigint): void {
    if (typeof key !== 'bigint' || key < 0n || key >= this.keyLimit) throw new TrieError(`trie key out of range for height ${this.height}`);
  }

  /** A stored node, from the unflushed writes, the cache or the store. */
  private load(h: bigint): TrieNode | Promise<TrieNode> {
    const w = this.writes.get(h);
    if (w !== undefined) return w;
    if (this.cache) {
      const c = this.cache.get(h);
      if (c !== undefined) return c;
    }
    this.stats.storeReads++;
    const got = this.store.get(h);
    if (got instanceof Promise) return got.then((n) => this.loaded(h, n));
    return this.loaded(h, got);
  }

  private loaded(h: bigint, n: TrieNode | undefined): TrieNode {
    if (n === undefined) throw new MissingNodeError(h);
    this.cache?.set(h, n);
    return n;
  }

  private static async runCommit(tries: readonly Trie[], snaps: readonly Map<bigint, bigint>[]): Promise<bigint[]> {
    const jobs: Job[] = [];
    for (let i = 0; i < tries.length; i++) {
      const t = tries[i]!;
      const snapshot = snaps[i]!;
      if (snapshot.size === 0) {
        t.stats.lastCommitHashes = 0;
        t.queued.shift();
        continue;
      }
      const keys = Array.from(snapshot.keys()).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const vals = keys.map((k) => snapshot.get(k)!);
      jobs.push({ trie: t, keys, vals, snapshot });
    }
    try {
      await Promise.all(
        jobs.map(async (j) => {
          j.sub = await new Merge(j.trie, j.keys, j.vals).update(j.trie.committed, 0, j.keys.length, 0);
        }),
      );
      // Hash all tries' new nodes together, one batch per (hash kind, rank).
      const byKind = new Map<HashKind, NewNode[][]>();
      for (const j of jobs) {
        const levels = byKind.get(j.trie.hashKind) ?? [];
        byKind.set(j.trie.hashKind, levels);
        const mine: NewNode[][] = [];
        collect(j.sub!, mine);
        j.nodes = mine.flat();
        for (let r = 1; r < mine.length; r++) if (mine[r]) (levels[r] ??= []).push(...mine[r]!);
      }
      for (const [kind, levels] of byKind) hashLevels(kind, levels);
      // Record and persist before moving any root: a failed write leaves every trie as it was.
      const created: Map<bigint, TrieNode>[] = jobs.map((j) => {
        const m = new Map<bigint, TrieNode>();
        for (const x of j.nodes!) m.set(x.h, toTrieNode(x));
        return m;
      });
      await Promise.all(
        jobs.map(async (j, i) => {
          const t = j.trie;
          if (t.persist && created[i]!.size) await (t.store as WritableNodeStore).writeNodes(created[i]!);
        }),
      );
      jobs.forEach((j, i) => {
        const t = j.trie;
        for (const [h, n] of created[i]!) {
          if (t.track) t.writes.set(h, n);
          else t.cache?.set(h, n);
        }
        t.committed = j.sub!.h;
        t.queued.shift();
        t.stats.commits++;
        t.stats.lastCommitHashes = j.nodes!.length;
        t.stats.hashes += j.nodes!.length;
      });
    } catch (e) {
      // Hand the puts on to the next commit (newer puts win), or back to pending.
      for (const j of jobs) {
        const t = j.trie;
        t.queued.shift();
        const into = t.queued[0] ?? t.pending;
        for (const [k, v] of j.snapshot) if (!into.has(k)) into.set(k, v);
      }
      throw e;
    }
    return tries.map((t) => t.committed);
  }

  /** @internal for Merge */
  loadNode(h: bigint): TrieNode | Promise<TrieNode> {
    return this.load(h);
  }
}

/** Hashes stored nodes in one batch (edges: H(child, path) + length). */
export function batchHashNodes(kind: HashKind, nodes: readonly TrieNode[]): bigint[] {
  if (nodes.length === 0) return [];
  const levels: NewNode[][] = [[], nodes.map((n) => (n.kind === 'binary' ? newBinary(ref(n.left), ref(n.right)) : newEdge(n.path, n.length, ref(n.child))))];
  // ref(0) is EMPTY whose h is 0n, as wanted; hashLevels only reads children's h.
  hashLevels(kind, levels);
  return levels[1]!.map((x) => x.h);
}

type MaybeSub = Sub | Promise<Sub>;

/** f(x) now when x is a value, later when it is a promise: sync stores never touch the microtask queue. */
function then(x: MaybeSub, f: (s: Sub) => MaybeSub): MaybeSub {
  return x instanceof Promise ? x.then(f) : f(x);
}

/**
 * One commit's merge of sorted updates (keys[i] -> vals[i], 0 = delete) into a stored version.
 * Returns a Sub: a Ref when the subtree is unchanged (or empty, or a leaf value), else new nodes.
 * Every step is synchronous while the nodes it needs are at hand (memory, cache, getSync) and
 * turns into a promise only where a load does; sibling subtrees then load concurrently.
 */
class Merge {
  private readonly H: number;
  constructor(
    private readonly trie: Trie,
    private readonly keys: readonly bigint[],
    private readonly vals: readonly bigint[],
  ) {
    this.H = trie.height;
  }

  update(h: bigint, lo: number, hi: number, d: number): MaybeSub {
    if (lo === hi) return ref(h);
    if (h === 0n) return this.buildNonZero(lo, hi, d);
    if (d === this.H) {
      const v = this.vals[lo]!;
      return v === h ? ref(h) : ref(v);
    }
    const n = this.trie.loadNode(h);
    return n instanceof Promise ? n.then((x) => this.updateNode(x, h, lo, hi, d)) : this.updateNode(n, h, lo, hi, d);
  }

  private updateNode(n: TrieNode, h: bigint, lo: number, hi: number, d: number): MaybeSub {
    if (n.kind === 'edge') return this.updateEdge(n.child, n.path, n.length, d, lo, hi, h);
    const mid = firstWithBit(this.keys, lo, hi, d, this.H);
    const l = lo < mid ? this.update(n.left, lo, mid, d + 1) : ref(n.left);
    let r: MaybeSub;
    try {
      r = mid < hi ? this.update(n.right, mid, hi, d + 1) : ref(n.right);
    } catch (e) {
      if (l instanceof Promise) l.catch(() => undefined); // its failure is not the one we report
      throw e;
    }
    if (l instanceof Promise || r instanceof Promise) return Promise.all([l, r]).then(([a, b]) => this.finishBinary(n, h, a, b, d));
    return this.finishBinary(n, h, l, r, d);
  }

  private finishBinary(n: { left: bigint; right: bigint }, h: bigint, l: Sub, r: Sub, d: number): MaybeSub {
    if (l.k === 0 && r.k === 0 && l.h === n.left && r.h === n.right) return ref(h);
    return this.combine(l, r, d);
  }

  /**
   * Updates an edge (path, len) at depth d over `child`. `orig` is the edge's hash when it is a
   * stored node, undefined when it is the lower part of a split edge (which must be created).
   */
  private updateEdge(child: bigint, path: bigint, len: number, d: number, lo: number, hi: number, orig: bigint | undefined): MaybeSub {
    if (lo === hi) return orig !== undefined ? ref(orig) : newEdge(path, len, ref(child));
    const H = this.H;
    const keys = this.keys;
    const sh = SH[H - d - len]!;
    const mask = MASK[len]!;
    const m = Math.min(commonPrefix(path, (keys[lo]! >> sh) & mask, len), commonPrefix(path, (keys[hi - 1]! >> sh) & mask, len));
    if (m === len) {
      return then(this.update(child, lo, hi, d + len), (c) => {
        if (c.k === 0 && c.h === child) return orig !== undefined ? ref(orig) : newEdge(path, len, c);
        return this.makeEdge(path, len, c, d);
      });
    }
    // Some keys leave the edge at depth d + m: split it there into a binary node.
    const dd = d + m;
    const s = firstWithBit(keys, lo, hi, dd, H);
    const b = (path >> SH[len - 1 - m]!) & 1n;
    const [bLo, bHi, oLo, oHi] = b === 0n ? [lo, s, s, hi] : [s, hi, lo, s];
    // Deleting keys that are not there changes nothing.
    if (this.allZero(oLo, oHi)) return this.updateEdge(child, path, len, d, bLo, bHi, orig);
    const rest = len - m - 1;
    const side = rest > 0 ? this.updateEdge(child, path & MASK[rest]!, rest, dd + 1, bLo, bHi, undefined) : this.update(child, bLo, bHi, dd + 1);
    const other = this.buildNonZero(oLo, oHi, dd + 1);
    const top = path >> SH[len - m]!;
    return then(side, (x) => then(b === 0n ? this.combine(x, other, dd) : this.combine(other, x, dd), (bin) => this.makeEdge(top, m, bin, d)));
  }

  /** A binary node at depth d from its two new children, or an edge when one side is empty. */
  private combine(l: Sub, r: Sub, d: number): MaybeSub {
    if (isEmpty(l)) return isEmpty(r) ? EMPTY : this.makeEdge(1n, 1, r, d);
    if (isEmpty(r)) return this.makeEdge(0n, 1, l, d);
    return newBinary(l, r);
  }

  /** An edge (path, len) at depth d above `s`, merged with s when s is itself an edge. */
  private makeEdge(path: bigint, len: number, s: Sub, d: number): MaybeSub {
    if (len === 0) return s;
    if (s.k === 2) return newEdge((path << SH[s.len]!) | s.path, len + s.len, s.c);
    if (s.k === 0) {
      if (s.h === 0n) return EMPTY;
      if (d + len < this.H) {
        // An unchanged stored subtree: if it is an edge, the two edges become one.
        const n = this.trie.loadNode(s.h);
        return n instanceof Promise ? n.then((x) => edgeOver(path, len, s, x)) : edgeOver(path, len, s, n);
      }
    }
    return newEdge(path, len, s);
  }

  private allZero(lo: number, hi: number): boolean {
    for (let i = lo; i < hi; i++) if (this.vals[i] !== 0n) return false;
    return true;
  }

  /** A fresh subtree of the non-zero updates in [lo, hi) (the subtree was empty). */
  private buildNonZero(lo: number, hi: number, d: number): Sub {
    let zeros = 0;
    for (let i = lo; i < hi; i++) if (this.vals[i] === 0n) zeros++;
    if (zeros === hi - lo) return EMPTY;
    if (zeros === 0) return build(this.keys, this.vals, lo, hi, d, this.H);
    const ks: bigint[] = [];
    const vs: bigint[] = [];
    for (let i = lo; i < hi; i++) {
      if (this.vals[i] !== 0n) {
        ks.push(this.keys[i]!);
        vs.push(this.vals[i]!);
      }
    }
    return build(ks, vs, 0, ks.length, d, this.H);
  }
}

/** The edge (path, len) over the stored node n (hash s.h), merged with n when n is an edge. */
function edgeOver(path: bigint, len: number, s: Sub, n: TrieNode): Sub {
  return n.kind === 'edge' ? newEdge((path << SH[n.length]!) | n.path, len + n.length, ref(n.child)) : newEdge(path, len, s);
}

/** The public factory. */
export function createTrie(opts: TrieOptions): Trie {
  return new Trie(opts);
}

export { hashTrieNode };
