/**
 * Trie nodes in LevelDB, content-addressed by hash (table T). Nodes are never deleted, so
 * every historical root stays readable: historical RPC reads and rollback need no trie work.
 * One NodeCache is shared by every trie the state opens; a block's new nodes go into it once
 * the block is durable.
 */
import type { ClassicLevel } from 'classic-level';
import { decodeNode, encodeNode, NodeCache, type NodeStore, type TrieNode } from '../trie/index.ts';
import { feltKey, Tag } from '../storage/schema.ts';

export type Db = ClassicLevel<Uint8Array, Uint8Array>;

export class LevelNodeStore implements NodeStore {
  readonly cache: NodeCache;
  constructor(
    private readonly db: Db,
    cacheEntries = 1_000_000,
  ) {
    this.cache = new NodeCache(cacheEntries);
  }

  async get(hash: bigint): Promise<TrieNode | undefined> {
    const raw = await this.db.get(feltKey(Tag.trieNode, hash));
    return raw ? decodeNode(raw) : undefined;
  }

  /** Called after a block's batch landed: its new nodes are hot. */
  remember(hash: bigint, node: TrieNode): void {
    this.cache.set(hash, node);
  }

  /** Batch ops that persist new nodes. */
  static ops(nodes: Map<bigint, TrieNode>): { type: 'put'; key: Uint8Array; value: Uint8Array }[] {
    const out: { type: 'put'; key: Uint8Array; value: Uint8Array }[] = [];
    for (const [h, n] of nodes) out.push({ type: 'put', key: feltKey(Tag.trieNode, h), value: encodeNode(n) });
    return out;
  }
}
