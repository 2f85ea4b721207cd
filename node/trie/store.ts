/**
 * Where trie nodes live. Nodes are content-addressed by their hash and never deleted, so one
 * store holds many tries and every historical version of each (rollback and historical reads
 * are just "open the old root").
 */
import { decodeNode, encodeNode, feltBytes } from './codec.ts';
import type { TrieNode } from './types.ts';

export interface NodeStore {
  /** The node whose hash is `hash`, or undefined when the store does not have it. */
  get(hash: bigint): TrieNode | undefined | Promise<TrieNode | undefined>;
}

/** A store the trie may write to by itself at commit (memory, or LevelDB outside a block batch). */
export interface WritableNodeStore extends NodeStore {
  writeNodes(nodes: ReadonlyMap<bigint, TrieNode>): void | Promise<void>;
}

export function isWritable(s: NodeStore): s is WritableNodeStore {
  return typeof (s as Partial<WritableNodeStore>).writeNodes === 'function';
}

/** Everything in a Map: tests, commitments, in-memory nodes. */
export class MemoryNodeStore implements WritableNodeStore {
  readonly nodes = new Map<bigint, TrieNode>();
  get(hash: bigint): TrieNode | undefined {
    return this.nodes.get(hash);
  }
  put(hash: bigint, node: TrieNode): void {
    this.nodes.set(hash, node);
  }
  writeNodes(nodes: ReadonlyMap<bigint, TrieNode>): void {
    for (const [h, n] of nodes) this.nodes.set(h, n);
  }
  get size(): number {
    return this.nodes.size;
  }
}

/** The parts of an abstract-level database (classic-level 3) the trie uses. */
export interface LevelDbLike {
  // Loose on purpose: abstract-level's overloads vary with the database's default encodings.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  get(key: any, options?: any): Promise<any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  getSync?: (key: any, options?: any) => any;
  /** Chained form (no arguments), which classic-level writes much faster than an ops array. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  batch(): { put(key: any, value: any, options?: any): unknown; write(options?: any): Promise<void> };
  readonly status?: string;
}

export type PutOp = { type: 'put'; key: Uint8Array; value: Uint8Array };

const VIEW = { keyEncoding: 'view', valueEncoding: 'view' } as const;

export function prefixBytes(prefix: Uint8Array | string | undefined): Uint8Array {
  if (prefix === undefined) return new Uint8Array([0x54]); // 'T'
  return typeof prefix === 'string' ? new TextEncoder().encode(prefix) : prefix;
}

/** prefix | hash as 32 big-endian bytes: the LevelDB key of a node. */
export function nodeDbKey(prefix: Uint8Array, hash: bigint): Uint8Array {
  const k = new Uint8Array(prefix.length + 32);
  k.set(prefix, 0);
  k.set(feltBytes(hash), prefix.length);
  return k;
}

/** Batch operations that persist `nodes` under `prefix` (default 'T'), for the caller's own batch. */
export function nodeWriteOps(nodes: ReadonlyMap<bigint, TrieNode>, prefix?: Uint8Array | string): PutOp[] {
  const p = prefixBytes(prefix);
  const out: PutOp[] = [];
  for (const [h, n] of nodes) out.push({ type: 'put', key: nodeDbKey(p, h), value: encodeNode(n) });
  return out;
}

export interface LevelNodeStoreOptions {
  /** Key prefix of the node table; default the byte 'T'. */
  prefix?: Uint8Array | string;
  /**
   * Read with `getSync` when the database has it (classic-level 3 does): a node read from
   * LevelDB's cache is far cheaper than a thread-pool round trip. Default true.
   */
  sync?: boolean;
}

/** Nodes in LevelDB under `prefix + hash32`, values `encodeNode(node)`. */
export class LevelNodeStore implements WritableNodeStore {
  readonly prefix: Uint8Array;
  private readonly useSync: boolean;
  constructor(
    readonly db: LevelDbLike,
    opts: LevelNodeStoreOptions = {},
  ) {
    this.prefix = prefixBytes(opts.prefix);
    this.useSync = (opts.sync ?? true) && typeof db.getSync === 'function';
  }

  key(hash: bigint): Uint8Array {
    return nodeDbKey(this.prefix, hash);
  }

  get(hash: bigint): TrieNode | undefined | Promise<TrieNode | undefined> {
    const key = this.key(hash);
    if (this.useSync && this.db.status === 'open') {
      const raw = this.db.getSync!(key, VIEW) as Uint8Array | undefined;
      return raw === undefined ? undefined : decodeNode(raw);
    }
    return this.db.get(key, VIEW).then(
      (raw: Uint8Array | undefined) => (raw === undefined ? undefined : decodeNode(raw)),
      (e: { code?: string }) => {
        if (e && e.code === 'LEVEL_NOT_FOUND') return undefined; // older abstract-level
        throw e;
      },
    );
  }

  ops(nodes: ReadonlyMap<bigint, TrieNode>): PutOp[] {
    return nodeWriteOps(nodes, this.prefix);
  }

  async writeNodes(nodes: ReadonlyMap<bigint, TrieNode>): Promise<void> {
    if (nodes.size === 0) return;
    const b = this.db.batch();
    for (const [h, n] of nodes) b.put(this.key(h), encodeNode(n), VIEW);
    await b.write();
  }
}

/**
 * A bounded cache of decoded nodes, approximately LRU: two generations, the older one is
 * dropped whole when the young one fills up, and a hit in the old one moves to the young one.
 * One cache may be shared by many tries over the same store (content addressing makes that safe).
 */
export class NodeCache {
  private young = new Map<bigint, TrieNode>();
  private old = new Map<bigint, TrieNode>();
  private readonly half: number;
  constructor(readonly maxEntries = 200_000) {
    this.half = Math.max(1, Math.floor(maxEntries / 2));
  }
  get(hash: bigint): TrieNode | undefined {
    const y = this.young.get(hash);
    if (y !== undefined) return y;
    const o = this.old.get(hash);
    if (o !== undefined) {
      this.old.delete(hash);
      this.set(hash, o);
    }
    return o;
  }
  set(hash: bigint, node: TrieNode): void {
    this.young.set(hash, node);
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
  }
  get size(): number {
    return this.young.size + this.old.size;
  }
  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}
