/**
 * Reading and writing the chain tables. Writes are returned as ops so that the caller puts a
 * whole block — header, signature, body, indexes, state, head pointer — in ONE batch.
 */
import type { Db, DbOp } from '../state/index.ts';
import { decodeJson, encodeJson, feltKey, metaKey, Tag, u64Key, bytesToBigInt, bigIntToBytes32 } from '../storage/schema.ts';
import { blockFromJson, blockToJson, chainTxFromJson, headerFromJson, headerToJson, receiptFromJson, receiptToJson, chainTxToJson, type Block, type ChainTx, type Receipt } from './block.ts';
import type { BlockHeader } from './header.ts';
import { ChainEvents } from './events.ts';
import { reverseDiffFromJson, reverseDiffToJson, type FinalizedState, type ReverseDiff } from '../state/world.ts';

export interface Head {
  number: bigint;
  hash: bigint;
}

export class ChainStore {
  /** Where the head moves (seal, import, rollback): see chain/events.ts. */
  readonly events = new ChainEvents();

  constructor(readonly db: Db) {}

  async head(): Promise<Head | undefined> {
    const raw = await this.db.get(metaKey('head'));
    if (!raw) return undefined;
    const j = decodeJson(raw);
    return { number: BigInt(j.number), hash: BigInt(j.hash) };
  }

  async header(n: bigint): Promise<{ header: BlockHeader; hash: bigint } | undefined> {
    const raw = await this.db.get(u64Key(Tag.header, n));
    if (!raw) return undefined;
    const j = decodeJson(raw);
    return { header: headerFromJson(j.header), hash: BigInt(j.hash) };
  }

  async numberOf(hash: bigint): Promise<bigint | undefined> {
    const raw = await this.db.get(feltKey(Tag.hashIndex, hash));
    return raw ? bytesToBigInt(raw) : undefined;
  }

  async signature(n: bigint): Promise<[bigint, bigint] | undefined> {
    const raw = await this.db.get(u64Key(Tag.signature, n));
    if (!raw) return undefined;
    const j = decodeJson(raw);
    return [BigInt(j[0]), BigInt(j[1])];
  }

  async body(n: bigint): Promise<{ transactions: ChainTx[]; receipts: Receipt[] } | undefined> {
    const raw = await this.db.get(u64Key(Tag.body, n));
    if (!raw) return undefined;
    const j = decodeJson(raw);
    return { transactions: j.transactions.map(chainTxFromJson), receipts: j.receipts.map(receiptFromJson) };
  }

  async block(n: bigint): Promise<Block | undefined> {
    const [h, sig, body] = await Promise.all([this.header(n), this.signature(n), this.body(n)]);
    if (!h || !sig || !body) return undefined;
    return { header: h.header, hash: h.hash, signature: sig, ...body };
  }

  async txLocation(hash: bigint): Promise<{ block_number: bigint; index: number } | undefined> {
    const raw = await this.db.get(feltKey(Tag.txIndex, hash));
    if (!raw) return undefined;
    const j = decodeJson(raw);
    return { block_number: BigInt(j.block_number), index: j.index };
  }

  async stateDiff(n: bigint): Promise<any | undefined> {
    const raw = await this.db.get(u64Key(Tag.stateDiff, n));
    return raw ? decodeJson(raw) : undefined;
  }

  /** The contracts and classes trie roots after block n (for proofs and historical reads). */
  async roots(n: bigint): Promise<{ contractsRoot: bigint; classesRoot: bigint } | undefined> {
    const raw = await this.db.get(u64Key(Tag.blockRoots, n));
    if (!raw) return undefined;
    const j = decodeJson(raw);
    return { contractsRoot: BigInt(j.contracts_root), classesRoot: BigInt(j.classes_root) };
  }

  async reverseDiff(n: bigint): Promise<ReverseDiff | undefined> {
    const raw = await this.db.get(u64Key(Tag.reverseDiff, n));
    return raw ? reverseDiffFromJson(decodeJson(raw)) : undefined;
  }

  /** Ops writing a sealed block and moving the head to it. */
  static blockOps(b: Block, state: Pick<FinalizedState, 'stateDiff' | 'reverseDiff' | 'contractsRoot' | 'classesRoot'>): DbOp[] {
    const { stateDiff, reverseDiff: reverse } = state;
    const n = b.header.block_number;
    const ops: DbOp[] = [
      { type: 'put', key: u64Key(Tag.blockRoots, n), value: encodeJson({ contracts_root: state.contractsRoot, classes_root: state.classesRoot }) },
      { type: 'put', key: u64Key(Tag.header, n), value: encodeJson({ header: headerToJson(b.header), hash: b.hash }) },
      { type: 'put', key: feltKey(Tag.hashIndex, b.hash), value: bigIntToBytes32(n) },
      { type: 'put', key: u64Key(Tag.signature, n), value: encodeJson(b.signature) },
      { type: 'put', key: u64Key(Tag.body, n), value: encodeJson({ transactions: b.transactions.map(chainTxToJson), receipts: b.receipts.map(receiptToJson) }) },
      { type: 'put', key: u64Key(Tag.stateDiff, n), value: encodeJson(stateDiff) },
      { type: 'put', key: u64Key(Tag.reverseDiff, n), value: encodeJson(reverseDiffToJson(reverse)) },
    ];
    b.transactions.forEach((t, index) => ops.push({ type: 'put', key: feltKey(Tag.txIndex, t.hash), value: encodeJson({ block_number: n, index }) }));
    ops.push({ type: 'put', key: metaKey('head'), value: encodeJson({ number: n, hash: b.hash }) });
    return ops;
  }

  /** Ops removing block n from the canonical tables (rollback); the caller archives it first. */
  static unlinkOps(b: Block): DbOp[] {
    const n = b.header.block_number;
    const ops: DbOp[] = [
      { type: 'del', key: u64Key(Tag.header, n) },
      { type: 'del', key: feltKey(Tag.hashIndex, b.hash) },
      { type: 'del', key: u64Key(Tag.signature, n) },
      { type: 'del', key: u64Key(Tag.body, n) },
      { type: 'del', key: u64Key(Tag.stateDiff, n) },
      { type: 'del', key: u64Key(Tag.reverseDiff, n) },
      { type: 'del', key: u64Key(Tag.blockRoots, n) },
    ];
    for (const t of b.transactions) ops.push({ type: 'del', key: feltKey(Tag.txIndex, t.hash) });
    return ops;
  }

  static orphanOps(b: Block, reason: unknown): DbOp[] {
    const ops: DbOp[] = [{ type: 'put', key: feltKey(Tag.orphan, b.hash), value: encodeJson({ block: blockToJson(b), reason }) }];
    for (const t of b.transactions) ops.push({ type: 'put', key: feltKey(Tag.orphanTx, t.hash), value: bigIntToBytes32(b.hash) });
    return ops;
  }

  /** A rolled-back block kept for audit, with why it was rolled back. */
  async orphan(hash: bigint): Promise<{ block: Block; reason: any } | undefined> {
    const raw = await this.db.get(feltKey(Tag.orphan, hash));
    if (!raw) return undefined;
    const j = decodeJson(raw);
    return { block: blockFromJson(j.block), reason: j.reason };
  }

  /** The orphaned block that held a rolled-back transaction. */
  async orphanedTx(txHash: bigint): Promise<bigint | undefined> {
    const raw = await this.db.get(feltKey(Tag.orphanTx, txHash));
    return raw ? bytesToBigInt(raw) : undefined;
  }
}
