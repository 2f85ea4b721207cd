/**
 * The whole LevelDB schema of a perpnode data directory, in one place.
 *
 * Keys are bytes: one ASCII tag byte then fixed-width big-endian fields, so that ranges
 * iterate in numeric order. Values are compact binary (trie nodes) or UTF-8 JSON with felts
 * as 0x-hex strings (everything else). Every table written for a block is written in that
 * block's single atomic batch; the head pointer moves in the same batch.
 */
import { bigIntToBytes32, bytesToBigInt } from '../crypto/index.ts';

/** Bump when the layout changes; a node refuses a data directory with another version. */
export const SCHEMA_VERSION = 1;

export const Tag = {
  /** meta/<name> -> JSON. Names: schema_version, head, genesis, state_roots, rollback_intent, after_rollback. */
  meta: 0x4d, // 'M'
  /** H + u64 number -> header JSON (canonical chain). */
  header: 0x48, // 'H'
  /** h + hash32 -> u64 number (block hash index, canonical blocks only). */
  hashIndex: 0x68, // 'h'
  /** G + u64 number -> sequencer signature JSON [r, s] over the block hash. */
  signature: 0x47, // 'G'
  /** B + u64 number -> body JSON: { transactions, receipts }. */
  body: 0x42, // 'B'
  /** x + txhash32 -> JSON { block_number, index } (canonical transactions). */
  txIndex: 0x78, // 'x'
  /** D + u64 number -> state diff JSON (Starknet STATE_DIFF shape). */
  stateDiff: 0x44, // 'D'
  /** r + u64 number -> {contracts_root, classes_root} after the block (proofs, historical reads). */
  blockRoots: 0x72, // 'r'
  /** R + u64 number -> reverse diff JSON (what undoes the block's state diff). */
  reverseDiff: 0x52, // 'R'
  /** T + hash32 -> trie node (content-addressed, never deleted: old roots stay readable). */
  trieNode: 0x54, // 'T'
  /** C + leafhash32 -> contract state JSON {class_hash, storage_root, nonce} (content-addressed). */
  contractState: 0x43, // 'C'
  /** s + address32 + key32 -> value32 (flat storage at the head). */
  storage: 0x73, // 's'
  /** c + address32 -> JSON {class_hash, nonce, storage_root} (flat contract record at the head). */
  contract: 0x63, // 'c'
  /** k + classhash32 -> compiled class hash (declared classes at the head). */
  declaredClass: 0x6b, // 'k'
  /** O + orderhash32 -> order record JSON (the sequencer's book and order history). */
  order: 0x4f, // 'O'
  /** a + account32 + orderhash32 -> empty (an account's orders, for perp_getOrders). */
  accountOrder: 0x61, // 'a'
  /** P + u64 number -> checkpoint JSON. */
  checkpoint: 0x50, // 'P'
  /** X + hash32 -> orphaned block JSON (rolled back, kept for audit). */
  orphan: 0x58, // 'X'
  /** y + txhash32 -> hash of the orphaned block that held it (RPC answers such txs REJECTED). */
  orphanTx: 0x79, // 'y'
  /** Z + u64 sequence (0, 1, 2, … in the order they happened) -> signed rollback certificate JSON. */
  rollbackCert: 0x5a, // 'Z'
} as const;

export type Key = Uint8Array;

export function metaKey(name: string): Key {
  const s = new TextEncoder().encode(name);
  const k = new Uint8Array(1 + s.length);
  k[0] = Tag.meta;
  k.set(s, 1);
  return k;
}

export function u64Key(tag: number, n: bigint): Key {
  const k = new Uint8Array(9);
  k[0] = tag;
  new DataView(k.buffer).setBigUint64(1, n);
  return k;
}

export function feltKey(tag: number, x: bigint): Key {
  const k = new Uint8Array(33);
  k[0] = tag;
  k.set(bigIntToBytes32(x), 1);
  return k;
}

/** tag + two 32-byte felts. */
function pairKey(tag: number, a: bigint, b: bigint): Key {
  const k = new Uint8Array(65);
  k[0] = tag;
  k.set(bigIntToBytes32(a), 1);
  k.set(bigIntToBytes32(b), 33);
  return k;
}

export function storageKey(address: bigint, key: bigint): Key {
  return pairKey(Tag.storage, address, key);
}

export function accountOrderKey(account: bigint, orderHash: bigint): Key {
  return pairKey(Tag.accountOrder, account, orderHash);
}

/** [gte, lt) bounds of every accountOrder key of one account. */
export function accountOrderRange(account: bigint): { gte: Key; lt: Key } {
  const gte = new Uint8Array(33);
  gte[0] = Tag.accountOrder;
  gte.set(bigIntToBytes32(account), 1);
  const lt = new Uint8Array(65).fill(0xff);
  lt.set(gte, 0);
  return { gte, lt };
}

export function decodeStorageKey(k: Key): { address: bigint; key: bigint } {
  return { address: bytesToBigInt(k.subarray(1, 33)), key: bytesToBigInt(k.subarray(33, 65)) };
}

export function decodeFeltKey(k: Key): bigint {
  return bytesToBigInt(k.subarray(1, 33));
}

export function decodeU64Key(k: Key): bigint {
  return new DataView(k.buffer, k.byteOffset, k.byteLength).getBigUint64(1);
}

/** [gte, lt) bounds covering every key with this tag. */
export function tagRange(tag: number): { gte: Key; lt: Key } {
  return { gte: Uint8Array.of(tag), lt: Uint8Array.of(tag + 1) };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** JSON with bigints written as 0x-hex strings; readers parse felts explicitly. */
export function encodeJson(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? '0x' + x.toString(16) : x)));
}

export function decodeJson<T = any>(b: Uint8Array): T {
  return JSON.parse(dec.decode(b)) as T;
}

export { bigIntToBytes32, bytesToBigInt };
