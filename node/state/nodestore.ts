/**
 * The chain state's trie nodes in LevelDB, content-addressed by hash (table T of
 * storage/schema.ts). The trie package's own LevelNodeStore is the standalone store for users
 * of `perpnode/trie`; the node uses this one. Nodes are never deleted, so every historical root
 * stays readable: historical RPC reads and rollback need no trie work.
 * One NodeCache is shared by every trie the state opens; a block's new nodes go into it once
 * the block is durable.
 */
import type { Db, DbOp } from '../storage/db.ts';
import { NodeCache, type NodeStore, type TrieNode } from '../trie/index.ts';
import { Tables } from '../storage/schema.ts';

export type { Db } from '../storage/db.ts';

export class StateNodeStore implements NodeStore {
  readonly cache: NodeCache;
  constructor(
    private readonly db: Db,
    cacheEntries = 1_000_000,
  ) {
    this.cache = new NodeCache(cacheEntries);
  }

  /**
   * A node by hash. Synchronous through classic-level's getSync when the database is open (a
   * read served from LevelDB's block cache costs far less than a thread-pool round trip, and
   * the trie merge then stays synchronous); asynchronous otherwise.
   */
  get(hash: bigint): TrieNode | undefined | Promise<TrieNode | undefined> {
    const db = this.db as Db & { getSync?: (k: Uint8Array) => Uint8Array | undefined };
    if (typeof db.getSync === 'function' && db.status === 'open') {
      const raw = db.getSync(Tables.trieNode.key(hash));
      return raw ? Tables.trieNode.decode(raw) : undefined;
    }
    return Tables.trieNode.get(db, hash);
  }

  /** Called after a block's batch landed: its new nodes are hot. */
  remember(hash: bigint, node: TrieNode): void {
    this.cache.set(hash, node);
  }

  /** Batch ops that persist new nodes. */
  static ops(nodes: Map<bigint, TrieNode>): DbOp[] {
    const out: DbOp[] = new Array(nodes.size);
    let i = 0;
    for (const [h, n] of nodes) out[i++] = Tables.trieNode.put(h, n);
    return out;
  }
}
