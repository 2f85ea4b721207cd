/**
 * Trie nodes in LevelDB, content-addressed by hash (table T). Nodes are never deleted, so
 * every historical root stays readable: historical RPC reads and rollback need no trie work.
 * One NodeCache is shared by every trie the state opens; a block's new nodes go into it once
 * the block is durable.
 */
import type { Db } from '../storage/db.ts';
import { decodeNode, encodeNode, NodeCache, type NodeStore, type TrieNode } from '../trie/index.ts';
import { nodeDbKey } from '../trie/store.ts';
import { writeFelt } from '../trie/codec.ts';
import { Tag } from '../storage/schema.ts';

export type { Db } from '../storage/db.ts';

/** Table T's key prefix; nodeDbKey(prefix, hash) = feltKey(Tag.trieNode, hash), written without a per-byte bigint loop. */
const NODE_PREFIX = Uint8Array.of(Tag.trieNode);

export class LevelNodeStore implements NodeStore {
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
    const key = nodeDbKey(NODE_PREFIX, hash);
    const db = this.db as Db & { getSync?: (k: Uint8Array) => Uint8Array | undefined };
    if (typeof db.getSync === 'function' && db.status === 'open') {
      const raw = db.getSync(key);
      return raw ? decodeNode(raw) : undefined;
    }
    return db.get(key).then((raw) => (raw ? decodeNode(raw) : undefined));
  }

  /** Called after a block's batch landed: its new nodes are hot. */
  remember(hash: bigint, node: TrieNode): void {
    this.cache.set(hash, node);
  }

  /** Batch ops that persist new nodes. */
  static ops(nodes: Map<bigint, TrieNode>): { type: 'put'; key: Uint8Array; value: Uint8Array }[] {
    const out: { type: 'put'; key: Uint8Array; value: Uint8Array }[] = new Array(nodes.size);
    let i = 0;
    for (const [h, n] of nodes) {
      // The key's felt is written in place (no intermediate 32-byte array).
      const key = new Uint8Array(33);
      key[0] = Tag.trieNode;
      writeFelt(new DataView(key.buffer), 1, h);
      out[i++] = { type: 'put', key, value: encodeNode(n) };
    }
    return out;
  }
}
