/**
 * An order-independent digest of the flat at-head tables: the sum, mod 2^256, of SHA-256 over
 * every entry. It is updated per block (subtract old entries, add new ones), stored with the
 * head in the same batch, and recomputed at every start while the tables load. A value altered
 * in LevelDB while the node was stopped (the incident's corrupted funding index) changes the
 * sum, so the node refuses to start before it could sign anything built on it.
 * SHA-256 (node:crypto) rather than a STARK hash: it costs ~1 µs per entry, so checking a
 * million entries at startup takes about a second.
 */
import { createHash } from 'node:crypto';
import { bigIntToBytes32 } from '../crypto/index.ts';

const MOD = 1n << 256n;

function h(parts: bigint[], tag: number): bigint {
  const hash = createHash('sha256');
  hash.update(Uint8Array.of(tag));
  for (const p of parts) hash.update(bigIntToBytes32(p));
  return BigInt('0x' + hash.digest('hex'));
}

export const entryHash = {
  storage: (address: bigint, key: bigint, value: bigint) => h([address, key, value], 0x73),
  contract: (address: bigint, classHash: bigint, nonce: bigint, storageRoot: bigint) => h([address, classHash, nonce, storageRoot], 0x63),
  declared: (classHash: bigint, compiled: bigint) => h([classHash, compiled], 0x6b),
};

export class FlatDigest {
  constructor(public value = 0n) {}
  add(x: bigint): void {
    this.value = (this.value + x) % MOD;
  }
  sub(x: bigint): void {
    this.value = (this.value - x + MOD) % MOD;
  }
}
