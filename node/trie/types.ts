/**
 * Shapes shared by the trie, its stores and its proofs.
 *
 * Starknet's binary Merkle-Patricia trie (height 251 for state, 64 for block commitments):
 *   binary node hash = H(left, right)
 *   edge node hash   = H(child, path) + length  (mod p)
 *   leaf "hash"      = the leaf value itself; the empty trie has root 0.
 * Nodes carry no depth: a node is the same node wherever it sits, which is what makes a
 * content-addressed store (hash -> node) shareable by many tries and many versions.
 */

export type HashKind = 'pedersen' | 'poseidon';
export type TrieHeight = 251 | 64;

export type BinaryNode = { kind: 'binary'; left: bigint; right: bigint };
/** `path` holds `length` bits (MSB = the first bit taken below the edge's top). */
export type EdgeNode = { kind: 'edge'; child: bigint; path: bigint; length: number };
/**
 * An inner node, referenced by its hash. A child "hash" at the bottom level (depth = height)
 * is the leaf value itself; the depth of the walk, not the node, says which it is.
 */
export type TrieNode = BinaryNode | EdgeNode;

/** One entry of a proof, in the `starknet_getStorageProof` node format (values as bigint). */
export type ProofNode = {
  node_hash: bigint;
  node: { left: bigint; right: bigint } | { child: bigint; path: bigint; length: number };
};

export class TrieError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrieError';
  }
}

/** A node the trie needs is not in its store: the store is incomplete or the root is wrong. */
export class MissingNodeError extends TrieError {
  constructor(readonly hash: bigint) {
    super(`trie node 0x${hash.toString(16)} is missing from the node store`);
    this.name = 'MissingNodeError';
  }
}

/** A proof that does not prove anything about the given root and key. */
export class TrieProofError extends TrieError {
  constructor(message: string) {
    super(message);
    this.name = 'TrieProofError';
  }
}

/** Stored nodes that do not hash to their key, or break Starknet's shape rules. */
export class TrieIntegrityError extends TrieError {
  constructor(message: string) {
    super(message);
    this.name = 'TrieIntegrityError';
  }
}
