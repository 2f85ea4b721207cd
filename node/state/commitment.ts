/**
 * How contracts and classes are committed (Starknet's rules, hash injectable for contracts):
 *   contract leaf  = H(H(H(class_hash, storage_root), nonce), 0)
 *   class leaf     = poseidon("CONTRACT_CLASS_LEAF_V0", compiled_class_hash)
 *   global root    = contracts_root when classes_root is 0, else
 *                    poseidon_many("STARKNET_STATE_V0", contracts_root, classes_root)
 */
import { encodeShortString, pedersen, poseidonHash, poseidonHashMany } from '../crypto/index.ts';

export type TrieHash = 'pedersen' | 'poseidon';

const STATE_V0 = encodeShortString('STARKNET_STATE_V0');
const CLASS_LEAF_V0 = encodeShortString('CONTRACT_CLASS_LEAF_V0');

export function hashFn(kind: TrieHash): (a: bigint, b: bigint) => bigint {
  return kind === 'pedersen' ? pedersen : poseidonHash;
}

export function contractLeaf(kind: TrieHash, classHash: bigint, storageRoot: bigint, nonce: bigint): bigint {
  const h = hashFn(kind);
  return h(h(h(classHash, storageRoot), nonce), 0n);
}

export function classLeaf(compiledClassHash: bigint): bigint {
  return poseidonHash(CLASS_LEAF_V0, compiledClassHash);
}

export function globalRoot(contractsRoot: bigint, classesRoot: bigint): bigint {
  if (classesRoot === 0n) return contractsRoot;
  return poseidonHashMany([STATE_V0, contractsRoot, classesRoot]);
}
