/**
 * Block production. Transactions execute the moment they arrive, into the OPEN block (the
 * block RPC calls `pre_confirmed`): a wallet learns at once whether its transaction is in, and
 * the matcher settles each fill against exactly the state the block will commit. A
 * transaction that fails a rule is rejected to its sender and never enters a block, so every
 * transaction in a block succeeded (followers reject a block where one does not).
 *
 * Sealing: system transactions (funding, liquidations), invariant guards, then one state
 * commit, the header, the block hash, the sequencer signature (RFC 6979, so the same block
 * always gets the same signature), and ONE synchronous LevelDB batch with the head pointer.
 * Nothing is published before that batch is durable.
 */
import { EventEmitter } from 'node:events';
import { checkInvariants, executeTransaction, findLiquidations, proposeFunding, txHash, txSignature, txToJson, type ImpactPrices, type PerpTx } from '../../contracts-ts/index.ts';
import { TxRevert, type ContractEvent, type ExecContext } from '../../contracts-ts/state.ts';
import { sign, verify } from '../crypto/index.ts';
import { commitments, type Block, type ChainTx, type Receipt } from '../chain/block.ts';
import { execContext, makeHeader, toPair, type Genesis } from '../chain/genesis.ts';
import { blockHash, type BlockHeader } from '../chain/header.ts';
import { ChainStore } from '../chain/store.ts';
import { checkpointOps } from '../chain/checkpoints.ts';
import type { Logger } from '../log.ts';
import type { Db, DbOp, PendingState, WorldState } from '../state/index.ts';
import { Mutex } from './mutex.ts';
import { signatureJobs } from './verify-pool.ts';
import { ACC } from '../../contracts-ts/layout.ts';
import { writeBatch } from '../state/nodestore.ts';
import { SignatureCache } from './sigcache.ts';
import { LiquidationIndex } from './liquidation-index.ts';

export interface ProducerModules {
  db: Db;
  chain: ChainStore;
  world: WorldState;
  genesis: Genesis;
  log: Logger;
  /** Sequencer private key (from genesis on devnet, or a key file). */
  signingKey: bigint;
  /** Milliseconds clock; injectable for tests. Only the producer reads it, never contracts. */
  clock?: () => number;
  /** Extra ops to persist with each sealed block (the order book's changes). */
  extraOps?: () => DbOp[];
  /** Runs under the lock before system transactions at each seal (expiry, triggers). */
  beforeSeal?: () => void;
  /** The book's impact bid/ask per market, for the funding rate proposal. */
  impactPrices?: () => ImpactPrices;
}

export interface OpenBlock {
  number: bigint;
  timestamp: bigint;
  openedAtMs: number;
  pending: PendingState;
  txs: ChainTx[];
  receipts: Receipt[];
  hashes: Set<bigint>;
  ctx: ExecContext;
}

export interface ProducerOptions {
  blockTimeMs: number;
  heartbeatMs: number;
  maxBlockTransactions: number;
  /** Bound on transactions waiting for the lock; beyond it submissions are refused. */
  maxQueue: number;
}

/**
 * Where one block's time went (milliseconds, wall clock; instrumentation only, nothing a block
 * depends on reads it). Execution time excludes the signature checks made inside it.
 */
export interface BlockTiming {
  number: bigint;
  txs: number;
  /** ctx.verify calls and their time (cache hits are cheap; misses verify inline). */
  sigChecks: number;
  sigMs: number;
  /** Transactions executed (wallet and system), excluding signature checks. */
  execMs: number;
  /** Seal: expiry hook, funding and liquidation proposals (their execution is in execMs). */
  systemMs: number;
  /** Seal: invariant guards. */
  guardMs: number;
  /** Seal: state commit (trie hashing, state diff, ops). */
  trieMs: number;
  /** Seal: transaction/event/receipt commitments, state diff commitment, block hash. */
  commitmentsMs: number;
  /** Seal: the sequencer signature. */
  signMs: number;
  /** Seal: building the batch and the synchronous LevelDB write. */
  commitMs: number;
  /** Whole seal (under the lock). */
  sealMs: number;
  /** Hash calls counted by `ProducerStats.hashCounter` (when set): over the block, in the trie commit, in commitments. */
  hashes: number;
  trieHashes: number;
  commitmentHashes: number;
}

/** Per-block timing breakdown (see BlockTiming); `recent` keeps the last `keep` blocks. */
export class ProducerStats {
  readonly recent: BlockTiming[] = [];
  blocks = 0;
  /** Optional hash-call counter (e.g. a counting crypto backend); read at phase boundaries. */
  hashCounter: (() => number) | null = null;
  constructor(readonly keep = 100_000) {}
  /** Accumulators for the open block. @internal */
  cur = { sigChecks: 0, sigMs: 0, execMs: 0, hashStart: 0 };
  /** @internal */
  hashes(): number {
    return this.hashCounter ? this.hashCounter() : 0;
  }
  /** @internal */
  push(t: BlockTiming): void {
    this.blocks++;
    this.recent.push(t);
    if (this.recent.length > this.keep) this.recent.splice(0, this.recent.length - this.keep);
  }
}

export class RejectedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RejectedError';
  }
}

export class Producer extends EventEmitter {
  readonly lock = new Mutex();
  private open: OpenBlock | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private lastSealMs: number;
  /** Book changes not yet persisted: seal after the block time even without transactions. */
  private dirty = false;
  /** An early seal (the open block is full) is already queued. */
  private sealQueued = false;
  /** Which accounts the liquidation scan checks (built at the first seal, rebuilt after a rollback). */
  private liqIndex: LiquidationIndex | null = null;
  /** True while sealLocked runs: the open block is fixed. */
  private sealing = false;
  private queued: DbOp[] = [];
  halted: string | null = null;
  readonly sigCache = new SignatureCache();
  readonly stats = new ProducerStats();
  head!: { number: bigint; hash: bigint; header: BlockHeader };

  private constructor(
    readonly m: ProducerModules,
    readonly opts: ProducerOptions,
  ) {
    super();
    this.lastSealMs = this.now();
  }

  static async create(m: ProducerModules, opts: ProducerOptions): Promise<Producer> {
    const p = new Producer(m, opts);
    const head = await m.chain.head();
    if (!head) throw new Error('no head: initialise the chain with its genesis block first');
    const h = await m.chain.header(head.number);
    if (!h) throw new Error(`head block ${head.number} has no header`);
    p.head = { number: head.number, hash: head.hash, header: h.header };
    return p;
  }

  private now(): number {
    return (this.m.clock ?? Date.now)();
  }

  /** The open block, created on demand (timestamp fixed when its first transaction arrives). */
  private ensureOpen(): OpenBlock {
    // An untouched open block is re-stamped, so a block never carries a stale timestamp; never
    // while it is being sealed (system transactions must land in the block being sealed).
    if (this.open && (this.sealing || this.open.txs.length > 0 || this.dirty || !this.open.pending.isEmpty())) return this.open;
    const number = this.head.number + 1n;
    const nowS = BigInt(Math.floor(this.now() / 1000));
    const timestamp = nowS > this.head.header.timestamp ? nowS : this.head.header.timestamp;
    this.open = {
      number,
      timestamp,
      openedAtMs: this.now(),
      pending: this.m.world.newBlock(),
      txs: [],
      receipts: [],
      hashes: new Set(),
      ctx: execContext(this.m.genesis, number, timestamp, (h, k, sig) => {
        const t0 = performance.now();
        const ok = this.sigCache.verify(h, k, sig);
        this.stats.cur.sigChecks++;
        this.stats.cur.sigMs += performance.now() - t0;
        return ok;
      }),
    };
    return this.open;
  }

  /** Throws unless transactions can be accepted now. */
  assertOpenable(): void {
    if (this.stopping) throw new RejectedError('SHUTTING_DOWN', 'the node is shutting down');
    if (this.halted) throw new RejectedError('HALTED', `block production is halted: ${this.halted}`);
  }

  /** The open block's execution context (opening the block if needed). Under the lock. */
  ensureOpenCtx(): ExecContext {
    return this.ensureOpen().ctx;
  }

  /** The open block's state (opening the block if needed). Under the lock. */
  ensureOpenState(): PendingState {
    return this.ensureOpen().pending;
  }

  /** Ops to write with the next sealed block (maintenance record changes). */
  queueOps(ops: DbOp[]): void {
    this.queued.push(...ops);
  }

  /** Drops the open block unsigned (before a rollback). Under the lock. */
  discardOpen(): void {
    this.open = null;
    this.dirty = false;
    this.queued = [];
  }

  /** Re-reads the head after the chain moved underneath (rollback). Under the lock. */
  async reloadHead(): Promise<void> {
    const head = await this.m.chain.head();
    const h = head && (await this.m.chain.header(head.number));
    if (!head || !h) throw new Error('no head after reload');
    this.head = { number: head.number, hash: head.hash, header: h.header };
    this.open = null;
    this.liqIndex = null;
  }

  /** Something that must be persisted with the next block changed (e.g. a resting order). */
  noteActivity(): void {
    this.ensureOpen();
    this.dirty = true;
  }

  /** The block being built, for `pre_confirmed` reads. */
  get openBlock(): OpenBlock | null {
    return this.open;
  }

  /**
   * Executes one transaction into the open block. Must run under `lock`. Throws TxRevert
   * (rule failure) or RejectedError (duplicate, halted); on any throw nothing changed.
   */
  executeLocked(tx: PerpTx): { hash: bigint; receipt: Receipt } {
    if (this.halted) throw new RejectedError('HALTED', `block production is halted: ${this.halted}`);
    const open = this.ensureOpen();
    const hash = txHash(tx, this.m.genesis.chainId);
    if (open.hashes.has(hash)) throw new RejectedError('DUPLICATE_TX', 'transaction already in the pending block');
    open.pending.beginTx();
    let events: ContractEvent[];
    const t0 = performance.now();
    const sig0 = this.stats.cur.sigMs;
    try {
      events = executeTransaction(tx, open.pending, open.ctx, this.m.genesis.exchange).events;
      open.pending.commitTx();
    } catch (e) {
      open.pending.revertTx();
      throw e;
    } finally {
      this.stats.cur.execMs += performance.now() - t0 - (this.stats.cur.sigMs - sig0);
    }
    const receipt: Receipt = { transaction_hash: hash, events };
    open.txs.push({ hash, signature: txSignature(tx), body: txToJson(tx) });
    open.receipts.push(receipt);
    open.hashes.add(hash);
    this.emit('tx', { hash, receipt, blockNumber: open.number });
    if (open.txs.length >= this.opts.maxBlockTransactions && !this.sealQueued) {
      // one early seal per full block (not one per transaction still waiting for the lock)
      this.sealQueued = true;
      queueMicrotask(() => void this.sealNow().catch((e) => this.m.log.error(`seal failed: ${e}`)));
    }
    return { hash, receipt };
  }

  /** Submits a wallet or oracle transaction: checks it is new, then executes it. */
  async submit(tx: PerpTx): Promise<{ hash: bigint; receipt: Receipt }> {
    if (this.stopping) throw new RejectedError('SHUTTING_DOWN', 'the node is shutting down');
    if (this.lock.queued >= this.opts.maxQueue) throw new RejectedError('MEMPOOL_FULL', 'too many transactions waiting; retry later');
    const hash = txHash(tx, this.m.genesis.chainId);
    if (await this.m.chain.txLocation(hash)) throw new RejectedError('DUPLICATE_TX', 'transaction already included in a block');
    await this.precheck(tx);
    return this.lock.run(() => this.executeLocked(tx));
  }

  /**
   * Verifies a transaction's signatures on the worker pool (when one is attached) before the
   * lock, so execution finds them in the cache and both cores work. Keys come from the head
   * state; a key not known yet (an account deployed in the open block) is checked inline.
   */
  async precheck(tx: PerpTx): Promise<void> {
    const g = this.m.genesis;
    const keyOf = (account: bigint) => this.m.world.getStorage(account, ACC.publicKey) || undefined;
    try {
      await this.sigCache.prepare(signatureJobs(tx, keyOf, g.chainId, g.exchange.bridgeOperator.publicKey));
    } catch (e) {
      this.m.log.debug(`signature pool failed, verifying inline: ${(e as Error).message}`);
    }
  }

  /** System transactions the sequencer proposes at seal time; a failing one is skipped. */
  private proposeSystemTxs(open: OpenBlock): void {
    const cfg = this.m.genesis.exchange;
    const proposals: PerpTx[] = [];
    try {
      const f = proposeFunding(open.pending, cfg, open.ctx, this.m.impactPrices?.());
      if (f) proposals.push(f);
    } catch (e) {
      this.m.log.warn(`funding proposal failed: ${(e as Error).message}`);
    }
    for (const tx of proposals) this.trySystem(tx);
    // Liquidations after funding: funding can push an account under maintenance. The index,
    // brought up to date with the accounts this block wrote, names every account that can be
    // below maintenance (see liquidation-index.ts); the contracts re-check each proposal.
    const index = (this.liqIndex ??= LiquidationIndex.build(open.pending, cfg));
    index.update(open.pending, open.pending.touchedAddresses());
    let rounds = 0;
    while (rounds++ < 8) {
      let liqs: PerpTx[] = [];
      try {
        liqs = findLiquidations(open.pending, cfg, { now: open.ctx.block.timestamp, block: open.number, accounts: index.candidates(open.pending) });
      } catch (e) {
        this.m.log.warn(`liquidation scan failed: ${(e as Error).message}`);
      }
      let applied = 0;
      for (const tx of liqs) if (this.trySystem(tx)) applied++;
      if (applied === 0) break;
      index.update(open.pending, open.pending.touchedAddresses());
    }
  }

  private trySystem(tx: PerpTx): boolean {
    try {
      this.executeLocked(tx);
      return true;
    } catch (e) {
      if (e instanceof TxRevert) this.m.log.debug(`system tx skipped: ${e.code} ${e.message}`);
      else if (e instanceof RejectedError) this.m.log.debug(`system tx skipped: ${e.message}`);
      else throw e;
      return false;
    }
  }

  /** Seals the open block (if any, or a heartbeat block when `heartbeat`). */
  async sealNow(heartbeat = false): Promise<Block | null> {
    return this.lock.run(() => this.sealLocked(heartbeat));
  }

  private async sealLocked(heartbeat: boolean): Promise<Block | null> {
    if (this.halted) return null;
    if (!this.open && !heartbeat) return null;
    const open = this.ensureOpen();
    this.sealing = true;
    try {
      return await this.sealOpen(open);
    } finally {
      this.sealing = false;
    }
  }

  private async sealOpen(open: OpenBlock): Promise<Block | null> {
    const st = this.stats;
    const tSeal = performance.now();
    const exec0 = st.cur.execMs + st.cur.sigMs;
    this.m.beforeSeal?.();
    this.proposeSystemTxs(open);
    const tGuard = performance.now();
    const systemMs = tGuard - tSeal - (st.cur.execMs + st.cur.sigMs - exec0);
    const cfg = this.m.genesis.exchange;
    const violations = checkInvariants(open.pending, cfg, open.pending.touchedAddresses());
    if (violations.length) {
      this.halt(`invariant violated before signing block ${open.number}: ${violations.join('; ')}`);
      return null;
    }
    const tTrie = performance.now();
    const h0 = st.hashes();
    const state = await open.pending.finalize();
    const tCommitments = performance.now();
    const h1 = st.hashes();
    const c = commitments(open.txs, open.receipts);
    const header = makeHeader(this.m.genesis, open.number, this.head.hash, open.timestamp, state, c);
    const hash = blockHash(header);
    const tSign = performance.now();
    const h2 = st.hashes();
    const signature = toPair(sign(hash, this.m.signingKey));
    const tCommit = performance.now();
    const block: Block = { header, hash, signature, transactions: open.txs, receipts: open.receipts };
    const ops = [...state.ops, ...ChainStore.blockOps(block, state), ...(this.m.extraOps?.() ?? []), ...this.queued];
    const every = BigInt(this.m.genesis.checkpointInterval);
    if (every > 0n && header.block_number % every === 0n)
      ops.push(...checkpointOps({ height: header.block_number, block_hash: hash, state_root: state.root, label: `auto-${header.block_number}`, time: new Date().toISOString() }));
    await writeBatch(this.m.db, ops, { sync: true });
    const tEnd = performance.now();
    const hEnd = st.hashes();
    st.push({
      number: header.block_number,
      txs: open.txs.length,
      sigChecks: st.cur.sigChecks,
      sigMs: st.cur.sigMs,
      execMs: st.cur.execMs,
      systemMs,
      guardMs: tTrie - tGuard,
      trieMs: tCommitments - tTrie,
      commitmentsMs: tSign - tCommitments,
      signMs: tCommit - tSign,
      commitMs: tEnd - tCommit,
      sealMs: tEnd - tSeal,
      hashes: hEnd - st.cur.hashStart,
      trieHashes: h1 - h0,
      commitmentHashes: h2 - h1,
    });
    st.cur = { sigChecks: 0, sigMs: 0, execMs: 0, hashStart: hEnd };
    state.apply();
    this.open = null;
    this.dirty = false;
    this.sealQueued = false;
    this.queued = [];
    this.head = { number: header.block_number, hash, header };
    this.lastSealMs = this.now();
    this.m.log.debug(`block ${header.block_number} ${'0x' + hash.toString(16)} txs=${open.txs.length} root=0x${state.root.toString(16)}`);
    this.emit('block', block);
    return block;
  }

  /** Stops production for good (until an operator acts): nothing more is signed. */
  halt(reason: string): void {
    if (this.halted) return;
    this.halted = reason;
    this.open = null; // the unsigned open block is discarded, never committed
    this.m.log.error(`HALTED: ${reason}`);
    this.emit('halt', reason);
  }

  /** Runs the block clock: a block every blockTimeMs while transactions wait, heartbeats otherwise. */
  start(): void {
    const tick = async () => {
      if (this.stopping) return;
      try {
        const now = this.now();
        const busy = this.open && (this.open.txs.length > 0 || this.dirty);
        if (busy && now - this.open!.openedAtMs >= this.opts.blockTimeMs) await this.sealNow();
        else if (!busy && now - this.lastSealMs >= this.opts.heartbeatMs) await this.sealNow(true);
      } catch (e) {
        this.halt(`block production failed: ${(e as Error).stack ?? e}`);
      }
      if (!this.stopping) this.timer = setTimeout(tick, Math.min(50, this.opts.blockTimeMs));
    };
    this.timer = setTimeout(tick, Math.min(50, this.opts.blockTimeMs));
  }

  /** Stops the clock; seals the open block if it holds transactions (finish, never half-write). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.lock.run(async () => {
      if (this.open && (this.open.txs.length > 0 || this.dirty) && !this.halted) await this.sealLocked(false);
    });
  }
}

export { verify };
