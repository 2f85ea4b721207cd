/**
 * The TypeScript "contracts" and their class hashes. Each is served as a Starknet Sierra class
 * (contracts-ts/starknet/class.ts: its ABI, entry points and a sierra_program naming the
 * versioned TypeScript implementation, e.g. "perpnode.Account.v3"); the class hash is Starknet's
 * Sierra class hash of that class. There is no CASM: the compiled class hash is sn_keccak of
 * the versioned name + ".compiled", a commitment to the same version. Changing a contract's
 * rules means bumping its version, so the classes trie (and hence every state root) commits to
 * the code that produced it.
 */
import { activeCrypto, assertFelt, encodeShortString, pedersen, pedersenArray, starknetKeccak } from './crypto.ts';
import { ADDR_BOUND } from './math.ts';
import { ACCOUNT_ABI, EXCHANGE_ABI, VAULT_ABI, type ClassAbi } from './starknet/abi.ts';
import { sierraClass, sierraClassHash, type SierraClass } from './starknet/class.ts';

export interface ContractClass {
  name: string;
  /** The versioned name the Sierra class commits to. */
  versionedName: string;
  classHash: bigint;
  compiledClassHash: bigint;
  abi: ClassAbi;
  sierra: SierraClass;
}

function cls(name: string, version: number, abi: ClassAbi): ContractClass {
  const versionedName = `perpnode.${name}.v${version}`;
  const sierra = sierraClass(versionedName, version, abi);
  return { name, versionedName, classHash: sierraClassHash(sierra), compiledClassHash: starknetKeccak(versionedName + '.compiled'), abi, sierra };
}

// v3 (issue 14, the compact order layout): order words at the order hash mod 2^251 - 256 holding
// the expiry, pruned after it (PRUNE_ORDERS); no order_owner index; cancels mark only the signer.
export const ACCOUNT_CLASS = cls('Account', 3, ACCOUNT_ABI);
export const EXCHANGE_CLASS = cls('Exchange', 3, EXCHANGE_ABI);
export const VAULT_CLASS = cls('LiquidatorVault', 3, VAULT_ABI);

/** The class with this hash, or undefined. */
export function classByHash(classHash: bigint): ContractClass | undefined {
  return CONTRACT_CLASSES.find((c) => c.classHash === classHash);
}

export const CONTRACT_CLASSES: ContractClass[] = [ACCOUNT_CLASS, EXCHANGE_CLASS, VAULT_CLASS];

const CONTRACT_ADDRESS_PREFIX = encodeShortString('STARKNET_CONTRACT_ADDRESS');

/** Starknet's calculate_contract_address_from_hash (Pedersen chain hashes, mod 2^251 - 256). */
export function contractAddress(salt: bigint, classHash: bigint, constructorCalldata: readonly bigint[], deployer: bigint): bigint {
  const calldataHash = pedersenArray(constructorCalldata);
  return pedersenArray([CONTRACT_ADDRESS_PREFIX, deployer, salt, classHash, calldataHash]) % ADDR_BOUND;
}

const addressCache = new Map<bigint, bigint>();
/** The account address of a stark key: salt = key, class = Account, calldata = [key], deployer 0. */
export function accountAddress(starkKey: bigint): bigint {
  let a = addressCache.get(starkKey);
  if (a === undefined) {
    a = contractAddress(starkKey, ACCOUNT_CLASS.classHash, [starkKey], 0n);
    if (addressCache.size > 100_000) addressCache.clear();
    addressCache.set(starkKey, a);
  }
  return a;
}

/**
 * accountAddress for many keys at once (bulk genesis): the same Pedersen chain, computed level
 * by level with one backend batch call per level (6 calls for all keys instead of 6 calls per
 * key). Also fills the address cache so a following deployAccount of each key costs nothing.
 */
export function accountAddresses(starkKeys: readonly bigint[]): bigint[] {
  if (starkKeys.length === 0) return [];
  for (let i = 0; i < starkKeys.length; i++) assertFelt(starkKeys[i]!, `starkKeys[${i}]`);
  const be = activeCrypto();
  const n = starkKeys.length;
  const fill = (x: bigint) => new Array<bigint>(n).fill(x);
  // calldata hash: pedersenArray([key]) = h(h(0, key), 1)
  const cdh = be.pedersenBatch(be.pedersenBatch(fill(0n), starkKeys), fill(1n));
  // pedersenArray([PREFIX, deployer 0, salt = key, class, cdh]) = h(h(h(h(h(h(0, PREFIX), 0), key), class), cdh), 5)
  const head = pedersen(pedersen(0n, CONTRACT_ADDRESS_PREFIX), 0n);
  let h = be.pedersenBatch(fill(head), starkKeys);
  h = be.pedersenBatch(h, fill(ACCOUNT_CLASS.classHash));
  h = be.pedersenBatch(h, cdh);
  h = be.pedersenBatch(h, fill(5n));
  const out = h.map((x) => x % ADDR_BOUND);
  if (addressCache.size + n > 100_000) addressCache.clear();
  if (n <= 100_000) starkKeys.forEach((k, i) => addressCache.set(k, out[i]!));
  return out;
}

/** Default addresses of the singleton contracts: salt = short string of their role. */
export function defaultExchangeAddress(): bigint {
  return contractAddress(encodeShortString('perpnode.exchange'), EXCHANGE_CLASS.classHash, [], 0n);
}
export function defaultVaultAddress(): bigint {
  return contractAddress(encodeShortString('perpnode.vault'), VAULT_CLASS.classHash, [], 0n);
}
