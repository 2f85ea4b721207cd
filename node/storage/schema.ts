/**
 * The whole LevelDB schema of a perpnode data directory, in one place: every table is declared
 * once below (`Tables`, and the named records of table M in `Meta`) with its tag byte, its key
 * layout, its value codec and what it means. Modules read and write the database only through
 * these declarations; no other module builds a key or encodes a value for LevelDB.
 *
 * Keys are bytes: one ASCII tag byte then fixed-width big-endian fields, so that ranges
 * iterate in numeric order. Values are compact binary (trie nodes, felts) or UTF-8 JSON with
 * felts as 0x-hex strings (everything else). Every table written for a block is written in
 * that block's single atomic batch; the head pointer moves in the same batch.
 *
 * The bytes are the format's contract: a codec here may only change together with a numbered
 * migration (migrations.ts) and a SCHEMA_VERSION bump.
 */
import { bigIntToBytes32, bytesToBigInt } from '../crypto/index.ts';
import { decodeNode, encodeNode, readFelt, writeFelt } from '../trie/codec.ts';
import type { TrieNode } from '../trie/types.ts';
import { blockFromJson, blockToJson, chainTxFromJson, chainTxToJson, headerFromJson, headerToJson, receiptFromJson, receiptToJson, type Block, type ChainTx, type Receipt } from '../chain/block.ts';
import type { BlockHeader } from '../chain/header.ts';
import { recordFromJson as orderFromJson, recordToJson as orderToJson } from '../sequencer/orderbook/json.ts';
import type { OrderRecord } from '../sequencer/orderbook/types.ts';
import type { ContractRecord, ReverseDiff } from '../state/world.ts';
import type { RollbackIntent, certificateToJson } from '../chain/rollback.ts';
import type { Checkpoint } from '../chain/checkpoints.ts';
import type { Db, DbOp } from './db.ts';

/**
 * The layout version this code writes. A directory at an older version is migrated at open
 * (migrations.ts); one at a newer version is refused.
 */
export const SCHEMA_VERSION = 1;

export type Key = Uint8Array;

// ---- value codecs ------------------------------------------------------------------------------

export interface Codec<T> {
  encode(v: T): Uint8Array;
  decode(b: Uint8Array): T;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const hex = (x: bigint) => '0x' + x.toString(16);

/** JSON with bigints written as 0x-hex strings; readers parse felts explicitly. */
export function encodeJson(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? '0x' + x.toString(16) : x)));
}

export function decodeJson<T = any>(b: Uint8Array): T {
  return JSON.parse(dec.decode(b)) as T;
}

/** A JSON value with a typed mapping to and from its stored JSON shape. */
function json<T>(to: (v: T) => unknown, from: (j: any) => T): Codec<T> {
  return { encode: (v) => encodeJson(to(v)), decode: (b) => from(decodeJson(b)) };
}

/** A felt (or any value < 2^256) as 32 big-endian bytes. */
const felt32: Codec<bigint> = {
  encode: (x) => {
    const out = new Uint8Array(32);
    writeFelt(new DataView(out.buffer), 0, x);
    return out;
  },
  decode: (b) => bytesToBigInt(b),
};

/** Presence only: the key is the record. */
const empty: Codec<null> = { encode: () => new Uint8Array(0), decode: () => null };

const trieNode: Codec<TrieNode> = { encode: encodeNode, decode: decodeNode };

/** A contract's {class_hash, nonce, storage_root} (tables C and c, and the reverse diff). */
const contractRecord = {
  toJson: (r: ContractRecord) => ({ class_hash: hex(r.classHash), nonce: hex(r.nonce), storage_root: hex(r.storageRoot) }),
  fromJson: (j: { class_hash: string; nonce: string; storage_root: string }): ContractRecord => ({ classHash: BigInt(j.class_hash), nonce: BigInt(j.nonce), storageRoot: BigInt(j.storage_root) }),
};

const reverseDiff = json<ReverseDiff>(
  (r) => ({
    storage: r.storage,
    contracts: r.contracts.map((c) => ({ address: c.address, prev: c.prev ? contractRecord.toJson(c.prev) : null })),
    declared: r.declared,
    roots: r.roots,
  }),
  (j) => ({
    storage: j.storage.map((s: any) => ({ address: BigInt(s.address), key: BigInt(s.key), prev: BigInt(s.prev) })),
    contracts: j.contracts.map((c: any) => ({ address: BigInt(c.address), prev: c.prev ? contractRecord.fromJson(c.prev) : null })),
    declared: j.declared.map((d: any) => ({ class_hash: BigInt(d.class_hash), prev: d.prev === null ? null : BigInt(d.prev) })),
    roots: { contracts_root: BigInt(j.roots.contracts_root), classes_root: BigInt(j.roots.classes_root) },
  }),
);

/** A state diff as stored and served: the Starknet STATE_DIFF shape with 0x-hex felts. */
export type StateDiffJson = any;
export type CertificateJson = ReturnType<typeof certificateToJson>;

// ---- key layouts -------------------------------------------------------------------------------

export interface KeyLayout<K> {
  encode(tag: number, k: K): Key;
  decode(k: Key): K;
}

/** tag + u64 big-endian (block numbers, sequence numbers). */
const u64: KeyLayout<bigint> = {
  encode(tag, n) {
    const k = new Uint8Array(9);
    k[0] = tag;
    new DataView(k.buffer).setBigUint64(1, n);
    return k;
  },
  decode: (k) => new DataView(k.buffer, k.byteOffset, k.byteLength).getBigUint64(1),
};

/** tag + felt32 (hashes, addresses). The felt is written in place (no intermediate array). */
const felt: KeyLayout<bigint> = {
  encode(tag, x) {
    const k = new Uint8Array(33);
    k[0] = tag;
    writeFelt(new DataView(k.buffer), 1, x);
    return k;
  },
  decode: (k) => readFelt(new DataView(k.buffer, k.byteOffset, k.byteLength), 1),
};

/** tag + felt32 + felt32. */
function feltPair<A extends string, B extends string>(a: A, b: B): KeyLayout<{ [P in A | B]: bigint }> {
  return {
    encode(tag, k) {
      const out = new Uint8Array(65);
      out[0] = tag;
      const v = new DataView(out.buffer);
      writeFelt(v, 1, (k as Record<string, bigint>)[a]!);
      writeFelt(v, 33, (k as Record<string, bigint>)[b]!);
      return out;
    },
    decode(k) {
      const v = new DataView(k.buffer, k.byteOffset, k.byteLength);
      return { [a]: readFelt(v, 1), [b]: readFelt(v, 33) } as { [P in A | B]: bigint };
    },
  };
}

/** tag + UTF-8 name (table M's named records). */
const nameKey: KeyLayout<string> = {
  encode(tag, s) {
    const b = enc.encode(s);
    const k = new Uint8Array(1 + b.length);
    k[0] = tag;
    k.set(b, 1);
    return k;
  },
  decode: (k) => dec.decode(k.subarray(1)),
};

// ---- tables ------------------------------------------------------------------------------------

export type Range = { gte?: Key; gt?: Key; lte?: Key; lt?: Key; reverse?: boolean; limit?: number };
type Reader = Pick<Db, 'get' | 'iterator'>;

/** One LevelDB table: every key starts with `tag`. */
export class Table<K, V> {
  constructor(
    readonly name: string,
    readonly tag: number,
    readonly layout: KeyLayout<K>,
    readonly codec: Codec<V>,
    /** What the table holds, one line (docs/architecture.md lists the same). */
    readonly meaning: string,
  ) {}

  key(k: K): Key {
    return this.layout.encode(this.tag, k);
  }
  decodeKey(k: Key): K {
    return this.layout.decode(k);
  }
  encode(v: V): Uint8Array {
    return this.codec.encode(v);
  }
  decode(b: Uint8Array): V {
    return this.codec.decode(b);
  }

  async get(db: Pick<Db, 'get'>, k: K): Promise<V | undefined> {
    const raw = await db.get(this.key(k));
    return raw === undefined ? undefined : this.codec.decode(raw);
  }
  put(k: K, v: V): DbOp {
    return { type: 'put', key: this.key(k), value: this.codec.encode(v) };
  }
  /** A put whose value was encoded once for several tables (C and c share a record's bytes). */
  putEncoded(k: K, value: Uint8Array): DbOp {
    return { type: 'put', key: this.key(k), value };
  }
  del(k: K): DbOp {
    return { type: 'del', key: this.key(k) };
  }

  /** [gte, lt) bounds covering every key of the table. */
  all(): { gte: Key; lt: Key } {
    return { gte: Uint8Array.of(this.tag), lt: Uint8Array.of(this.tag + 1) };
  }
  /** Keys from..to inclusive (in key order). */
  between(from: K, to: K, opts: { reverse?: boolean } = {}): Range {
    return { gte: this.key(from), lte: this.key(to), ...opts };
  }

  /** Decoded entries in key order (the whole table unless a range is given). */
  async *entries(db: Reader, range: Range = this.all()): AsyncGenerator<[K, V]> {
    for await (const [k, v] of db.iterator(range)) yield [this.layout.decode(k), this.codec.decode(v)];
  }
  async *values(db: Reader, range: Range = this.all()): AsyncGenerator<V> {
    for await (const [, v] of db.iterator(range)) yield this.codec.decode(v);
  }
  /** Stored bytes [key, value] in key order, `size` at a time (passes over whole tables: one call per batch, nothing decoded). */
  async *rawBatches(db: Pick<Db, 'iterator'>, range: Range = this.all(), size = 1024): AsyncGenerator<[Key, Uint8Array][]> {
    const it = db.iterator(range);
    try {
      for (;;) {
        const batch = await it.nextv(size);
        if (batch.length === 0) return;
        yield batch;
      }
    } finally {
      await it.close();
    }
  }
  async *keys(db: Pick<Db, 'keys'>, range: Range = this.all()): AsyncGenerator<K> {
    for await (const k of db.keys(range)) yield this.layout.decode(k);
  }
}

const table = <K, V>(name: string, tag: string, layout: KeyLayout<K>, codec: Codec<V>, meaning: string) => new Table(name, tag.charCodeAt(0), layout, codec, meaning);

export const Tables = {
  meta: table('meta', 'M', nameKey, { encode: (v: unknown) => encodeJson(v), decode: (b) => decodeJson(b) as unknown }, 'named node records (see Meta): schema version, head, genesis, state roots, rollback and order-book markers'),
  header: table(
    'header',
    'H',
    u64,
    json<{ header: BlockHeader; hash: bigint }>(
      (v) => ({ header: headerToJson(v.header), hash: v.hash }),
      (j) => ({ header: headerFromJson(j.header), hash: BigInt(j.hash) }),
    ),
    'block number -> header and block hash (canonical chain)',
  ),
  hashIndex: table('hashIndex', 'h', felt, felt32, 'block hash -> block number as 32 bytes (canonical blocks only)'),
  signature: table(
    'signature',
    'G',
    u64,
    json<[bigint, bigint]>(
      (s) => s,
      (j) => [BigInt(j[0]), BigInt(j[1])],
    ),
    "block number -> the sequencer's signature [r, s] over the block hash",
  ),
  body: table(
    'body',
    'B',
    u64,
    json<{ transactions: ChainTx[]; receipts: Receipt[] }>(
      (b) => ({ transactions: b.transactions.map(chainTxToJson), receipts: b.receipts.map(receiptToJson) }),
      (j) => ({ transactions: j.transactions.map(chainTxFromJson), receipts: j.receipts.map(receiptFromJson) }),
    ),
    'block number -> transactions and receipts',
  ),
  txIndex: table(
    'txIndex',
    'x',
    felt,
    json<{ block_number: bigint; index: number }>(
      (v) => ({ block_number: v.block_number, index: v.index }),
      (j) => ({ block_number: BigInt(j.block_number), index: j.index }),
    ),
    'transaction hash -> {block_number, index} (canonical transactions)',
  ),
  stateDiff: table(
    'stateDiff',
    'D',
    u64,
    json<StateDiffJson>(
      (d) => d,
      (j) => j,
    ),
    "block number -> the block's state diff (Starknet STATE_DIFF shape)",
  ),
  blockRoots: table(
    'blockRoots',
    'r',
    u64,
    json<{ contractsRoot: bigint; classesRoot: bigint }>(
      (r) => ({ contracts_root: r.contractsRoot, classes_root: r.classesRoot }),
      (j) => ({ contractsRoot: BigInt(j.contracts_root), classesRoot: BigInt(j.classes_root) }),
    ),
    'block number -> contracts and classes trie roots after the block (proofs, historical reads)',
  ),
  reverseDiff: table('reverseDiff', 'R', u64, reverseDiff, "block number -> what undoes the block's state diff (rollback)"),
  trieNode: table('trieNode', 'T', felt, trieNode, 'node hash -> trie node, binary (content-addressed, never deleted: old roots stay readable)'),
  contractState: table(
    'contractState',
    'C',
    felt,
    json<ContractRecord>(contractRecord.toJson, contractRecord.fromJson),
    'contract leaf hash -> contract record {class_hash, nonce, storage_root} (content-addressed)',
  ),
  storage: table('storage', 's', feltPair('address', 'key'), felt32, '(address, key) -> storage value at the head (flat state; absent = 0)'),
  contract: table('contract', 'c', felt, json<ContractRecord>(contractRecord.toJson, contractRecord.fromJson), 'address -> contract record at the head (flat state)'),
  declaredClass: table('declaredClass', 'k', felt, felt32, 'class hash -> compiled class hash (declared classes at the head)'),
  order: table('order', 'O', felt, json<OrderRecord>(orderToJson, orderFromJson), "order hash -> order record (the sequencer's book and order history)"),
  accountOrder: table('accountOrder', 'a', feltPair('account', 'order'), empty, "(account, order hash) -> nothing (an account's orders, for perp_getOrders)"),
  checkpoint: table(
    'checkpoint',
    'P',
    u64,
    json<Checkpoint>(
      (c) => ({ ...c, height: Number(c.height) }),
      (j) => ({ height: BigInt(j.height), block_hash: BigInt(j.block_hash), state_root: BigInt(j.state_root), label: j.label, time: j.time }),
    ),
    'height -> operator checkpoint {block_hash, state_root, label, time}',
  ),
  orphan: table(
    'orphan',
    'X',
    felt,
    json<{ block: Block; reason: any }>(
      (o) => ({ block: blockToJson(o.block), reason: o.reason }),
      (j) => ({ block: blockFromJson(j.block), reason: j.reason }),
    ),
    'block hash -> a rolled-back block and why (kept for audit)',
  ),
  orphanTx: table('orphanTx', 'y', felt, felt32, 'transaction hash -> hash of the orphaned block that held it (RPC answers REJECTED)'),
  rollbackCert: table(
    'rollbackCert',
    'Z',
    u64,
    json<CertificateJson>(
      (c) => c,
      (j) => j,
    ),
    'sequence 0, 1, 2, ... (in the order they happened) -> signed rollback certificate',
  ),
} as const;

/** Every table, in declaration order. */
export const TABLE_LIST: readonly Table<any, any>[] = Object.values(Tables);

/** Tag bytes by table name (tests and raw tools; code goes through Tables). */
export const Tag = Object.fromEntries(TABLE_LIST.map((t) => [t.name, t.tag])) as { readonly [N in keyof typeof Tables]: number };

// ---- the named records of table M --------------------------------------------------------------

export class MetaRecord<V> {
  readonly key: Key;
  constructor(
    readonly name: string,
    readonly codec: Codec<V>,
    readonly meaning: string,
  ) {
    this.key = Tables.meta.key(name);
  }
  async get(db: Pick<Db, 'get'>): Promise<V | undefined> {
    const raw = await db.get(this.key);
    return raw === undefined ? undefined : this.codec.decode(raw);
  }
  put(v: V): DbOp {
    return { type: 'put', key: this.key, value: this.codec.encode(v) };
  }
  del(): DbOp {
    return { type: 'del', key: this.key };
  }
}

const meta = <V>(n: string, codec: Codec<V>, meaning: string) => new MetaRecord(n, codec, meaning);
const bigintJson = json<bigint>(
  (x) => x,
  (j) => BigInt(j),
);

/** meta/genesis. `genesis_digest` and `accounts` are absent in directories made before bulk genesis. */
export interface GenesisRecord {
  chain_id: string;
  block_hash: bigint;
  state_hash: string;
  /** genesisDigest of the file (and its accounts file) the chain was created from, hex. */
  genesis_digest?: string;
  /** Accounts block 0 deployed from the genesis accounts file (their entries are not in block 0's stored state diff). */
  accounts?: number;
}

export const Meta = {
  schemaVersion: meta(
    'schema_version',
    json<number>(
      (v) => v,
      (j) => j,
    ),
    'the layout version of the directory (SCHEMA_VERSION; migrations.ts moves it)',
  ),
  head: meta(
    'head',
    json<{ number: bigint; hash: bigint }>(
      (h) => ({ number: h.number, hash: h.hash }),
      (j) => ({ number: BigInt(j.number), hash: BigInt(j.hash) }),
    ),
    'the head block {number, hash}; moves in the batch that writes the block',
  ),
  genesis: meta(
    'genesis',
    json<GenesisRecord>(
      (g) => ({ chain_id: g.chain_id, block_hash: g.block_hash, state_hash: g.state_hash, genesis_digest: g.genesis_digest, accounts: g.accounts }),
      (j) => ({ chain_id: j.chain_id, block_hash: BigInt(j.block_hash), state_hash: j.state_hash, ...(j.genesis_digest === undefined ? {} : { genesis_digest: j.genesis_digest }), ...(j.accounts === undefined ? {} : { accounts: j.accounts }) }),
    ),
    'which chain the directory holds: chain id, block 0 hash, state hash function; since bulk genesis also the genesis digest (chain/genesis.ts genesisDigest: compared at start instead of rebuilding block 0) and the accounts-file account count (absent in older directories)',
  ),
  stateRoots: meta(
    'state_roots',
    json<{ contracts_root: bigint; classes_root: bigint; flat_digest?: bigint }>(
      (r) => ({ contracts_root: r.contracts_root, classes_root: r.classes_root, flat_digest: r.flat_digest }),
      (j) => ({ contracts_root: BigInt(j.contracts_root), classes_root: BigInt(j.classes_root), flat_digest: j.flat_digest === undefined ? undefined : BigInt(j.flat_digest) }),
    ),
    'the flat state: trie roots at the head and the digest of tables s, c, k',
  ),
  rollbackIntent: meta(
    'rollback_intent',
    json<RollbackIntent>(
      (i) => ({ ...i }),
      (j) => ({ target: BigInt(j.target), target_hash: BigInt(j.target_hash), from: BigInt(j.from), from_hash: BigInt(j.from_hash), state_at: BigInt(j.state_at), reason: j.reason, incident_id: BigInt(j.incident_id), ...(j.certificate ? { certificate: j.certificate } : {}) }),
    ),
    'a rollback in progress (resumed at start)',
  ),
  afterRollback: meta(
    'after_rollback',
    json<{ target: bigint; incident_id: bigint } | null>(
      (v) => v,
      (j) => (j === null ? null : { target: BigInt(j.target), incident_id: BigInt(j.incident_id) }),
    ),
    "a rollback whose order-book clean-up has not run yet (null once it ran)",
  ),
  orderSeq: meta('order_seq', bigintJson, "the order book's next sequence number"),
  orderDigest: meta('order_digest', bigintJson, "digest of table O as of the head's batch (order-digest.ts)"),
} as const;

/** Every key of table a for one account. */
export function accountOrderRange(account: bigint): Range {
  return Tables.accountOrder.between({ account, order: 0n }, { account, order: (1n << 256n) - 1n });
}

export const META_LIST: readonly MetaRecord<any>[] = Object.values(Meta);

// ---- raw helpers (tests and the incident drill write bytes as older versions did) --------------

export function metaKey(n: string): Key {
  return Tables.meta.key(n);
}
export function u64Key(tag: number, n: bigint): Key {
  return u64.encode(tag, n);
}
export function feltKey(tag: number, x: bigint): Key {
  return felt.encode(tag, x);
}
export function storageKey(address: bigint, key: bigint): Key {
  return Tables.storage.key({ address, key });
}

export { bigIntToBytes32, bytesToBigInt };
