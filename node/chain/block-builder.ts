/**
 * The one definition of a block: open it on a parent, add transactions, seal it. The sequencer
 * (sequencer/producer.ts) builds every block it signs with this, and a follower imports a block
 * (chain/replay.ts) by rebuilding it from the block's transactions with this and comparing, so a
 * rule added here holds on both sides and cannot fork the chain.
 *
 *   open   — block number = parent + 1, a timestamp not before the parent's, a fresh state
 *            overlay over the head, the execution context the contracts see;
 *   add    — hash the transaction, refuse a duplicate within the block, execute it in its own
 *            journal (all or nothing), record the transaction and its receipt;
 *   seal   — invariant guards, the state commit (trie), the commitments, the header and its hash.
 *
 * What the sequencer adds around it (which transactions, system proposals at seal time, the
 * signature, the batch write) and what a follower adds (signature and header checks, comparing)
 * is policy, not the block.
 */
import { checkInvariants, executeTransaction, txHash, txSignature, txToJson, type PerpTx } from '../../contracts-ts/index.ts';
import type { ContractEvent, ExecContext, MessageHashes } from '../../contracts-ts/state.ts';
import type { FinalizedState, PendingState, WorldState } from '../state/index.ts';
import { commitments, type ChainTx, type Receipt } from './block.ts';
import { execContext, makeHeader, type Genesis } from './genesis.ts';
import { blockHash, type BlockHeader } from './header.ts';

export type Verifier = (msgHash: bigint, starkKey: bigint, sig: readonly [bigint, bigint]) => boolean;

/** The parent a block is built on: its hash and header. */
export interface Parent {
  hash: bigint;
  header: BlockHeader;
}

/** `add` refused a transaction before executing it (nothing changed). */
export class BlockBuildError extends Error {
  constructor(
    readonly code: 'DUPLICATE_TX',
    message: string,
  ) {
    super(message);
    this.name = 'BlockBuildError';
  }
}

/** `seal` found broken invariants: the block must not be signed or accepted. */
export class InvariantViolation extends Error {
  constructor(
    readonly blockNumber: bigint,
    readonly violations: string[],
  ) {
    super(`block ${blockNumber} breaks invariants: ${violations.join('; ')}`);
    this.name = 'InvariantViolation';
  }
}

/** What sealing gives: the header and its hash (unsigned), the committed state and its ops. */
export interface SealedBlock {
  header: BlockHeader;
  hash: bigint;
  transactions: ChainTx[];
  receipts: Receipt[];
  state: FinalizedState;
}

/** Seal phases, for callers that time them (instrumentation only). */
export type SealPhase = 'trie' | 'commitments';

export class BlockBuilder {
  readonly number: bigint;
  readonly pending: PendingState;
  readonly ctx: ExecContext;
  readonly txs: ChainTx[] = [];
  readonly receipts: Receipt[] = [];
  private readonly added = new Set<bigint>();

  private constructor(
    readonly genesis: Genesis,
    readonly parent: Parent,
    readonly timestamp: bigint,
    world: WorldState,
    verifier: Verifier | undefined,
    messageHashes: MessageHashes | undefined,
  ) {
    this.number = parent.header.block_number + 1n;
    this.pending = world.newBlock();
    const ctx = execContext(genesis, this.number, timestamp, verifier);
    this.ctx = messageHashes ? { ...ctx, messageHashes } : ctx;
  }

  /**
   * Opens the block after `parent` at `timestamp` (never before the parent's: throws).
   * `messageHashes`: order/cancel hashes already computed by the signature pool (the sequencer;
   * a follower passes none and the contracts hash): the block is the same either way.
   */
  static open(world: WorldState, genesis: Genesis, parent: Parent, timestamp: bigint, verifier?: Verifier, messageHashes?: MessageHashes): BlockBuilder {
    if (timestamp < parent.header.timestamp) throw new Error(`block ${parent.header.block_number + 1n}: timestamp ${timestamp} is before its parent's ${parent.header.timestamp}`);
    return new BlockBuilder(genesis, parent, timestamp, world, verifier, messageHashes);
  }

  /** Nothing added and no state written yet. */
  get untouched(): boolean {
    return this.txs.length === 0 && this.pending.isEmpty();
  }

  /** Hashes of the transactions in the block. */
  get hashes(): ReadonlySet<bigint> {
    return this.added;
  }

  /**
   * Executes `tx` into the block. `beforeExecute` sees the hash first (an importer compares it
   * with the stored one). Throws BlockBuildError (duplicate), TxRevert (a rule refused it), or
   * what `beforeExecute` throws; on any throw the block is unchanged.
   */
  add(tx: PerpTx, beforeExecute?: (hash: bigint) => void): { hash: bigint; receipt: Receipt } {
    const hash = txHash(tx, this.genesis.chainId);
    beforeExecute?.(hash);
    if (this.added.has(hash)) throw new BlockBuildError('DUPLICATE_TX', 'transaction already in the pending block');
    this.pending.beginTx();
    let events: ContractEvent[];
    try {
      events = executeTransaction(tx, this.pending, this.ctx, this.genesis.exchange).events;
      this.pending.commitTx();
    } catch (e) {
      this.pending.revertTx();
      throw e;
    }
    const receipt: Receipt = { transaction_hash: hash, events };
    this.txs.push({ hash, signature: txSignature(tx), body: txToJson(tx) });
    this.receipts.push(receipt);
    this.added.add(hash);
    return { hash, receipt };
  }

  /** The invariant guards over the accounts this block touched (empty = all hold). */
  violations(): string[] {
    return checkInvariants(this.pending, this.genesis.exchange, this.pending.touchedAddresses());
  }

  /**
   * Guards, state commit, commitments, header and hash. Throws InvariantViolation before
   * committing anything. The state is finalized, not applied: the caller applies it once its
   * batch is durable. `onPhase` marks where each phase starts (timing only).
   */
  async seal(onPhase?: (phase: SealPhase) => void): Promise<SealedBlock> {
    const violations = this.violations();
    if (violations.length) throw new InvariantViolation(this.number, violations);
    onPhase?.('trie');
    const state = await this.pending.finalize();
    onPhase?.('commitments');
    const header = makeHeader(this.genesis, this.number, this.parent.hash, this.timestamp, state, commitments(this.txs, this.receipts));
    return { header, hash: blockHash(header), transactions: this.txs, receipts: this.receipts, state };
  }
}
