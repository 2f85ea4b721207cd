/**
 * perpnode/trie — Starknet's binary Merkle-Patricia trie (height 251 and 64), content-addressed
 * node stores, proofs in the starknet_getStorageProof node format, and block commitments.
 */
export { createTrie, Trie, batchHashNodes, type TrieOptions, type TrieStats } from './trie.ts';
export { verifyProof, verifyProofValue, hashTrieNode, type VerifyProofOptions } from './proof.ts';
export { commitmentRoot } from './commitment.ts';
export { encodeNode, decodeNode, feltBytes } from './codec.ts';
export {
  MemoryNodeStore,
  LevelNodeStore,
  NodeCache,
  nodeDbKey,
  nodeWriteOps,
  isWritable,
  type NodeStore,
  type WritableNodeStore,
  type LevelDbLike,
  type LevelNodeStoreOptions,
  type PutOp,
} from './store.ts';
export {
  TrieError,
  MissingNodeError,
  TrieProofError,
  TrieIntegrityError,
  type TrieNode,
  type BinaryNode,
  type EdgeNode,
  type ProofNode,
  type HashKind,
  type TrieHeight,
} from './types.ts';
