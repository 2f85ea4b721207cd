/**
 * perpnode/crypto — STARK-field hashes, keys and signatures on bigint.
 *
 * Every call goes through the active backend (JS reference by default; see `useBackend`).
 * Inputs are checked to be field elements at this boundary; backends may assume they are.
 */
import * as scure from '@scure/starknet';
import type { CryptoBackend, Signature, VerifyItem } from './backend.ts';
import { jsBackend } from './js.ts';
import { assertFelt, bigIntToBytes32, bytesToBigInt, CURVE_ORDER, FeltError, MAX_MSG, toHex64 } from './felt.ts';

export type { CryptoBackend, Signature, VerifyItem } from './backend.ts';
export * from './felt.ts';

let active: CryptoBackend = jsBackend;

/** The backend every hash and verification uses now. */
export function backend(): CryptoBackend {
  return active;
}

/** Installs a backend (the node does this once at startup, from `--crypto`). */
export function setBackend(b: CryptoBackend): void {
  active = b;
}

export { jsBackend };

export type BackendChoice = 'js' | 'native' | 'auto';

/**
 * Picks the backend: `native` fails loudly if the addon cannot load, `auto` falls back to JS.
 * Returns the backend now active and, when `auto` fell back, why.
 */
export async function useBackend(choice: BackendChoice): Promise<{ backend: CryptoBackend; note?: string }> {
  if (choice === 'js') {
    setBackend(jsBackend);
    return { backend: jsBackend };
  }
  try {
    const mod = (await import('./native.ts')) as { loadNativeBackend: () => CryptoBackend };
    const nb = mod.loadNativeBackend();
    setBackend(nb);
    return { backend: nb };
  } catch (e) {
    if (choice === 'native') throw new Error(`native crypto backend unavailable: ${(e as Error).message}`);
    setBackend(jsBackend);
    return { backend: jsBackend, note: `native backend unavailable (${(e as Error).message}); using js` };
  }
}

export function pedersen(a: bigint, b: bigint): bigint {
  return active.pedersen(assertFelt(a, 'a'), assertFelt(b, 'b'));
}

export function poseidonHash(a: bigint, b: bigint): bigint {
  return active.poseidonHash(assertFelt(a, 'a'), assertFelt(b, 'b'));
}

export function poseidonHashMany(xs: readonly bigint[]): bigint {
  for (let i = 0; i < xs.length; i++) assertFelt(xs[i]!, `xs[${i}]`);
  return active.poseidonHashMany(xs);
}

/** Starknet keccak: Keccak-256 truncated to its low 250 bits. */
export function starknetKeccak(data: Uint8Array | string): bigint {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return scure.keccak(bytes);
}

/** Pedersen chain hash as Starknet's `compute_hash_on_elements` (h(...h(h(0, x0), x1)..., n)). */
export function pedersenArray(xs: readonly bigint[]): bigint {
  let h = 0n;
  for (const x of xs) h = pedersen(h, x);
  return pedersen(h, BigInt(xs.length));
}

// ---- keys ---------------------------------------------------------------------------------

export function assertPrivateKey(k: bigint): bigint {
  if (typeof k !== 'bigint' || k <= 0n || k >= CURVE_ORDER) throw new FeltError('private key must be in [1, n)');
  return k;
}

/** A fresh private key from the OS CSPRNG (ground below the curve order, as wallets do). */
export function randomPrivateKey(): bigint {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  return BigInt("0x" + scure.grindKey(seed));
}

/** The x-only public key ("stark key") of a private key. */
export function getStarkKey(privateKey: bigint): bigint {
  return BigInt(scure.getStarkKey(toHex64(assertPrivateKey(privateKey))));
}

/** Signs a message hash (< 2^251) with RFC 6979 deterministic nonces. Signing is always JS. */
export function sign(msgHash: bigint, privateKey: bigint): Signature {
  if (typeof msgHash !== 'bigint' || msgHash < 0n || msgHash >= MAX_MSG) throw new FeltError('message hash must be below 2^251');
  const sig = scure.sign(toHex64(msgHash), toHex64(assertPrivateKey(privateKey)));
  return { r: sig.r, s: sig.s };
}

/**
 * Verifies `[r, s]` over `msgHash` against an x-only stark key, trying both y candidates.
 * Malformed input (out-of-range values, x not on the curve) is simply `false`.
 */
export function verify(msgHash: bigint, starkKey: bigint, sig: Signature | readonly [bigint, bigint]): boolean {
  const [r, s] = Array.isArray(sig) ? sig : [(sig as Signature).r, (sig as Signature).s];
  if (!inRange(msgHash, MAX_MSG) || !inRange(starkKey, MAX_MSG) || !inRange(r, MAX_MSG) || !inRange(s, CURVE_ORDER)) return false;
  if (r === 0n || s === 0n) return false;
  return active.verify(msgHash, starkKey, r, s);
}

export function verifyBatch(items: readonly VerifyItem[]): boolean[] {
  const ok = items.map((it) => inRange(it.msgHash, MAX_MSG) && inRange(it.starkKey, MAX_MSG) && inRange(it.r, MAX_MSG) && inRange(it.s, CURVE_ORDER) && it.r !== 0n && it.s !== 0n);
  const todo = items.filter((_, i) => ok[i]);
  const res = todo.length ? active.verifyBatch(todo) : [];
  let j = 0;
  return ok.map((good) => (good ? res[j++]! : false));
}

function inRange(x: unknown, max: bigint): x is bigint {
  return typeof x === 'bigint' && x >= 0n && x < max;
}

export { bigIntToBytes32, bytesToBigInt };
