/**
 * The crypto the contracts use: STARK-field hashes (Poseidon, Pedersen, Starknet keccak), felt
 * helpers, key derivation. The contracts import these from here, never from node/.
 *
 * Which backend computes the hashes is chosen once per process: `selectCrypto` (called by the
 * node's `useBackend` at startup, with the addon loaded or not) accepts one backend and refuses
 * any other afterwards. Until then the JS reference answers; every backend is bit-exact with it
 * (test/unit/crypto-native.test.ts), so the choice changes speed, never a result.
 * Inputs are checked to be field elements here; backends may assume they are.
 */
import * as scure from '@scure/starknet';
import type { CryptoBackend } from './crypto/backend.ts';
import { jsBackend } from './crypto/js.ts';
import { assertFelt, CURVE_ORDER, FeltError, toHex64 } from './crypto/felt.ts';

export * from './crypto/felt.ts';
export type { CryptoBackend, Signature, VerifyItem } from './crypto/backend.ts';
export { jsBackend };

let selected: CryptoBackend | undefined;

/** The backend every hash uses: the selected one, or (before the selection) the JS reference. */
export function activeCrypto(): CryptoBackend {
  return selected ?? jsBackend;
}

/** The selected backend, undefined before the selection. */
export function selectedCrypto(): CryptoBackend | undefined {
  return selected;
}

/** Selects the process's backend, once: selecting another one afterwards throws. */
export function selectCrypto(b: CryptoBackend): void {
  if (selected && selected !== b) throw new Error(`the crypto backend is chosen once per process: ${selected.name} is in use, ${b.name} was asked for`);
  selected = b;
}

export function pedersen(a: bigint, b: bigint): bigint {
  return activeCrypto().pedersen(assertFelt(a, 'a'), assertFelt(b, 'b'));
}

export function poseidonHash(a: bigint, b: bigint): bigint {
  return activeCrypto().poseidonHash(assertFelt(a, 'a'), assertFelt(b, 'b'));
}

export function poseidonHashMany(xs: readonly bigint[]): bigint {
  for (let i = 0; i < xs.length; i++) assertFelt(xs[i]!, `xs[${i}]`);
  return activeCrypto().poseidonHashMany(xs);
}

/** Pedersen chain hash as Starknet's `compute_hash_on_elements` (h(...h(h(0, x0), x1)..., n)). */
export function pedersenArray(xs: readonly bigint[]): bigint {
  let h = 0n;
  for (const x of xs) h = pedersen(h, x);
  return pedersen(h, BigInt(xs.length));
}

/** Starknet keccak: Keccak-256 truncated to its low 250 bits. */
export function starknetKeccak(data: Uint8Array | string): bigint {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return scure.keccak(bytes);
}

export function assertPrivateKey(k: bigint): bigint {
  if (typeof k !== 'bigint' || k <= 0n || k >= CURVE_ORDER) throw new FeltError('private key must be in [1, n)');
  return k;
}

/** The x-only public key ("stark key") of a private key. */
export function getStarkKey(privateKey: bigint): bigint {
  return BigInt(scure.getStarkKey(toHex64(assertPrivateKey(privateKey))));
}
