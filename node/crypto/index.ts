/**
 * perpnode/crypto — STARK-field hashes, keys and signatures on bigint.
 *
 * The hashes and felt helpers live with the contracts (contracts-ts/crypto.ts) and are
 * re-exported here; this module adds the backend selection (`useBackend`), signing and
 * verification. The backend is chosen once per process, before it matters: `useBackend` selects
 * it (the JS reference until then), a repeated call with the same choice returns it, and a call
 * asking for another backend, or to wrap it, throws. A bench's counting wrapper is installed
 * through that one selection (`wrap`).
 */
import * as scure from '@scure/starknet';
import { activeCrypto, assertPrivateKey, jsBackend, selectCrypto, type CryptoBackend, type Signature, type VerifyItem } from '../../contracts-ts/crypto.ts';
import { bigIntToBytes32, bytesToBigInt, CURVE_ORDER, FeltError, MAX_MSG, toHex64 } from '../../contracts-ts/crypto.ts';

export type { CryptoBackend, Signature, VerifyItem } from '../../contracts-ts/crypto.ts';
export * from '../../contracts-ts/crypto/felt.ts';
export { assertPrivateKey, getStarkKey, pedersen, pedersenArray, poseidonHash, poseidonHashMany, starknetKeccak } from '../../contracts-ts/crypto.ts';
export { jsBackend };

/** The backend every hash and verification uses now. */
export function backend(): CryptoBackend {
  return activeCrypto();
}

export type BackendChoice = 'js' | 'native' | 'auto';

export interface BackendOptions {
  /** Wraps the chosen backend before it is installed (a bench's counting wrapper); results must be the inner backend's. */
  wrap?: (inner: CryptoBackend) => CryptoBackend;
}

let chosen: { choice: BackendChoice; inner: CryptoBackend; note?: string } | undefined;

/**
 * Selects the process's backend, once: `native` fails loudly if the addon cannot load, `auto`
 * falls back to JS. Returns the backend now active and, when `auto` fell back, why. Asking again
 * for the same choice (or `auto` when it is what auto picked) returns the same selection; asking
 * for another backend or a wrapper after the selection throws.
 */
export async function useBackend(choice: BackendChoice, opts: BackendOptions = {}): Promise<{ backend: CryptoBackend; note?: string }> {
  if (chosen) {
    const same = choice === chosen.choice || choice === 'auto' || choice === chosen.inner.name;
    if (!same || opts.wrap) throw new Error(`the crypto backend is chosen once per process: ${chosen.inner.name} (${chosen.choice}) is in use, ${choice}${opts.wrap ? ' with a wrapper' : ''} was asked for`);
    return { backend: activeCrypto(), note: chosen.note };
  }
  let inner: CryptoBackend = jsBackend;
  let note: string | undefined;
  if (choice !== 'js') {
    try {
      const mod = (await import('./native.ts')) as { loadNativeBackend: () => CryptoBackend };
      inner = mod.loadNativeBackend();
    } catch (e) {
      if (choice === 'native') throw new Error(`native crypto backend unavailable: ${(e as Error).message}`);
      note = `native backend unavailable (${(e as Error).message}); using js`;
    }
  }
  if (chosen) return useBackend(choice, opts); // another caller selected while the addon loaded
  const b = opts.wrap ? opts.wrap(inner) : inner;
  selectCrypto(b);
  chosen = { choice, inner, note };
  return note ? { backend: b, note } : { backend: b };
}

// ---- keys ---------------------------------------------------------------------------------

/** A fresh private key from the OS CSPRNG (ground below the curve order, as wallets do). */
export function randomPrivateKey(): bigint {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  return BigInt("0x" + scure.grindKey(seed));
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
  return activeCrypto().verify(msgHash, starkKey, r, s);
}

export function verifyBatch(items: readonly VerifyItem[]): boolean[] {
  const ok = items.map((it) => inRange(it.msgHash, MAX_MSG) && inRange(it.starkKey, MAX_MSG) && inRange(it.r, MAX_MSG) && inRange(it.s, CURVE_ORDER) && it.r !== 0n && it.s !== 0n);
  const todo = items.filter((_, i) => ok[i]);
  const res = todo.length ? activeCrypto().verifyBatch(todo) : [];
  let j = 0;
  return ok.map((good) => (good ? res[j++]! : false));
}

function inRange(x: unknown, max: bigint): x is bigint {
  return typeof x === 'bigint' && x >= 0n && x < max;
}

export { bigIntToBytes32, bytesToBigInt };
