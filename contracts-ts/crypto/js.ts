/** The reference backend: @scure/starknet, the source of truth every other backend matches. */
import * as scure from '@scure/starknet';
import type { CryptoBackend, VerifyItem } from './backend.ts';
import { toHex64 } from './felt.ts';

/**
 * Which y parity verified last for a given x-only key. An account signs with one key forever,
 * so remembering the parity halves the cost of checking "both y candidates".
 */
const parityCache = new Map<bigint, '02' | '03'>();
const PARITY_CACHE_MAX = 1_000_000;

function verifyWith(prefix: '02' | '03', msgHash: bigint, starkKey: bigint, r: bigint, s: bigint): boolean {
  try {
    return scure.verify(new scure.Signature(r, s), toHex64(msgHash), prefix + toHex64(starkKey));
  } catch {
    // Not a point on the curve, or r/s out of range: not a valid signature.
    return false;
  }
}

export function verifyXOnly(msgHash: bigint, starkKey: bigint, r: bigint, s: bigint): boolean {
  const known = parityCache.get(starkKey);
  const order: Array<'02' | '03'> = known === '03' ? ['03', '02'] : ['02', '03'];
  for (const prefix of order) {
    if (verifyWith(prefix, msgHash, starkKey, r, s)) {
      if (known !== prefix) {
        if (parityCache.size >= PARITY_CACHE_MAX) parityCache.clear();
        parityCache.set(starkKey, prefix);
      }
      return true;
    }
  }
  return false;
}

export const jsBackend: CryptoBackend = {
  name: 'js',
  pedersen: (a, b) => BigInt(scure.pedersen(a, b)),
  poseidonHash: (a, b) => scure.poseidonHash(a, b),
  poseidonHashMany: (xs) => scure.poseidonHashMany(xs as bigint[]),
  verify: verifyXOnly,
  pedersenBatch: (as, bs) => as.map((a, i) => BigInt(scure.pedersen(a, bs[i]!))),
  poseidonBatch: (as, bs) => as.map((a, i) => scure.poseidonHash(a, bs[i]!)),
  verifyBatch: (items: readonly VerifyItem[]) => items.map((it) => verifyXOnly(it.msgHash, it.starkKey, it.r, it.s)),
};
