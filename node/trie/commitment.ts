/**
 * Block commitments (transactions, events, receipts): the root of a height-64 trie whose keys
 * are the indices 0..n-1. Built in memory in one pass, hashed rank by rank; nothing is stored.
 */
import { build, collect, hashLevels, type NewNode } from './core.ts';
import { P } from '../crypto/index.ts';
import type { HashKind } from './types.ts';
import { TrieError } from './types.ts';

/**
 * Root of the height-64 trie with leaves[i] at key i. A zero leaf is an absent key, as in any
 * Starknet trie (real commitment leaves are hashes, never 0). An empty list gives 0.
 */
export function commitmentRoot(leaves: readonly bigint[], hash: HashKind = 'poseidon'): bigint {
  const keys: bigint[] = [];
  const vals: bigint[] = [];
  for (let i = 0; i < leaves.length; i++) {
    const v = leaves[i]!;
    if (typeof v !== 'bigint' || v < 0n || v >= P) throw new TrieError(`commitment leaf ${i} is not a felt`);
    if (v !== 0n) {
      keys.push(BigInt(i));
      vals.push(v);
    }
  }
  if (keys.length === 0) return 0n;
  const root = build(keys, vals, 0, keys.length, 0, 64);
  const levels: NewNode[][] = [];
  collect(root, levels);
  hashLevels(hash, levels);
  return root.h;
}
