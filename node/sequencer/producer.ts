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
 *
 * Pipelining (`ProducerOptions.pipeline`, off by default: on this 2-core machine it does not
 * raise throughput, see bench/README.md "Pipelined block write"): once block N is signed and its ops
 * built, the lock is released while the batch and the signer record are written; block N+1
 * opens on N's in-memory state (held in the world's in-flight layer, see world.ts) and executes
 * transactions meanwhile. Until N is durable nothing of N or N+1 is visible outside: N stays
 * the `openBlock` RPC reads (pre_confirmed), N+1's 'tx' events and acknowledgements wait, and
 * N's 'sealed' event follows the write. N+1's seal, and every other holder of `lock`, first
 * awaits N (its trie commit, order digest, signer guard and signature read what N wrote). A
 * failed write halts the producer and discards N+1 unsigned. The chain is byte-identical either way.
 */
import { EventEmitter } from 'node:events';
import { findLiquidations, proposeFunding, proposeFundingSample, txHash, type ImpactPrices, type PerpTx } from '../../contracts-ts/index.ts';
import { TxRevert, type ExecContext, type StateAccess } from '../../contracts-ts/state.ts';
import { sign, verify } from '../crypto/index.ts';
import type { Block, Receipt } from '../chain/block.ts';
import { BlockBuildError, BlockBuilder, InvariantViolation, type SealedBlock } from '../chain/block-builder.ts';
import { toPair, type Genesis } from '../chain/genesis.ts';
import type { BlockHeader } from '../chain/header.ts';
import { ChainStore } from '../chain/store.ts';
import { checkpointOps } from '../chain/checkpoints.ts';
import type { Logger } from '../log.ts';
import type { Db, DbOp, PendingState, WorldState } from '../state/index.ts';
import { Mutex } from './mutex.ts';
import { signatureJobs } from './verify-pool.ts';
import { ACC } from '../../contracts-ts/layout.ts';
import { writeBatch } from '../storage/db.ts';
import { signerOf } from '../chain/signer-record.ts';
import { orderDigestOp } from '../storage/order-digest.ts';
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
}

/** The block being built, as readers see it (`pre_confirmed`): see chain/block-builder.ts. */
export type OpenBlock = Pick<BlockBuilder, 'number' | 'timestamp' | 'pending' | 'txs' | 'receipts' | 'hashes' | 'ctx'>;

/**
 * What code working in the open block gets (the exchange service, maintenance, refunds): it
 * runs under the producer lock, so nothing else executes or seals meanwhile, and the block it
 * opened stays the block it writes to.
 */
export interface BlockSession {
  /** The open block's number, state (every transaction executed so far) and contract context. */
  readonly number: bigint;
  readonly state: PendingState;
  readonly ctx: ExecContext;
  /** Throws RejectedError unless new transactions may be accepted (halted, shutting down). */
  assertOpenable(): void;
  /** Executes one transaction into the open block; see Producer.executeLocked. */
  execute(tx: PerpTx): { hash: bigint; receipt: Receipt };
  /** Something persisted with the next block changed (a resting order): seal it even without transactions. */
  noteActivity(): void;
  /** Ops written in the same batch as the next block (implies noteActivity). */
  persistWithBlock(ops: DbOp[]): void;
}

/** What another subsystem adds to every seal; registered with `Producer.addSealHooks`. */
export interface SealHooks {
  /** Under the lock, before the system transactions (order expiry). */
  beforeSeal?(s: BlockSession): void;
  /** Ops persisted in the block's batch (the order book's changes). */
  persistOps?(): DbOp[];
  /** Impact bid/ask per market for the funding rate proposal. */
  impactPrices?(): ImpactPrices;
}

export interface ProducerOptions {
  blockTimeMs: number;
  heartbeatMs: number;
  maxBlockTransactions: number;
  /** Bound on transactions waiting for the lock; beyond it submissions are refused. */
  maxQueue: number;
  /** Write each block's batch while the next one executes (default false); see the file comment. */
  pipeline?: boolean;
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
  /** Seal: building the batch and the synchronous LevelDB write (until durable). */
  commitMs: number;
  /** The part of commitMs under the lock (building the ops); pipelined, the write runs after it. */
  commitLockedMs: number;
  /** Whole seal, until durable (pipelined, the lock is released at `commitLockedMs`). */
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

type TxEvent = { hash: bigint; receipt: Receipt; blockNumber: bigint };

/** A block signed and staged whose batch is being written (pipelined seal). */
interface InFlight {
  head: { number: bigint; hash: bigint; header: BlockHeader };
  /** The sealed builder: what `openBlock` shows until the batch is durable. */
  builder: BlockBuilder;
  /** True once published, false if the write failed (the producer halted); never rejects. */
  done: Promise<boolean>;
  /** 'tx' events of the next block, emitted once this one is published (dropped if it fails). */
  deferred: TxEvent[];
}

/**
 * The producer lock as other subsystems take it (maintenance, checkpoints, rollback): it also
 * waits for a block in flight, so they never see the chain between a seal and its durability.
 */
export class ProducerLock {
  constructor(
    private readonly mutex: Mutex,
    private readonly settled: () => Promise<void>,
  ) {}
  get queued(): number {
    return this.mutex.queued;
  }
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.mutex.run(async () => {
      await this.settled();
      return fn();
    });
  }
}

export class Producer extends EventEmitter {
  /** Transaction execution and sealing; does not wait for a block in flight. */
  private readonly mutex = new Mutex();
  readonly lock = new ProducerLock(this.mutex, () => this.settleInFlight());
  private inFlight: InFlight | null = null;
  /** Open blocks dropped unsigned because the block under them failed to write. */
  private readonly discarded = new WeakSet<BlockBuilder>();
  private open: { b: BlockBuilder; openedAtMs: number } | null = null;
  /** A session is running: its open block is not re-stamped under it. */
  private pinned = false;
  private readonly hooks: SealHooks[] = [];
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
  /** What the start-up check is doing while it runs (see runStartupCheck); null once it passed. */
  checking: string | null = null;
  private checkAbort: AbortController | null = null;
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

  /** The block the next one builds on: the one in flight, else the head. */
  private get parent(): { number: bigint; hash: bigint; header: BlockHeader } {
    return this.inFlight?.head ?? this.head;
  }

  /** Resolves once no block is in flight (published or failed). */
  async settleInFlight(): Promise<void> {
    while (this.inFlight) await this.inFlight.done;
  }

  /** After the lock: waits for the block under `b`; throws if `b` was discarded by a failed write. */
  private async acknowledge(b: BlockBuilder | undefined): Promise<void> {
    if (!this.inFlight || this.opts.pipeline !== true) return; // unpipelined: a transaction never executes above a block in flight
    await this.settleInFlight();
    if (b && this.discarded.has(b)) throw new RejectedError('HALTED', `block production is halted: ${this.halted}`);
  }

  /** The open block, created on demand (timestamp fixed when its first transaction arrives). */
  private ensureOpen(): BlockBuilder {
    // An untouched open block is re-stamped, so a block never carries a stale timestamp; never
    // while it is being sealed (system transactions must land in the block being sealed) or
    // while a session works in it.
    if (this.open && (this.sealing || this.pinned || !this.open.b.untouched || this.dirty)) return this.open.b;
    const nowS = BigInt(Math.floor(this.now() / 1000));
    const parent = this.parent;
    const timestamp = nowS > parent.header.timestamp ? nowS : parent.header.timestamp;
    const b = BlockBuilder.open(this.m.world, this.m.genesis, parent, timestamp, (h, k, sig) => {
      const t0 = performance.now();
      const ok = this.sigCache.verify(h, k, sig);
      this.stats.cur.sigChecks++;
      this.stats.cur.sigMs += performance.now() - t0;
      return ok;
    }, this.sigCache.messageHashes); // + the order/cancel hashes the pool computed (contracts-ts/message-hashes.ts)
    this.open = { b, openedAtMs: this.now() };
    return b;
  }

  /** Registers what another subsystem adds to every seal; returns the unregister function. */
  addSealHooks(h: SealHooks): () => void {
    this.hooks.push(h);
    return () => {
      const i = this.hooks.indexOf(h);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /**
   * Runs `f` under the lock with the open block (opened when `f` first touches it). The only way
   * other subsystems write to the chain: see BlockSession.
   */
  async inOpenBlock<T>(f: (s: BlockSession) => T | Promise<T>): Promise<T> {
    this.assertChecked();
    let b: BlockBuilder | undefined;
    const r = await this.mutex.run(async () => {
      const wasPinned = this.pinned;
      this.pinned = true;
      try {
        return await f(this.session());
      } finally {
        this.pinned = wasPinned;
        b = this.open?.b;
      }
    });
    await this.acknowledge(b); // nothing is answered before the block under it is durable
    return r;
  }

  /** The session object for code already under the lock (inOpenBlock, seal hooks). */
  private session(): BlockSession {
    const p = this;
    return {
      get number() {
        return p.ensureOpen().number;
      },
      get state() {
        return p.ensureOpen().pending;
      },
      get ctx() {
        return p.ensureOpen().ctx;
      },
      assertOpenable: () => p.assertOpenable(),
      execute: (tx) => p.executeLocked(tx),
      noteActivity: () => p.noteActivity(),
      persistWithBlock: (ops) => {
        p.queued.push(...ops);
        p.noteActivity();
      },
    };
  }

  /** Warms the head-state cache with entries a coming transaction will read (WorldState.prefetch), off this thread. */
  prefetch(storage: readonly { address: bigint; key: bigint }[], contracts: readonly bigint[] = []): Promise<number> {
    return this.m.world.prefetch(storage, contracts);
  }

  /** State as the next transaction would see it: the open block's, else the head's (read only). */
  readState(): StateAccess {
    return this.open?.b.pending ?? this.m.world.newBlock();
  }

  /**
   * Runs the data directory's start-up check while the node already serves reads: under the
   * lock, so nothing executes, seals, checkpoints or rolls back until it has passed; meanwhile
   * transactions are refused at once (STARTING) instead of waiting. A failure halts production
   * for good (nothing was signed on the unproven state) and is rethrown; `stop()` cancels it.
   * Resolves true when it passed, false when the node stopped first.
   */
  async runStartupCheck(what: string, check: (signal: AbortSignal) => Promise<void>): Promise<boolean> {
    const abort = new AbortController();
    this.checkAbort = abort;
    this.checking = what;
    try {
      await this.mutex.run(() => check(abort.signal));
      return true;
    } catch (e) {
      if (abort.signal.aborted) return false;
      this.halt(`the start-up check failed: ${(e as Error).message}`);
      throw e;
    } finally {
      this.checking = null;
      this.checkAbort = null;
    }
  }

  private assertChecked(): void {
    if (this.checking) throw new RejectedError('STARTING', `the node is starting: ${this.checking}; transactions are accepted once it has passed (see /ready)`);
  }

  /** Throws unless transactions can be accepted now. */
  assertOpenable(): void {
    if (this.stopping) throw new RejectedError('SHUTTING_DOWN', 'the node is shutting down');
    this.assertChecked();
    if (this.halted) throw new RejectedError('HALTED', `block production is halted: ${this.halted}`);
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
  private noteActivity(): void {
    this.ensureOpen();
    this.dirty = true;
  }

  /**
   * The block being built, for `pre_confirmed` reads. While a block's batch is being written
   * that block (the next one executes unseen until it is durable): a transaction moves from
   * here to the store, never back.
   */
  get openBlock(): OpenBlock | null {
    return this.inFlight?.builder ?? this.open?.b ?? null;
  }

  /** The block transactions execute into now (ahead of `openBlock` while a batch is written). */
  get executingBlock(): OpenBlock | null {
    return this.open?.b ?? null;
  }

  /** The block whose batch is being written, if any (its number). */
  get inFlightBlock(): bigint | null {
    return this.inFlight?.head.number ?? null;
  }

  /**
   * Executes one transaction into the open block. Must run under `lock`. Throws TxRevert
   * (rule failure) or RejectedError (duplicate, halted); on any throw nothing changed.
   */
  executeLocked(tx: PerpTx): { hash: bigint; receipt: Receipt } {
    if (this.halted) throw new RejectedError('HALTED', `block production is halted: ${this.halted}`);
    const open = this.ensureOpen();
    const t0 = performance.now();
    const sig0 = this.stats.cur.sigMs;
    let r: { hash: bigint; receipt: Receipt };
    try {
      r = open.add(tx);
    } catch (e) {
      if (e instanceof BlockBuildError) throw new RejectedError(e.code, e.message);
      throw e;
    } finally {
      this.stats.cur.execMs += performance.now() - t0 - (this.stats.cur.sigMs - sig0);
    }
    const { hash, receipt } = r;
    const ev: TxEvent = { hash, receipt, blockNumber: open.number };
    if (this.inFlight) this.inFlight.deferred.push(ev);
    else this.emit('tx', ev);
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
    this.assertChecked();
    if (this.lock.queued >= this.opts.maxQueue) throw new RejectedError('MEMPOOL_FULL', 'too many transactions waiting; retry later');
    const hash = txHash(tx, this.m.genesis.chainId);
    if (await this.m.chain.txLocation(hash)) throw new RejectedError('DUPLICATE_TX', 'transaction already included in a block');
    await this.precheck(tx);
    let b: BlockBuilder | undefined;
    const r = await this.mutex.run(() => {
      const out = this.executeLocked(tx);
      b = this.open?.b;
      return out;
    });
    await this.acknowledge(b);
    return r;
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
  private proposeSystemTxs(open: BlockBuilder): void {
    const cfg = this.m.genesis.exchange;
    try {
      // The premium sample first (every block; only changes are written), then the tick it feeds.
      const impact = this.hooks.find((h) => h.impactPrices)?.impactPrices?.();
      const s = proposeFundingSample(open.pending, cfg, impact);
      if (s) this.trySystem(s);
      const f = proposeFunding(open.pending, cfg, open.ctx);
      if (f) this.trySystem(f);
    } catch (e) {
      this.m.log.warn(`funding proposal failed: ${(e as Error).message}`);
    }
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

  /**
   * Seals the open block (if any, or a heartbeat block when `heartbeat`); resolves with it once
   * it is durable and published (null: nothing sealed, or the producer halted).
   */
  async sealNow(heartbeat = false): Promise<Block | null> {
    const r = await this.mutex.run(() => this.sealLocked(heartbeat));
    if (!r) return null;
    return (await r.done) ? r.block : null;
  }

  private async sealLocked(heartbeat: boolean): Promise<{ block: Block; done: Promise<boolean> } | null> {
    if (this.halted) return null;
    if (!this.open && !heartbeat) return null;
    const open = this.ensureOpen();
    this.sealing = true;
    try {
      const r = await this.sealOpen(open);
      if (r && this.opts.pipeline !== true) await r.done; // unpipelined: durable under the lock
      return r;
    } finally {
      this.sealing = false;
    }
  }

  private async sealOpen(open: BlockBuilder): Promise<{ block: Block; done: Promise<boolean> } | null> {
    const st = this.stats;
    const tSeal = performance.now();
    const exec0 = st.cur.execMs + st.cur.sigMs;
    const session = this.session();
    for (const h of this.hooks) h.beforeSeal?.(session);
    this.proposeSystemTxs(open);
    const tWait = performance.now();
    const systemMs = tWait - tSeal - (st.cur.execMs + st.cur.sigMs - exec0);
    // Block N (in flight) must be durable before this one's trie commit (its new trie nodes),
    // order digest (its order records), signer guard and signature; a failure there halted us.
    // (The wait is N's write: it is counted in N's commit time, not here.)
    await this.settleInFlight();
    if (this.halted) return null;
    const tGuard = performance.now();
    const waitMs = tGuard - tWait;
    let tTrie = tGuard;
    let tCommitments = tGuard;
    let h0 = 0;
    let h1 = 0;
    let sealed: SealedBlock;
    try {
      sealed = await open.seal((phase) => {
        if (phase === 'trie') (tTrie = performance.now()), (h0 = st.hashes());
        else (tCommitments = performance.now()), (h1 = st.hashes());
      });
    } catch (e) {
      if (!(e instanceof InvariantViolation)) throw e;
      this.halt(`invariant violated before signing block ${open.number}: ${e.violations.join('; ')}`);
      return null;
    }
    const { header, hash, state } = sealed;
    const tSign = performance.now();
    const h2 = st.hashes();
    // Never two blocks at one height: the signer record (outside LevelDB) must allow this one.
    const signer = signerOf(this.m.db);
    try {
      signer?.guard(header.block_number, hash);
    } catch (e) {
      this.halt((e as Error).message);
      return null;
    }
    const signature = toPair(sign(hash, this.m.signingKey));
    const tCommit = performance.now();
    const block: Block = { header, hash, signature, transactions: sealed.transactions, receipts: sealed.receipts };
    const ops = [...state.ops, ...ChainStore.blockOps(block, state), ...this.hooks.flatMap((h) => h.persistOps?.() ?? []), ...this.queued];
    const every = BigInt(this.m.genesis.checkpointInterval);
    if (every > 0n && header.block_number % every === 0n)
      ops.push(...checkpointOps({ height: header.block_number, block_hash: hash, state_root: state.root, label: `auto-${header.block_number}`, time: new Date().toISOString() }));
    const tWrite = performance.now();
    const timing = {
      number: header.block_number,
      txs: block.transactions.length,
      sigChecks: st.cur.sigChecks,
      sigMs: st.cur.sigMs,
      execMs: st.cur.execMs,
      systemMs,
      guardMs: tTrie - tGuard,
      trieMs: tCommitments - tTrie,
      commitmentsMs: tSign - tCommitments,
      signMs: tCommit - tSign,
      commitLockedMs: tWrite - tCommit,
      trieHashes: h1 - h0,
      commitmentHashes: h2 - h1,
    };
    const hEnd = st.hashes();
    const hashes = hEnd - st.cur.hashStart;
    st.cur = { sigChecks: 0, sigMs: 0, execMs: 0, hashStart: hEnd };
    // The block becomes the one the next builds on; the lock can go.
    const staged = state.stage();
    const newHead = { number: header.block_number, hash, header };
    this.open = null;
    this.dirty = false;
    this.sealQueued = false;
    this.queued = [];
    this.lastSealMs = this.now();
    const inFlight: InFlight = { head: newHead, builder: open, done: null as unknown as Promise<boolean>, deferred: [] };
    const write = async (): Promise<boolean> => {
      try {
        // The order digest reads the previous block's order records: durable (this block's seal
        // awaited it), and this block's batch is not written yet.
        const orderDigest = await orderDigestOp(this.m.db, ops);
        if (orderDigest) ops.push(orderDigest);
        await writeBatch(this.m.db, ops, { sync: true });
      } catch (e) {
        this.failInFlight(staged, `block ${header.block_number} could not be written (${(e as Error).message}); not publishing it`);
        return false;
      }
      staged.durable(); // LevelDB holds the block: the in-flight layer goes
      try {
        signer?.advance(header.block_number, hash); // durable before the block is published
      } catch (e) {
        this.failInFlight(null, `block ${header.block_number} is committed but its signer record could not be written (${(e as Error).message}); not publishing it`);
        return false;
      }
      const tEnd = performance.now();
      st.push({ ...timing, commitMs: tEnd - tCommit, sealMs: tEnd - tSeal - waitMs, hashes });
      this.head = newHead;
      this.inFlight = null;
      this.m.log.debug(`block ${header.block_number} ${'0x' + hash.toString(16)} txs=${block.transactions.length} root=0x${state.root.toString(16)}`);
      this.m.chain.events.emit({ type: 'sealed', block });
      for (const ev of inFlight.deferred) this.emit('tx', ev); // the next block's transactions, now that this one is out
      return true;
    };
    this.inFlight = inFlight;
    inFlight.done = write();
    return { block, done: inFlight.done };
  }

  /**
   * The block in flight failed (write or signer record): halt, drop the open block built on it
   * unsigned (its transactions are refused to their senders), put the head state back.
   */
  private failInFlight(staged: { abort(): void } | null, reason: string): void {
    if (this.inFlight) this.discarded.add(this.inFlight.builder); // its transactions are not acknowledged either
    if (this.open) this.discarded.add(this.open.b);
    staged?.abort();
    this.open = null;
    this.inFlight = null;
    this.halt(reason);
  }

  /** Stops production for good (until an operator acts): nothing more is signed. */
  halt(reason: string): void {
    if (this.halted) return;
    this.halted = reason;
    if (this.open) this.discarded.add(this.open.b);
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
        const busy = this.open && (this.open.b.txs.length > 0 || this.dirty);
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
    this.checkAbort?.abort(new Error('the node stopped before its start-up check finished'));
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.lock.run(async () => {
      if (this.open && (this.open.b.txs.length > 0 || this.dirty) && !this.halted) await (await this.sealLocked(false))?.done;
    });
    await this.settleInFlight();
  }
}

export { verify };
