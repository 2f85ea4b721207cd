/** Field-element helpers shared by every layer: parsing, formatting, short strings. */

/** The STARK field prime p = 2^251 + 17·2^192 + 1. */
export const P = 2n ** 251n + 17n * 2n ** 192n + 1n;
/** Curve order of the STARK curve (signature scalars live below it). */
export const CURVE_ORDER = 0x800000000000010ffffffffffffffffb781126dcae7b2321e66a241adc64d2fn;
/** Messages signed with STARK ECDSA must be below 2^251. */
export const MAX_MSG = 2n ** 251n;

export class FeltError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeltError';
  }
}

export function isFelt(x: bigint): boolean {
  return x >= 0n && x < P;
}

export function assertFelt(x: bigint, what = 'value'): bigint {
  if (typeof x !== 'bigint') throw new FeltError(`${what} must be a bigint`);
  if (!isFelt(x)) throw new FeltError(`${what} is not a field element (0 <= x < p)`);
  return x;
}

const HEX_RE = /^0x[0-9a-fA-F]{1,64}$/;
const DEC_RE = /^[0-9]{1,78}$/;

/**
 * Parses a felt from a 0x-hex string, a decimal string, a safe integer number or a bigint.
 * Anything else, or a value outside the field, throws a FeltError naming `what`.
 */
export function parseFelt(v: unknown, what = 'value'): bigint {
  let x: bigint;
  if (typeof v === 'bigint') x = v;
  else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new FeltError(`${what} must be a non-negative integer`);
    x = BigInt(v);
  } else if (typeof v === 'string') {
    if (HEX_RE.test(v) || DEC_RE.test(v)) x = BigInt(v);
    else throw new FeltError(`${what} must be a 0x-prefixed hex or decimal string`);
  } else throw new FeltError(`${what} must be a felt (hex string)`);
  return assertFelt(x, what);
}

/** Canonical felt hex: 0x-prefixed, lowercase, no leading zeros (as Starknet RPC serves). */
export function toHex(x: bigint): string {
  return '0x' + x.toString(16);
}

/** 64-digit zero-padded hex without 0x, for fixed-width keys. */
export function toHex64(x: bigint): string {
  return x.toString(16).padStart(64, '0');
}

/** Encodes an ASCII string of at most 31 characters as a felt (Cairo short string). */
export function encodeShortString(s: string): bigint {
  if (s.length > 31) throw new FeltError(`short string longer than 31 characters: ${s}`);
  let x = 0n;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) throw new FeltError(`short string is not ASCII: ${s}`);
    x = (x << 8n) | BigInt(c);
  }
  return x;
}

export function decodeShortString(x: bigint): string {
  let s = '';
  while (x > 0n) {
    s = String.fromCharCode(Number(x & 0xffn)) + s;
    x >>= 8n;
  }
  return s;
}

const M64 = (1n << 64n) - 1n;

/** Big-endian bytes to bigint; 32-byte inputs (every key and felt here) take four 64-bit reads. */
export function bytesToBigInt(b: Uint8Array): bigint {
  if (b.length === 32) {
    const v = new DataView(b.buffer, b.byteOffset, 32);
    return (v.getBigUint64(0) << 192n) | (v.getBigUint64(8) << 128n) | (v.getBigUint64(16) << 64n) | v.getBigUint64(24);
  }
  let x = 0n;
  for (const byte of b) x = (x << 8n) | BigInt(byte);
  return x;
}

/** A value below 2^256 as 32 big-endian bytes (four 64-bit writes). */
export function bigIntToBytes32(x: bigint): Uint8Array {
  const out = new Uint8Array(32);
  const v = new DataView(out.buffer);
  v.setBigUint64(24, x & M64);
  v.setBigUint64(16, (x >> 64n) & M64);
  v.setBigUint64(8, (x >> 128n) & M64);
  v.setBigUint64(0, (x >> 192n) & M64);
  return out;
}
