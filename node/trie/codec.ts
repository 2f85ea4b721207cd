/**
 * Fixed binary encoding of a trie node (what LevelDB stores under the node's hash):
 *   binary: 0x00 | left:32 | right:32             (65 bytes)
 *   edge:   0x01 | child:32 | path:32 | length:1   (66 bytes)
 * Felts are 32-byte big-endian.
 */
import { TrieError, type TrieNode } from './types.ts';

export const BINARY_TAG = 0;
export const EDGE_TAG = 1;

/** Writes x (< 2^256) as 32 big-endian bytes at `off`. */
export function writeFelt(view: DataView, off: number, x: bigint): void {
  view.setBigUint64(off, x >> 192n);
  view.setBigUint64(off + 8, BigInt.asUintN(64, x >> 128n));
  view.setBigUint64(off + 16, BigInt.asUintN(64, x >> 64n));
  view.setBigUint64(off + 24, BigInt.asUintN(64, x));
}

export function readFelt(view: DataView, off: number): bigint {
  return (
    (view.getBigUint64(off) << 192n) |
    (view.getBigUint64(off + 8) << 128n) |
    (view.getBigUint64(off + 16) << 64n) |
    view.getBigUint64(off + 24)
  );
}

export function encodeNode(n: TrieNode): Uint8Array {
  if (n.kind === 'binary') {
    const out = new Uint8Array(65);
    const v = new DataView(out.buffer);
    out[0] = BINARY_TAG;
    writeFelt(v, 1, n.left);
    writeFelt(v, 33, n.right);
    return out;
  }
  if (!Number.isInteger(n.length) || n.length < 1 || n.length > 255) throw new TrieError(`edge length ${n.length} out of range`);
  const out = new Uint8Array(66);
  const v = new DataView(out.buffer);
  out[0] = EDGE_TAG;
  writeFelt(v, 1, n.child);
  writeFelt(v, 33, n.path);
  out[65] = n.length;
  return out;
}

export function decodeNode(bytes: Uint8Array): TrieNode {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length === 65 && bytes[0] === BINARY_TAG) return { kind: 'binary', left: readFelt(v, 1), right: readFelt(v, 33) };
  if (bytes.length === 66 && bytes[0] === EDGE_TAG) {
    return { kind: 'edge', child: readFelt(v, 1), path: readFelt(v, 33), length: bytes[65]! };
  }
  throw new TrieError(`not an encoded trie node (${bytes.length} bytes, tag ${bytes[0]})`);
}

/** 32-byte big-endian encoding of a felt. */
export function feltBytes(x: bigint): Uint8Array {
  const out = new Uint8Array(32);
  writeFelt(new DataView(out.buffer), 0, x);
  return out;
}
