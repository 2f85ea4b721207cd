/**
 * The native crypto backend: a C addon (native/, N-API, built by `npm install` through
 * scripts/build-native.mjs) with Poseidon, Pedersen and STARK ECDSA verification, bit-exact with
 * @scure/starknet (test/unit/crypto-native.test.ts proves it; docs/crypto.md explains how).
 *
 * `loadNativeBackend()` throws when the addon is not built or does not load; `useBackend('auto')`
 * in index.ts then falls back to the JS reference. It also throws if the addon disagrees with
 * known answers at load time, so a miscompiled addon can never become the active backend.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { CryptoBackend } from './backend.ts';
import { P } from './felt.ts';

/** What the compiled addon exports (native/src/addon.c): the backend's calls, plus packed forms. */
export interface NativeAddon extends Omit<CryptoBackend, 'name'> {
  /** input: k pairs as 64 bytes (a then b, 32-byte big-endian each); output: 32·k bytes. */
  pedersenPacked(input: Uint8Array, output: Uint8Array): void;
  poseidonPacked(input: Uint8Array, output: Uint8Array): void;
  /** input: k felts of 32 bytes; output: 32 bytes. */
  poseidonHashManyPacked(input: Uint8Array, output: Uint8Array): void;
  /** input: k items of 128 bytes (msgHash, starkKey, r, s); output: k bytes, 1 = valid. */
  verifyPacked(input: Uint8Array, output: Uint8Array): void;
}

/** Where scripts/build-native.mjs puts the addon (native/build is git-ignored). */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/perpnode_crypto.node', import.meta.url));

let addon: NativeAddon | undefined;
let backendInstance: CryptoBackend | undefined;

/** Loads the compiled addon (once); throws with the reason and the fix when it cannot. */
export function loadNativeAddon(): NativeAddon {
  if (addon) return addon;
  if (!existsSync(NATIVE_ADDON_PATH)) {
    throw new Error(`native addon not built (${NATIVE_ADDON_PATH} missing; run \`node scripts/build-native.mjs\`)`);
  }
  let mod: NativeAddon;
  try {
    mod = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon;
  } catch (e) {
    throw new Error(`native addon failed to load: ${(e as Error).message} (rebuild with \`node scripts/build-native.mjs\`)`);
  }
  selfTest(mod);
  addon = mod;
  return mod;
}

// Known answers (public vectors, see test/vectors/starknet-public.json) checked at load time.
const KNOWN = {
  pedersen: [0x3d937c035c878245caf64531a5756109c53068da139362728feb561405371cbn, 0x208a0a10250e382e1e4bbe2880906c2791bf6275695e02fbbc6aeff9cd8b31an, 0x30e480bed5fe53fa909cc0f8c4d99b8f9f2c016be4c41e13a4848797979c662n],
  poseidon: [1n, 2n, 0x5d44a3decb2b2e0cc71071f7b802f45dd792d064f0fc7316c46514f70f9891an],
  poseidonMany: [[1n, 2n, 3n], 0x2f0d8840bcf3bc629598d8a6cc80cb7c0d9e52d93dab244bbf9cd0dca0ad082n],
  // private key 0x1234567, message 0x123456789, signed with @scure/starknet
  sig: [0x123456789n, 0x2202275e27873286b71dae62930bbf6420d2e933bbc7cb08e09019e7218ad9cn, 0x7509ff3095c158adbd0ce319e019f7dd975e8c2497e58572adb0c5ddaa7b537n, 0x11ab0edead106113d12b52cc02812a49a35988583c64feeafc649ae95c784a7n],
} as const;

function selfTest(m: NativeAddon): void {
  const [pa, pb, pout] = KNOWN.pedersen;
  const [qa, qb, qout] = KNOWN.poseidon;
  const [many, manyOut] = KNOWN.poseidonMany;
  const bad: string[] = [];
  if (m.pedersen(pa, pb) !== pout) bad.push('pedersen');
  if (m.poseidonHash(qa, qb) !== qout) bad.push('poseidonHash');
  if (m.poseidonHashMany(many) !== manyOut) bad.push('poseidonHashMany');
  const [msg, key, r, s] = KNOWN.sig;
  if (m.verify(msg, key, r, s) !== true || m.verify(msg + 1n, key, r, s) !== false) bad.push('verify');
  if (bad.length) throw new Error(`native addon fails its known-answer self-test (${bad.join(', ')}); refusing to use it`);
}

/** Poseidon in the reference reduces any bigint mod p; the addon takes [0, 2^256) (the common case). */
function modP(x: bigint): bigint {
  const r = x % P;
  return r < 0n ? r + P : r;
}

/** The native CryptoBackend; throws if the addon is not built or not loadable. */
export function loadNativeBackend(): CryptoBackend {
  if (backendInstance) return backendInstance;
  const m = loadNativeAddon();
  const poseidonHash = (a: bigint, b: bigint): bigint => {
    try {
      return m.poseidonHash(a, b);
    } catch (e) {
      if (typeof a === 'bigint' && typeof b === 'bigint') return m.poseidonHash(modP(a), modP(b));
      throw e;
    }
  };
  backendInstance = {
    name: 'native',
    pedersen: (a, b) => m.pedersen(a, b),
    poseidonHash,
    poseidonHashMany: (xs) => {
      try {
        return m.poseidonHashMany(xs);
      } catch (e) {
        if (xs.every((x) => typeof x === 'bigint')) return m.poseidonHashMany(xs.map(modP));
        throw e;
      }
    },
    verify: (msgHash, starkKey, r, s) => m.verify(msgHash, starkKey, r, s),
    pedersenBatch: (as, bs) => m.pedersenBatch(as, bs),
    poseidonBatch: (as, bs) => {
      try {
        return m.poseidonBatch(as, bs);
      } catch (e) {
        if (as.every((x) => typeof x === 'bigint') && bs.every((x) => typeof x === 'bigint')) return m.poseidonBatch(as.map(modP), bs.map(modP));
        throw e;
      }
    },
    verifyBatch: (items) => m.verifyBatch(items),
  };
  return backendInstance;
}
