/**
 * Verifying a block by re-execution: what a follower does with every block it receives, and
 * what `perpnode replay`/the bench's --replay measure. A block is accepted only if its
 * signature verifies against the genesis key, it links to our head, and rebuilding it from its
 * transactions with the sequencer's own block builder (chain/block-builder.ts) gives the same
 * receipts, state root, commitments and block hash. On any mismatch nothing is written.
 */
import { parseTx, txSignature } from '../../contracts-ts/index.ts';
import { verify } from '../crypto/index.ts';
import type { Db, DbOp, FinalizedState, WorldState } from '../state/index.ts';
import { receiptToJson, type Block, type Receipt } from './block.ts';
import { BlockBuilder, InvariantViolation, type SealedBlock } from './block-builder.ts';
import { headerTemplate, type Genesis } from './genesis.ts';
import { blockHash, type BlockHeader } from './header.ts';
import { ChainStore } from './store.ts';
import { writeBatch } from '../storage/db.ts';

export class BlockRejected extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'BlockRejected';
  }
}

const hex = (x: bigint) => '0x' + x.toString(16);

export interface ReplayResult {
  state: FinalizedState;
  ops: DbOp[];
}

export interface ReplayOptions {
  /** Signature check for transactions (a cache or worker pool); defaults to crypto.verify. */
  verifier?: (msgHash: bigint, starkKey: bigint, sig: readonly [bigint, bigint]) => boolean;
  /** When given, replayBlock/importBlock add where the time went (milliseconds; instrumentation only). */
  timing?: ReplayTiming;
}

/** Accumulated replay time (wall clock, milliseconds), e.g. for the benchmark's --replay. */
export interface ReplayTiming {
  blocks: number;
  /** Block signature, hash and header checks. */
  headerMs: number;
  /** Parsing, tx hashes and re-execution (including transaction signature checks). */
  execMs: number;
  /** Invariants and the state commit (trie hashing). */
  trieMs: number;
  /** Commitments and state diff checks. */
  commitmentsMs: number;
  /** The LevelDB batch (importBlock). */
  commitMs: number;
}

export function newReplayTiming(): ReplayTiming {
  return { blocks: 0, headerMs: 0, execMs: 0, trieMs: 0, commitmentsMs: 0, commitMs: 0 };
}

/** Checks and re-executes `block` on top of `parent`; returns what to write. Throws BlockRejected. */
export async function replayBlock(block: Block, parent: { hash: bigint; header: BlockHeader }, world: WorldState, g: Genesis, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const h = block.header;
  const tm = opts.timing;
  const t0 = tm ? performance.now() : 0;
  if (!verify(block.hash, g.sequencer.publicKey, block.signature)) throw new BlockRejected('bad_signature', `block ${h.block_number}: sequencer signature does not verify`);
  if (blockHash(h) !== block.hash) throw new BlockRejected('bad_hash', `block ${h.block_number}: header does not hash to ${hex(block.hash)}`);
  if (h.block_number !== parent.header.block_number + 1n) throw new BlockRejected('not_next', `block ${h.block_number} does not follow head ${parent.header.block_number}`);
  if (h.parent_hash !== parent.hash) throw new BlockRejected('bad_parent', `block ${h.block_number}: parent ${hex(h.parent_hash)} is not our head ${hex(parent.hash)}`);
  if (h.timestamp < parent.header.timestamp) throw new BlockRejected('bad_timestamp', `block ${h.block_number}: timestamp goes backwards`);
  const t = headerTemplate(g);
  for (const k of Object.keys(t) as (keyof typeof t)[])
    if (JSON.stringify(t[k], (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) !== JSON.stringify(h[k], (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))
      throw new BlockRejected('bad_header', `block ${h.block_number}: ${k} differs from this chain's`);
  if (block.transactions.length !== block.receipts.length) throw new BlockRejected('bad_body', `block ${h.block_number}: ${block.transactions.length} transactions but ${block.receipts.length} receipts`);

  const t1 = tm ? performance.now() : 0;
  const builder = BlockBuilder.open(world, g, parent, h.timestamp, opts.verifier ?? ((m, k, s) => verify(m, k, s)));
  for (let i = 0; i < block.transactions.length; i++) {
    const ct = block.transactions[i]!;
    let tx;
    try {
      tx = parseTx(ct.body);
    } catch (e) {
      throw new BlockRejected('bad_tx', `block ${h.block_number} tx ${i}: ${(e as Error).message}`);
    }
    const sameBody = (hash: bigint) => {
      if (hash !== ct.hash) throw new BlockRejected('bad_tx_hash', `block ${h.block_number} tx ${i}: hash ${hex(ct.hash)} but the body hashes to ${hex(hash)}`);
      const sig = txSignature(tx);
      if (sig.length !== ct.signature.length || sig.some((x, j) => x !== ct.signature[j])) throw new BlockRejected('bad_tx_signature', `block ${h.block_number} tx ${i}: signature field differs from the body's`);
    };
    let receipt: Receipt;
    try {
      receipt = builder.add(tx, sameBody).receipt;
    } catch (e) {
      if (e instanceof BlockRejected) throw e;
      throw new BlockRejected('tx_failed', `block ${h.block_number} tx ${i} (${hex(ct.hash)}) fails on re-execution: ${(e as Error).message}`);
    }
    if (JSON.stringify(receiptToJson(receipt)) !== JSON.stringify(receiptToJson(block.receipts[i]!))) throw new BlockRejected('bad_receipt', `block ${h.block_number} tx ${i}: receipt differs on re-execution`);
  }
  const t2 = tm ? performance.now() : 0;
  let t3 = t2;
  let sealed: SealedBlock;
  try {
    sealed = await builder.seal((phase) => void (phase === 'commitments' && tm && (t3 = performance.now())));
  } catch (e) {
    if (e instanceof InvariantViolation) throw new BlockRejected('invariant', e.message);
    throw e;
  }
  const state = sealed.state;
  // Import = rebuild and compare: the root, then each commitment (named), then the whole header.
  if (state.root !== h.new_root) throw new BlockRejected('bad_state_root', `block ${h.block_number}: re-execution gives state root ${hex(state.root)}, header says ${hex(h.new_root)}`);
  const r = sealed.header;
  const checks: [string, bigint, bigint][] = [
    ['transaction_commitment', r.transaction_commitment, h.transaction_commitment],
    ['event_commitment', r.event_commitment, h.event_commitment],
    ['receipt_commitment', r.receipt_commitment, h.receipt_commitment],
    ['transaction_count', r.transaction_count, h.transaction_count],
    ['event_count', r.event_count, h.event_count],
    ['state_diff_commitment', r.state_diff_commitment, h.state_diff_commitment],
    ['state_diff_length', r.state_diff_length, h.state_diff_length],
  ];
  for (const [name, got, want] of checks) if (got !== want) throw new BlockRejected('bad_commitment', `block ${h.block_number}: ${name} recomputed ${hex(got)}, header says ${hex(want)}`);
  if (sealed.hash !== block.hash) throw new BlockRejected('bad_header', `block ${h.block_number}: the rebuilt header hashes to ${hex(sealed.hash)}, not ${hex(block.hash)}`);
  if (tm) {
    tm.blocks++;
    tm.headerMs += t1 - t0;
    tm.execMs += t2 - t1;
    tm.trieMs += t3 - t2;
    tm.commitmentsMs += performance.now() - t3;
  }
  return { state, ops: [...state.ops, ...ChainStore.blockOps(block, state)] };
}

/** Replays and commits one block in a single sync batch. */
export async function importBlock(db: Db, block: Block, parent: { hash: bigint; header: BlockHeader }, world: WorldState, g: Genesis, opts: ReplayOptions = {}): Promise<void> {
  const r = await replayBlock(block, parent, world, g, opts);
  const t0 = opts.timing ? performance.now() : 0;
  await writeBatch(db, r.ops, { sync: true });
  if (opts.timing) opts.timing.commitMs += performance.now() - t0;
  r.state.apply();
}
