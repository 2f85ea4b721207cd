/**
 * The TypeScript "contracts" and their class hashes. A class hash names a code version: it is
 * sn_keccak of a versioned name ("perpnode.Account.v1"), and the compiled class hash is
 * sn_keccak of that name + ".compiled". Changing a contract's rules means bumping its version,
 * so the classes trie (and hence every state root) commits to the code that produced it.
 */
import { encodeShortString, pedersenArray, starknetKeccak } from '../node/crypto/index.ts';
import { ADDR_BOUND } from './math.ts';

export interface ContractClass {
  name: string;
  /** The versioned name hashed into classHash. */
  versionedName: string;
  classHash: bigint;
  compiledClassHash: bigint;
}

function cls(name: string, version: number): ContractClass {
  const versionedName = `perpnode.${name}.v${version}`;
  return { name, versionedName, classHash: starknetKeccak(versionedName), compiledClassHash: starknetKeccak(versionedName + '.compiled') };
}

export const ACCOUNT_CLASS = cls('Account', 1);
export const EXCHANGE_CLASS = cls('Exchange', 1);
export const VAULT_CLASS = cls('LiquidatorVault', 1);

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

/** Default addresses of the singleton contracts: salt = short string of their role. */
export function defaultExchangeAddress(): bigint {
  return contractAddress(encodeShortString('perpnode.exchange'), EXCHANGE_CLASS.classHash, [], 0n);
}
export function defaultVaultAddress(): bigint {
  return contractAddress(encodeShortString('perpnode.vault'), VAULT_CLASS.classHash, [], 0n);
}
