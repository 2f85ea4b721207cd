/**
 * An order-independent digest of the flat at-head tables: the sum, mod 2^256, of SHA-256 over
 * every entry. It is updated per block (subtract old entries, add new ones), stored with the
 * head in the same batch, and recomputed at every start. A value altered in LevelDB while the
 * node was stopped (the incident's corrupted funding index) changes the sum, so the node
 * refuses to start before it could sign anything built on it.
 * SHA-256 (node:crypto) rather than a STARK hash: it is cheap, and the start-up pass
 * (`Sha256Sum`) hashes each entry's stored bytes as they come out of LevelDB, with no BigInt per
 * entry, because it visits every entry of the state.
 *
 * The hash input of an entry is its tag byte and its fields as 32-byte big-endian words; for
 * tables s and k that is exactly the stored key followed by the stored value (schema.ts), which
 * is what lets the start-up pass hash the raw bytes (test/unit/state-digest.test.ts checks both
 * ways give the same digest).
 */
import { hash as sha256 } from 'node:crypto';
import { bigIntToBytes32 } from '../crypto/index.ts';

const MOD = 1n << 256n;
const scratch = Buffer.alloc(1 + 4 * 32);

function digestToBigInt(d: Buffer): bigint {
  return (d.readBigUInt64BE(0) << 192n) | (d.readBigUInt64BE(8) << 128n) | (d.readBigUInt64BE(16) << 64n) | d.readBigUInt64BE(24);
}

function h(parts: bigint[], tag: number): bigint {
  scratch[0] = tag;
  for (let i = 0; i < parts.length; i++) scratch.set(bigIntToBytes32(parts[i]!), 1 + 32 * i);
  return digestToBigInt(sha256('sha256', scratch.subarray(0, 1 + 32 * parts.length), 'buffer') as Buffer);
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

/**
 * The sum mod 2^256 of SHA-256 over many byte strings, for passes over whole tables: each
 * digest is added as eight 32-bit lanes into doubles (exact below 2^53, so folded into a BigInt
 * every 2^20 additions) instead of one BigInt per entry.
 */
export class Sha256Sum {
  private readonly lanes = new Float64Array(8);
  private pending = 0;
  private total = 0n;
  private buf = Buffer.alloc(256);
  /** `foldEvery` (tests): additions between folds, at most 2^21 (a lane stays below 2^53). */
  constructor(private readonly foldEvery = 1 << 20) {
    if (foldEvery < 1 || foldEvery > 1 << 21) throw new RangeError('foldEvery must be in 1..2^21');
  }

  /** Adds SHA-256 of the concatenation a || b (|| c). */
  add(a: Uint8Array, b: Uint8Array, c?: Uint8Array): void {
    const n = a.length + b.length + (c?.length ?? 0);
    if (n > this.buf.length) this.buf = Buffer.alloc(2 * n);
    this.buf.set(a, 0);
    this.buf.set(b, a.length);
    if (c) this.buf.set(c, a.length + b.length);
    const d = sha256('sha256', this.buf.subarray(0, n), 'buffer') as Buffer;
    const l = this.lanes;
    for (let i = 0; i < 8; i++) l[i]! += d.readUInt32BE(4 * i);
    if (++this.pending === this.foldEvery) this.fold();
  }

  private fold(): void {
    let t = this.total;
    for (let i = 0; i < 8; i++) {
      t += BigInt(this.lanes[i]!) << BigInt(32 * (7 - i));
      this.lanes[i] = 0;
    }
    this.total = t % MOD;
    this.pending = 0;
  }

  get value(): bigint {
    this.fold();
    return this.total;
  }
}
