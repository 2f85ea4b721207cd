/**
 * Reading and writing the chain tables. Writes are returned as ops so that the caller puts a
 * whole block — header, signature, body, indexes, state, head pointer — in ONE batch.
 * The tables and their codecs are declared in storage/schema.ts.
 */
import type { Db, DbOp } from '../state/index.ts';
import { Meta, Tables, type StateDiffJson } from '../storage/schema.ts';
import type { Block, ChainTx, Receipt } from './block.ts';
import type { BlockHeader } from './header.ts';
import { ChainEvents } from './events.ts';
import type { FinalizedState, ReverseDiff } from '../state/world.ts';

export interface Head {
  number: bigint;
  hash: bigint;
}

export class ChainStore {
  /** Where the head moves (seal, import, rollback): see chain/events.ts. */
  readonly events = new ChainEvents();

  constructor(readonly db: Db) {}

  head(): Promise<Head | undefined> {
    return Meta.head.get(this.db);
  }

  header(n: bigint): Promise<{ header: BlockHeader; hash: bigint } | undefined> {
    return Tables.header.get(this.db, n);
  }

  numberOf(hash: bigint): Promise<bigint | undefined> {
    return Tables.hashIndex.get(this.db, hash);
  }

  signature(n: bigint): Promise<[bigint, bigint] | undefined> {
    return Tables.signature.get(this.db, n);
  }

  body(n: bigint): Promise<{ transactions: ChainTx[]; receipts: Receipt[] } | undefined> {
    return Tables.body.get(this.db, n);
  }

  async block(n: bigint): Promise<Block | undefined> {
    const [h, sig, body] = await Promise.all([this.header(n), this.signature(n), this.body(n)]);
    if (!h || !sig || !body) return undefined;
    return { header: h.header, hash: h.hash, signature: sig, ...body };
  }

  txLocation(hash: bigint): Promise<{ block_number: bigint; index: number } | undefined> {
    return Tables.txIndex.get(this.db, hash);
  }

  stateDiff(n: bigint): Promise<StateDiffJson | undefined> {
    return Tables.stateDiff.get(this.db, n);
  }

  /** The contracts and classes trie roots after block n (for proofs and historical reads). */
  roots(n: bigint): Promise<{ contractsRoot: bigint; classesRoot: bigint } | undefined> {
    return Tables.blockRoots.get(this.db, n);
  }

  reverseDiff(n: bigint): Promise<ReverseDiff | undefined> {
    return Tables.reverseDiff.get(this.db, n);
  }

  /** Ops writing a sealed block and moving the head to it. */
  static blockOps(b: Block, state: Pick<FinalizedState, 'stateDiff' | 'reverseDiff' | 'contractsRoot' | 'classesRoot'>): DbOp[] {
    const n = b.header.block_number;
    const ops: DbOp[] = [
      Tables.blockRoots.put(n, { contractsRoot: state.contractsRoot, classesRoot: state.classesRoot }),
      Tables.header.put(n, { header: b.header, hash: b.hash }),
      Tables.hashIndex.put(b.hash, n),
      Tables.signature.put(n, b.signature),
      Tables.body.put(n, b),
      Tables.stateDiff.put(n, state.stateDiff),
      Tables.reverseDiff.put(n, state.reverseDiff),
    ];
    b.transactions.forEach((t, index) => ops.push(Tables.txIndex.put(t.hash, { block_number: n, index })));
    ops.push(Meta.head.put({ number: n, hash: b.hash }));
    return ops;
  }

  /** Ops removing block n from the canonical tables (rollback); the caller archives it first. */
  static unlinkOps(b: Block): DbOp[] {
    const n = b.header.block_number;
    const ops: DbOp[] = [
      Tables.header.del(n),
      Tables.hashIndex.del(b.hash),
      Tables.signature.del(n),
      Tables.body.del(n),
      Tables.stateDiff.del(n),
      Tables.reverseDiff.del(n),
      Tables.blockRoots.del(n),
    ];
    for (const t of b.transactions) ops.push(Tables.txIndex.del(t.hash));
    return ops;
  }

  static orphanOps(b: Block, reason: unknown): DbOp[] {
    const ops: DbOp[] = [Tables.orphan.put(b.hash, { block: b, reason })];
    for (const t of b.transactions) ops.push(Tables.orphanTx.put(t.hash, b.hash));
    return ops;
  }

  /** A rolled-back block kept for audit, with why it was rolled back. */
  orphan(hash: bigint): Promise<{ block: Block; reason: any } | undefined> {
    return Tables.orphan.get(this.db, hash);
  }

  /** The orphaned block that held a rolled-back transaction. */
  orphanedTx(txHash: bigint): Promise<bigint | undefined> {
    return Tables.orphanTx.get(this.db, txHash);
  }
}
