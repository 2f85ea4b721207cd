/**
 * The pieces of a commit that do not touch a store: the in-flight tree of new nodes, building a
 * subtree from sorted leaves, and hashing new nodes rank by rank (a node's rank is one more than
 * its highest new child), so each rank is one batch call to the crypto backend and every new
 * node is hashed exactly once.
 */
import { backend, P } from '../crypto/index.ts';
import type { HashKind, TrieNode } from './types.ts';

/** BigInt(i) and 2^i - 1, precomputed: shifts and masks are in every step of a walk. */
export const SH: readonly bigint[] = Array.from({ length: 257 }, (_, i) => BigInt(i));
export const MASK: readonly bigint[] = Array.from({ length: 257 }, (_, i) => (1n << BigInt(i)) - 1n);

/** An existing subtree (or a leaf value) whose hash is known; h = 0 is the empty subtree. */
export interface Ref {
  k: 0;
  h: bigint;
}
/** A binary node created by this commit; h is set when its rank is hashed. */
export interface NewBinary {
  k: 1;
  l: Sub;
  r: Sub;
  h: bigint;
}
/** An edge node created by this commit. Its child is never an edge (edges are maximal). */
export interface NewEdge {
  k: 2;
  c: Sub;
  path: bigint;
  len: number;
  h: bigint;
}
export type Sub = Ref | NewBinary | NewEdge;
export type NewNode = NewBinary | NewEdge;

export const EMPTY: Ref = { k: 0, h: 0n };
const UNHASHED = -1n;

export const ref = (h: bigint): Ref => (h === 0n ? EMPTY : { k: 0, h });
export const newBinary = (l: Sub, r: Sub): NewBinary => ({ k: 1, l, r, h: UNHASHED });
export const newEdge = (path: bigint, len: number, c: Sub): NewEdge => ({ k: 2, c, path, len, h: UNHASHED });
export const isEmpty = (s: Sub): boolean => s.k === 0 && s.h === 0n;

/** Number of significant bits of x > 0. */
export function bitLength(x: bigint): number {
  const s = x.toString(16);
  return (s.length - 1) * 4 + (32 - Math.clz32(parseInt(s[0]!, 16)));
}

/** Length of the common prefix of two `len`-bit paths. */
export function commonPrefix(a: bigint, b: bigint, len: number): number {
  const x = a ^ b;
  return x === 0n ? len : len - bitLength(x);
}

/**
 * First index in [lo, hi) whose key has bit 1 at `depth` (hi if none). The keys are sorted and
 * agree on every bit above `depth`, so that bit is 0...0 1...1 over the range.
 */
export function firstWithBit(keys: readonly bigint[], lo: number, hi: number, depth: number, height: number): number {
  const sh = SH[height - 1 - depth]!;
  let a = lo;
  let b = hi;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (((keys[m]! >> sh) & 1n) === 0n) a = m + 1;
    else b = m;
  }
  return a;
}

/**
 * A fresh subtree at `depth` holding the sorted, distinct keys[lo..hi) (all sharing the bits
 * above `depth`) with their non-zero values. Pure: no loads.
 */
export function build(keys: readonly bigint[], vals: readonly bigint[], lo: number, hi: number, depth: number, height: number): Sub {
  if (hi - lo === 1) {
    const len = height - depth;
    const leaf = ref(vals[lo]!);
    return len === 0 ? leaf : newEdge(keys[lo]! & MASK[len]!, len, leaf);
  }
  // The binary node sits at the first bit where the smallest and largest keys differ.
  const split = height - bitLength(keys[lo]! ^ keys[hi - 1]!);
  const mid = firstWithBit(keys, lo, hi, split, height);
  const bin = newBinary(build(keys, vals, lo, mid, split + 1, height), build(keys, vals, mid, hi, split + 1, height));
  const len = split - depth;
  return len === 0 ? bin : newEdge((keys[lo]! >> SH[height - split]!) & MASK[len]!, len, bin);
}

/** Appends the new nodes under `s` to levels[rank]; returns the rank of `s` (0 for a Ref). */
export function collect(s: Sub, levels: NewNode[][]): number {
  if (s.k === 0) return 0;
  let r: number;
  if (s.k === 1) {
    const a = collect(s.l, levels);
    const b = collect(s.r, levels);
    r = (a > b ? a : b) + 1;
  } else r = collect(s.c, levels) + 1;
  (levels[r] ??= []).push(s);
  return r;
}

/** Hashes every node of levels[1..] (rank order), one backend batch call per rank. Returns the count. */
export function hashLevels(kind: HashKind, levels: NewNode[][]): number {
  const be = backend();
  const batch = kind === 'pedersen' ? be.pedersenBatch : be.poseidonBatch;
  let count = 0;
  for (let r = 1; r < levels.length; r++) {
    const lvl = levels[r];
    if (!lvl || lvl.length === 0) continue;
    const n = lvl.length;
    const as = new Array<bigint>(n);
    const bs = new Array<bigint>(n);
    for (let i = 0; i < n; i++) {
      const x = lvl[i]!;
      if (x.k === 1) {
        as[i] = x.l.h;
        bs[i] = x.r.h;
      } else {
        as[i] = x.c.h;
        bs[i] = x.path;
      }
    }
    const out = batch.call(be, as, bs);
    for (let i = 0; i < n; i++) {
      const x = lvl[i]!;
      if (x.k === 1) x.h = out[i]!;
      else {
        let h = out[i]! + SH[x.len]!;
        if (h >= P) h -= P;
        x.h = h;
      }
    }
    count += n;
  }
  return count;
}

/** The stored form of a hashed new node. */
export function toTrieNode(x: NewNode): TrieNode {
  return x.k === 1 ? { kind: 'binary', left: x.l.h, right: x.r.h } : { kind: 'edge', child: x.c.h, path: x.path, length: x.len };
}
