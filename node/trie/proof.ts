/**
 * Node hashing and proof verification (starknet_getStorageProof node format).
 *
 * A proof is valid for (root, key) when walking from `root` along the key's bits, every node
 * needed is in the proof and hashes to the hash it is listed under, and the walk ends either at
 * depth = height (membership: the value is the last child) or at an edge whose path leaves the
 * key (non-membership), or the root is 0 (empty trie). Nodes are looked up by hash, so the
 * order of the list does not matter and extra nodes (e.g. a proof shared by several keys) are
 * ignored.
 */
import { P, pedersen, poseidonHash } from '../crypto/index.ts';
import { MASK, SH } from './core.ts';
import { TrieProofError, type HashKind, type ProofNode, type TrieHeight, type TrieNode } from './types.ts';

function h2(kind: HashKind): (a: bigint, b: bigint) => bigint {
  return kind === 'pedersen' ? pedersen : poseidonHash;
}

/** The hash of one node: H(left, right), or H(child, path) + length mod p. */
export function hashTrieNode(node: TrieNode | ProofNode['node'], hash: HashKind): bigint {
  const H = h2(hash);
  if ('left' in node) return H(node.left, node.right);
  const h = H(node.child, node.path) + BigInt(node.length);
  return h >= P ? h - P : h;
}

export interface VerifyProofOptions {
  hash: HashKind;
  height?: TrieHeight;
}

const isFelt = (x: unknown): x is bigint => typeof x === 'bigint' && x >= 0n && x < P;

/**
 * Verifies a proof for `key` against `root`.
 * Returns the value (a bigint, never 0) when the key is in the trie, `'absent'` when the proof
 * shows it is not, and throws TrieProofError when the proof proves neither (a node missing,
 * a node that does not hash to its listed hash, malformed fields).
 */
export function verifyProof(root: bigint, key: bigint, proof: readonly ProofNode[], opts: VerifyProofOptions): bigint | 'absent' {
  const height = opts.height ?? 251;
  if (height !== 251 && height !== 64) throw new TrieProofError(`trie height must be 251 or 64`);
  if (!isFelt(root)) throw new TrieProofError('root is not a felt');
  if (typeof key !== 'bigint' || key < 0n || key >= 1n << BigInt(height)) throw new TrieProofError(`key out of range for height ${height}`);
  const byHash = new Map<bigint, ProofNode['node']>();
  for (const p of proof) {
    if (!p || typeof p !== 'object' || !isFelt(p.node_hash) || !p.node || typeof p.node !== 'object') throw new TrieProofError('malformed proof entry');
    byHash.set(p.node_hash, p.node);
  }
  let h = root;
  let d = 0;
  for (;;) {
    if (h === 0n) return 'absent';
    if (d === height) return h;
    const node = byHash.get(h);
    if (node === undefined) throw new TrieProofError(`proof lacks node 0x${h.toString(16)} at depth ${d}`);
    if ('left' in node) {
      if (!isFelt(node.left) || !isFelt(node.right)) throw new TrieProofError('binary node fields must be felts');
    } else {
      const { child, path, length } = node as { child: unknown; path: unknown; length: unknown };
      if (!isFelt(child) || !isFelt(path)) throw new TrieProofError('edge node fields must be felts');
      if (typeof length !== 'number' || !Number.isInteger(length) || length < 1 || d + length > height) {
        throw new TrieProofError(`edge length out of range at depth ${d}`);
      }
      if (path > MASK[length]!) throw new TrieProofError('edge path longer than its length');
    }
    if (hashTrieNode(node, opts.hash) !== h) throw new TrieProofError(`proof node listed as 0x${h.toString(16)} does not hash to it`);
    if ('left' in node) {
      h = ((key >> SH[height - 1 - d]!) & 1n) === 0n ? node.left : node.right;
      d++;
    } else {
      if (((key >> SH[height - d - node.length]!) & MASK[node.length]!) !== node.path) return 'absent';
      h = node.child;
      d += node.length;
    }
  }
}

/** As verifyProof, with absence as 0n (Starknet's reading of a missing storage slot). */
export function verifyProofValue(root: bigint, key: bigint, proof: readonly ProofNode[], opts: VerifyProofOptions): bigint {
  const r = verifyProof(root, key, proof, opts);
  return r === 'absent' ? 0n : r;
}
