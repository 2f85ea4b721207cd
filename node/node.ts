/**
 * A running perpnode: data directory, chain, state, block producer and RPC, wired together
 * with one `modules` object. `openChain` is the shared part every CLI command uses.
 */
import { ChainStore } from './chain/store.ts';
import { buildGenesisBlock, checkDevAccountAddresses, clearGenesisState, createGenesis, genesisDigest, hasFlatState, loadGenesis, type Genesis } from './chain/genesis.ts';
import { flatStateCheck, headCheck } from './chain/verify.ts';
import { finishPendingRollback, listCertificates, type RollbackCertificate } from './chain/rollback.ts';
import { Meta } from './storage/schema.ts';
import { openDataDir, type OpenedDataDir, type OpenMode } from './storage/open.ts';
import { attachSigner, SignerRecord, signerProblem } from './chain/signer-record.ts';
import { orderDigestProblem } from './storage/order-digest.ts';
import { WorldState, type FlatDigestOptions } from './state/index.ts';
import type { Db } from './storage/db.ts';
import type { Logger } from './log.ts';
import { Producer } from './sequencer/producer.ts';
import { Dispatcher } from './rpc/jsonrpc.ts';
import { ADMIN_HTTP_DEFAULTS, bindHttp, closeServer, probePort, PUBLIC_HTTP_DEFAULTS, startHttp, type CallContext, type HttpLimits, type Route } from './rpc/http.ts';
import { createRpc, type RpcOptions } from './rpc/methods.ts';
import type { RpcModules } from './rpc/context.ts';
import { adminMethods, type AdminModules } from './rpc/admin.ts';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { bearerMatches, ensureAdminToken } from './rpc/admin-token.ts';
import { ExchangeService } from './sequencer/exchange.ts';
import { Maintenance } from './sequencer/maintenance.ts';
import { VerifyPool } from './sequencer/verify-pool.ts';
import { loadReplay, OracleFeeder, type FeederSource } from './sequencer/feeder.ts';
import { NodeMetrics } from './metrics/index.ts';
import { healthRoutes } from './metrics/health.ts';
import { watchFollower } from './metrics/follower.ts';
import { statusPageRoutes } from './rpc/status-page/index.ts';
import { getMode } from '../contracts-ts/exchange/modes.ts';
import { liveState } from './rpc/perp.ts';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { CloseStack } from './close-stack.ts';
import { ForwardingDispatcher, startP2P, TRADING_METHODS, type P2POptions, type P2PService } from './p2p/index.ts';
import { defaultP2POptions } from './p2p/options.ts';
import { chainForP2P } from './p2p/chain.ts';

export interface Chain {
  dir: OpenedDataDir;
  db: Db;
  chain: ChainStore;
  world: WorldState;
  genesis: Genesis;
  /**
   * With `stateCheck: 'while-serving'`: the flat-state digest check still to run (the caller
   * runs it before anything executes or is signed; it throws StartupError). Otherwise null.
   */
  flatCheck: ((opts?: FlatDigestOptions) => Promise<void>) | null;
  close(): Promise<void>;
}

/** When the start-up check of the flat state (its digest over every entry) runs; docs/operations.md. */
export type StateCheck = 'before-serving' | 'while-serving';

const refused = (e: unknown) =>
  new StartupError(`refusing to start: ${(e as Error).message}. The data directory was not modified; run \`perpnode verify --full\` to see everything that differs, or roll back to a checkpoint.`);

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

const hex = (x: bigint) => '0x' + x.toString(16);

/**
 * Opens (or initialises from genesis) a data directory and checks it before anything serves:
 * the genesis must be the one the directory was made with, and the head must pass quickCheck.
 * `mode` (storage/open.ts): 'create' may initialise a new chain (start), 'existing' needs a
 * perpnode data directory, 'readonly' also never writes (no genesis, no rollback resume).
 * `signs` (the sequencer, refunds): the database must hold the newest block this data
 * directory signed (chain/signer-record.ts).
 */
export async function openChain(opts: {
  dataDir: string;
  genesisPath: string;
  log: Logger;
  skipCheck?: boolean;
  /** 'while-serving': return after the head checks, leaving the flat digest in `flatCheck`. */
  stateCheck?: StateCheck;
  mode?: OpenMode;
  signs?: boolean;
  stateCacheEntries?: number;
  /** A new chain with a genesis accounts file: called after each batch with the accounts written. */
  onGenesisProgress?: (accounts: number) => void;
}): Promise<Chain> {
  // Parsed without re-deriving dev-account addresses: a new chain checks them in createGenesis,
  // an existing one compares the file's digest with the one recorded when it was created.
  const genesis = loadGenesis(opts.genesisPath, { trustDevAccounts: true });
  const digest = await genesisDigest(genesis);
  const mode = opts.mode ?? 'create';
  const dir = await openDataDir(opts.dataDir, { mode, log: (line) => opts.log.warn(line) });
  try {
    const db = dir.db;
    const chain = new ChainStore(db);
    const stored = await Meta.genesis.get(db);
    let head = await chain.head();
    if (!head) {
      if (stored || (await chain.header(0n))) throw new StartupError(`refusing to start: the database in ${opts.dataDir} is damaged: it holds a chain but no head pointer (meta/head). Re-sync from a follower.`);
      if (mode !== 'create') throw new StartupError(`${opts.dataDir} is not a perpnode data directory (its database holds no chain); check --data-dir`);
      if (await hasFlatState(db)) throw new StartupError(`refusing to start: ${opts.dataDir} holds the state of an unfinished genesis build (no block 0 was written: the build was interrupted). Remove the directory and start again.`);
      let built;
      try {
        built = await createGenesis(genesis, db, {
          digest,
          onProgress: (n) => {
            opts.log.info(`genesis: ${n} accounts written`);
            opts.onGenesisProgress?.(n);
          },
        });
      } catch (e) {
        await clearGenesisState(db); // nothing of a failed build stays: the next start builds afresh
        throw e;
      }
      const { block, accounts } = built;
      opts.log.info(`initialised ${opts.dataDir} from ${opts.genesisPath}: block 0 ${hex(block.hash)}, state root ${hex(block.header.new_root)}${accounts ? `, ${accounts} accounts from ${genesis.accountsFile!.path}` : ''}, genesis digest ${digest.digest}`);
      head = { number: 0n, hash: block.hash };
    } else {
      if (!stored) throw new StartupError(`refusing to start: the database in ${opts.dataDir} is damaged: its genesis record (meta/genesis) is missing. Re-sync from a follower.`);
      const j = stored;
      if (j.genesis_digest !== undefined) {
        // Block 0 is not rebuilt: the recorded digest of the file it was built from is compared.
        if (j.genesis_digest !== digest.digest)
          throw new StartupError(
            `data directory ${opts.dataDir} belongs to chain ${j.chain_id} (block 0 ${hex(j.block_hash)}) created from genesis digest ${j.genesis_digest}; ${opts.genesisPath} (chain ${genesis.chainIdName}${genesis.accountsFile ? `, accounts file ${genesis.accountsFile.path}` : ''}) has genesis digest ${digest.digest}: not the genesis this directory was created from`,
          );
      } else {
        // A directory made before genesis digests were recorded: block 0 is rebuilt to compare.
        if (genesis.accountsFile) throw new StartupError(`data directory ${opts.dataDir} belongs to chain ${j.chain_id} (block 0 ${hex(j.block_hash)}), created without an accounts file; ${opts.genesisPath} has accounts_file ${genesis.accountsFile.path}: not the genesis this directory was created from`);
        checkDevAccountAddresses(genesis);
        const g0 = await chain.header(0n);
        const { block } = await buildGenesisBlock(genesis, WorldState.empty(db, genesis.stateHash));
        if (j.chain_id !== genesis.chainIdName || !g0 || g0.hash !== block.hash)
          throw new StartupError(`data directory ${opts.dataDir} belongs to chain ${j.chain_id} (block 0 ${hex(j.block_hash)}); ${opts.genesisPath} defines ${genesis.chainIdName} with block 0 ${hex(block.hash)}`);
      }
    }
    const world = await WorldState.load(db, genesis.stateHash, { cacheEntries: opts.stateCacheEntries });
    const signer = mode === 'readonly' ? undefined : SignerRecord.load(opts.dataDir);
    if (signer) attachSigner(db, signer);
    if (mode !== 'readonly') {
      const resumed = await finishPendingRollback(db, chain, world, genesis);
      if (resumed) opts.log.warn(`finished an interrupted rollback to block ${resumed.target_height} (${hex(resumed.target_hash)})`);
    }
    let flatCheck: Chain['flatCheck'] = null;
    if (!opts.skipCheck) {
      try {
        const h = await headCheck(chain, world, genesis);
        flatCheck = async (o) => {
          try {
            await flatStateCheck(world, h.number, genesis, o);
          } catch (e) {
            throw o?.signal?.aborted ? e : refused(e);
          }
        };
        if (opts.stateCheck !== 'while-serving') {
          await flatCheck();
          flatCheck = null;
        }
      } catch (e) {
        throw e instanceof StartupError ? e : refused(e);
      }
    }
    if (opts.signs && signer) {
      const h = (await chain.head())!;
      const problem = await signerProblem(signer.last, h, async (n) => (await chain.header(n))?.hash, opts.dataDir);
      if (problem) throw new StartupError(`refusing to start: ${problem}.`);
      const orders = await orderDigestProblem(db, opts.dataDir);
      if (orders) throw new StartupError(`refusing to start: ${orders}.`);
      if (!signer.last) opts.log.info(`no signer record in ${opts.dataDir}: starting one at block ${h.number} (a new data directory, or one copied from a follower)`);
      if (!signer.last || h.number > signer.last.height) signer.advance(h.number, h.hash);
    }
    return { dir, db, chain, world, genesis, flatCheck, close: () => dir.close() };
  } catch (e) {
    await dir.close();
    throw e;
  }
}

export interface StartOptions {
  dataDir: string;
  genesisPath: string;
  rpcHost: string;
  rpcPort: number;
  /** Admin JSON-RPC port (bearer token in <data-dir>/admin.token); null disables it. */
  adminPort?: number | null;
  /** Milliseconds between blocks while transactions wait; 0 = a block as soon as a transaction arrives, no heartbeats (devnet). */
  blockTimeMs?: number;
  log: Logger;
  /** Milliseconds clock for the producer (tests). */
  clock?: () => number;
  /** Block gossip to followers (node/p2p); absent = no p2p. The identity key is <dataDir>/p2p.key. */
  p2p?: Partial<Omit<P2POptions, 'role'>>;
  /** When p2p cannot start: true = refuse to start, false = log an error and run without it. */
  p2pRequired?: boolean;
  /** Devnet oracle feeder: 'walk' (default when the genesis has an oracle key), 'off', or a replay file. */
  feeder?: string;
  feederIntervalMs?: number;
  /** Per-account trading limits and WebSocket limits (defaults in node/rpc/perp.ts and ws.ts). */
  rpc?: RpcOptions;
  /** Overrides the genesis checkpoint_interval (automatic checkpoints every N blocks; 0 = none). */
  checkpointInterval?: number;
  /** Worker threads checking signatures before the producer lock (0 = none: checked inline). */
  verifyWorkers?: number;
  /** Transactions waiting for the producer lock before submissions are refused (default DEFAULT_MAX_QUEUE). */
  maxQueue?: number;
  /** Public JSON-RPC server limits over PUBLIC_HTTP_DEFAULTS (node/rpc/http.ts). */
  http?: Partial<HttpLimits>;
  /** Flat state entries kept in memory (default DEFAULT_STATE_CACHE_ENTRIES, node/state/world.ts). */
  stateCacheEntries?: number;
  /**
   * When the digest check over every flat state entry runs. 'before-serving' (default here):
   * startSequencer resolves after it. 'while-serving' (the CLI's default): JSON-RPC reads are
   * served meanwhile, transactions are refused (STARTING) and nothing executes or is signed
   * before it passes; a failure stops the node and rejects `stateChecked`.
   */
  stateCheck?: StateCheck;
  /** Execute block N+1 while block N's batch is written (ProducerOptions.pipeline; off by default, see docs/operations.md). */
  pipeline?: boolean;
}

/** Transactions that may wait for the producer lock; beyond it a submission is refused at once. */
export const DEFAULT_MAX_QUEUE = 10_000;

export interface RunningNode {
  chain: Chain;
  producer: Producer;
  exchange: ExchangeService;
  maintenance: Maintenance;
  rpcUrl: string;
  adminUrl: string | null;
  /** The p2p service, when started. */
  p2p: P2PService | null;
  metrics: NodeMetrics;
  /**
   * Settles when the start-up check of the stored state is over: resolves once it passed (at
   * once with stateCheck 'before-serving') or when the node stopped before it finished; rejects
   * with the StartupError of a failed check, after the node has stopped itself.
   */
  stateChecked: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a sequencer. Order: the feeder file is read and every port bound (a busy one names its
 * flag) BEFORE anything is written to the data directory; then the chain is opened and checked,
 * block production and JSON-RPC start, and `<data-dir>/node.json` records the addresses.
 */
export async function startSequencer(opts: StartOptions): Promise<RunningNode> {
  const feederMode = opts.feeder ?? 'walk';
  if (feederMode !== 'off' && feederMode !== 'walk') {
    try {
      loadReplay(feederMode);
    } catch (e) {
      throw new StartupError(`--feeder ${feederMode}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message} (expected walk, off or a replay JSON file)`);
    }
  }
  const closing = new CloseStack();
  try {
    const rpcServer = await bindHttp(opts.rpcHost, opts.rpcPort, '--rpc-port');
    const closeRpc = closing.defer('rpc port', () => closeServer(rpcServer));
    const adminServer = opts.adminPort === null ? undefined : await bindHttp('127.0.0.1', opts.adminPort ?? ADMIN_HTTP_DEFAULTS.port, '--admin-port');
    const closeAdmin = adminServer ? closing.defer('admin port', () => closeServer(adminServer)) : undefined;
    let p2pOpts = opts.p2p;
    if (p2pOpts) {
      try {
        await probePort(p2pOpts.host ?? defaultP2POptions.host, p2pOpts.port ?? defaultP2POptions.port, '--p2p-port');
      } catch (e) {
        if (opts.p2pRequired) throw new StartupError((e as Error).message);
        opts.log.error(`p2p NOT started (followers will not receive blocks): ${(e as Error).message}, or pass --p2p-port off`);
        p2pOpts = undefined;
      }
    }
    const chain = await openChain({ dataDir: opts.dataDir, genesisPath: opts.genesisPath, log: opts.log, signs: true, stateCacheEntries: opts.stateCacheEntries, stateCheck: opts.stateCheck });
    closing.defer('database', () => chain.close());
    const c = chain;
    const g = c.genesis;
    if (!g.sequencer.privateKey) throw new StartupError('this genesis holds no sequencer private key: only its sequencer can produce blocks (start as a follower instead)');
    if (opts.checkpointInterval !== undefined) g.checkpointInterval = opts.checkpointInterval;
    const pool = opts.verifyWorkers && opts.verifyWorkers > 0 ? await VerifyPool.create({ size: opts.verifyWorkers }) : undefined;
    if (pool) closing.defer('signature workers', () => pool.close());
    const blockTimeMs = opts.blockTimeMs ?? g.blockTimeMs;
    const onDemand = blockTimeMs === 0;
    const prod = await Producer.create(
      {
        db: c.db,
        chain: c.chain,
        world: c.world,
        genesis: g,
        log: opts.log.child('producer'),
        signingKey: g.sequencer.privateKey,
        clock: opts.clock,
      },
      { blockTimeMs: onDemand ? 1 : blockTimeMs, heartbeatMs: g.heartbeatMs, maxBlockTransactions: g.maxBlockTransactions, maxQueue: opts.maxQueue ?? DEFAULT_MAX_QUEUE, pipeline: opts.pipeline === true },
    );
    // Stopping the producer seals the block in flight (before p2p stops, so it is still gossiped).
    const stopProducer = closing.defer('producer', () => prod.stop());
    // The flat-state digest (every entry: most of a restart at a million accounts) is checked
    // under the producer lock while everything below starts and serves reads.
    let checkedEntries = 0;
    const flatCheck = c.flatCheck;
    const passed = flatCheck
      ? prod.runStartupCheck('checking the stored state against the digest committed with the head', (signal) => flatCheck({ signal, onProgress: (n) => (checkedEntries = n) }))
      : Promise.resolve(true);
    passed.catch(() => {}); // observed below (stateChecked); never an unhandled rejection
    const ex = await ExchangeService.create(prod, g.exchange, c.db);
    if (pool) {
      prod.sigCache.attachPool(pool);
      opts.log.info(`signature checks on ${opts.verifyWorkers} worker thread(s) (${pool.backendName} crypto)`);
    }
    // An online rollback's certificate goes to followers before the first block of the new branch.
    let p2p: P2PService | null = null;
    const onRollback = (cert: RollbackCertificate) => void p2p?.publishRollback(cert);
    const maintenance = new Maintenance({ db: c.db, chain: c.chain, world: c.world, genesis: g, producer: prod, exchange: ex, log: opts.log.child('maintenance'), onRollback });
    const offlineRollback = await maintenance.pendingAfterRollback();
    if (offlineRollback && (await passed)) await maintenance.afterRollback(); // it executes: only on the proven state
    if (p2pOpts) {
      try {
        const started = await startP2P(chainForP2P(c), { ...p2pOpts, role: 'sequencer', dataDir: opts.dataDir }, opts.log.child('p2p'));
        p2p = started;
        closing.defer('p2p', () => started.stop());
        closing.defer('producer', stopProducer);
      } catch (e) {
        const why = firstLine(e);
        if (opts.p2pRequired) throw new StartupError(`--p2p-port ${p2pOpts.port ?? defaultP2POptions.port}: p2p could not start on ${p2pOpts.host ?? defaultP2POptions.host}:${p2pOpts.port ?? defaultP2POptions.port}: ${why}`);
        opts.log.error(`p2p NOT started (followers will not receive blocks): ${why}; pass --p2p-port <port> to choose another port, or --p2p-port off`);
      }
      const live = p2p;
      if (live) c.chain.events.on((e) => void (e.type === 'sealed' && live.publishBlock(e.block)));
      // After an offline rollback (`perpnode rollback`, then this start), tell followers.
      const latest = live && offlineRollback ? await latestCertificate(c) : undefined;
      if (live && latest) live.announceRollback(latest);
    }
    const modules: RpcModules = { chain: c.chain, world: c.world, genesis: g, producer: prod, exchange: ex };
    const mode = () => getMode(liveState(modules), g.exchange);
    const metrics = new NodeMetrics({ role: 'sequencer', head: () => prod.head.number, mode, halted: () => prod.halted, producer: prod, exchange: () => ex, markets: g.exchange.markets.map((m) => m.symbol), p2p: () => p2p?.status() });
    const blockLog = opts.log.child('block');
    c.chain.events.on((e) => {
      if (e.type !== 'sealed') return;
      const b = e.block;
      const timing = prod.stats.recent.at(-1);
      const s = metrics.onBlock(b, timing?.number === b.header.block_number ? timing : undefined);
      const ms = timing ? Math.round(timing.sealMs * 10) / 10 : null;
      blockLog.info(`block ${s.number} sealed: ${s.txs} txs, ${s.trades} trades, ${s.liquidations} liquidations, ${ms ?? '?'} ms ${hex(b.hash)}`, { event: 'block', block: s.number, hash: hex(b.hash), txs: s.txs, trades: s.trades, liquidations: s.liquidations, seal_ms: ms });
    });
    const onInternalError = (method: string, e: unknown) => opts.log.error(`rpc ${method} failed: ${(e as Error)?.stack ?? e}`);
    const onCall = callObserver(metrics, opts.log.child('rpc'));
    const rpc = createRpc(modules, opts.rpc);
    const ws = rpc.createWs(onInternalError);
    // Connections close before the producer stops: no call reaches a stopped producer.
    closing.defer('rpc server', closeRpc);
    closing.defer('websocket subscriptions', () => ws.close());
    const startedAt = Date.now();
    const starting = () => (prod.checking ? `${prod.checking} (${checkedEntries.toLocaleString('en-US')} entries read)` : null);
    const health = healthRoutes({ role: 'sequencer', chainId: g.chainIdName, dataDir: opts.dataDir, db: c.db, head: async () => prod.head, mode, halted: () => prod.halted, starting, p2p: () => p2p?.status(), startedAt });
    await servePublic(rpcServer, new Dispatcher<CallContext>(rpc.methods, { maxBatch: publicLimits(opts).maxBatch, onInternalError, onCall }), ws, opts, { ...statusPageRoutes(), ...health });
    const rpcUrl = `http://${opts.rpcHost}:${boundPort(rpcServer)}`;
    let adminUrl: string | null = null;
    let feeder: OracleFeeder | undefined;
    const oracleKey = g.exchange.oracles.find((k) => k.privateKey !== undefined);
    if (feederMode !== 'off' && oracleKey) {
      const source: FeederSource = feederMode === 'walk' ? { kind: 'walk', seed: 42n, stepBps: 20n } : { kind: 'file', path: feederMode };
      const keys = g.exchange.oracles.filter((k) => k.privateKey !== undefined).map((k) => ({ publicKey: k.publicKey, privateKey: k.privateKey! }));
      feeder = new OracleFeeder(ex, g.exchange, keys, g.chainId, source, opts.feederIntervalMs ?? 2000, opts.log.child('feeder'));
    }
    if (adminServer) {
      const fed = feeder;
      const admin: AdminModules = { ...modules, maintenance, startedAt, ...(p2p ? { peers: () => p2p!.status() } : {}), ...(fed ? { postPrices: () => fed.step() } : {}) };
      closing.defer('admin server', closeAdmin!);
      await serveAdmin(adminServer, admin, opts.dataDir, ADMIN_HTTP_DEFAULTS.requestTimeoutMs, onInternalError, metrics, opts.log.child('admin'));
      adminUrl = `http://127.0.0.1:${boundPort(adminServer)}`;
    }
    if (onDemand) {
      // --block-time-ms 0: a block as soon as a transaction has executed, no heartbeats; the
      // feeder posts prices only when asked (admin_postPrices).
      let queued = false;
      prod.on('tx', () => {
        if (queued) return;
        queued = true;
        setImmediate(() => {
          queued = false;
          prod.sealNow().catch((e) => prod.halt(`block production failed: ${(e as Error).stack ?? e}`));
        });
      });
    } else prod.start();
    if (feeder) {
      const f = feeder;
      let stopped = false;
      closing.defer('oracle feeder', () => {
        stopped = true;
        return f.stop();
      });
      if (onDemand) feeder.prepare();
      else void passed.then((ok) => ok && !stopped && f.start(), () => {}); // its prices execute: after the check
      opts.log.info(`devnet oracle feeder: ${feederMode === 'walk' ? 'seeded random walk' : `replaying ${feederMode}`}${onDemand ? ', posting prices only on request (admin_postPrices)' : ''}`);
    }
    const wsUrl = rpcUrl.replace(/^http/, 'ws') + '/ws';
    closing.defer('node.json', () => removeNodeFile(opts.dataDir));
    writeNodeFile(opts.dataDir, { pid: process.pid, role: 'sequencer', chain_id: g.chainIdName, rpc_url: rpcUrl, ws_url: wsUrl, admin_url: adminUrl, p2p: p2p?.status().listen ?? [], started_at: new Date(startedAt).toISOString() });
    opts.log.info(
      `sequencer for ${g.chainIdName} at block ${prod.head.number}; JSON-RPC on ${rpcUrl}${adminUrl ? `; admin on ${adminUrl} (token in ${opts.dataDir}/admin.token)` : ''}; status page ${rpcUrl}/; ${onDemand ? 'a block per transaction (--block-time-ms 0)' : `a block every ${blockTimeMs} ms while transactions wait`}`,
    );
    const stop = () => closing.close();
    if (flatCheck) opts.log.info(`serving reads while the stored state is checked against its digest; transactions are accepted once it has passed (/ready)`);
    const stateChecked = passed.then(
      (ok) => {
        if (ok && flatCheck) opts.log.info(`stored state checked: ${checkedEntries.toLocaleString('en-US')} flat entries match the digest committed with block ${prod.head.number}; accepting transactions`);
      },
      async (e) => {
        opts.log.error(`${(e as Error).message}; stopping`);
        await stop().catch((ce) => opts.log.error(`after a failed start-up check: ${(ce as Error).message}`));
        throw e;
      },
    );
    stateChecked.catch(() => {}); // the caller may not await it; the node has stopped either way
    return { chain: c, producer: prod, exchange: ex, maintenance, rpcUrl, adminUrl, p2p, metrics, stateChecked, stop };
  } catch (e) {
    await closing.close().catch((ce) => opts.log.error(`after a failed start: ${(ce as Error).message}`));
    throw e;
  }
}

export interface FollowerOptions {
  dataDir: string;
  genesisPath: string;
  rpcHost: string;
  rpcPort: number;
  /** Admin JSON-RPC port (admin_status, admin_peers); null disables it. */
  adminPort?: number | null;
  log: Logger;
  /** p2p listen address, bootstrap peers (the sequencer's multiaddr) and tuning. */
  p2p: Partial<Omit<P2POptions, 'role'>>;
  /** The sequencer's JSON-RPC URL: trading calls are forwarded there (refused when absent). */
  sequencerRpc?: string;
  /** Public JSON-RPC server limits over PUBLIC_HTTP_DEFAULTS (node/rpc/http.ts). */
  http?: Partial<HttpLimits>;
  /** Flat state entries kept in memory (default DEFAULT_STATE_CACHE_ENTRIES, node/state/world.ts). */
  stateCacheEntries?: number;
}

export interface RunningFollower {
  chain: Chain;
  p2p: P2PService;
  rpcUrl: string;
  adminUrl: string | null;
  metrics: NodeMetrics;
  stop(): Promise<void>;
}

/**
 * Starts a follower: opens and checks the chain, follows the sequencer over p2p (every block
 * verified by re-execution before it is applied) and serves the read RPC; trading calls are
 * forwarded to `sequencerRpc` or refused with error 11008 naming the sequencer.
 */
export async function startFollower(opts: FollowerOptions): Promise<RunningFollower> {
  const closing = new CloseStack();
  try {
    const rpcServer = await bindHttp(opts.rpcHost, opts.rpcPort, '--rpc-port');
    const closeRpc = closing.defer('rpc port', () => closeServer(rpcServer));
    const adminServer = opts.adminPort === null ? undefined : await bindHttp('127.0.0.1', opts.adminPort ?? ADMIN_HTTP_DEFAULTS.port, '--admin-port');
    const closeAdmin = adminServer ? closing.defer('admin port', () => closeServer(adminServer)) : undefined;
    await probePort(opts.p2p.host ?? defaultP2POptions.host, opts.p2p.port ?? defaultP2POptions.port, '--p2p-port');
    const chain = await openChain({ dataDir: opts.dataDir, genesisPath: opts.genesisPath, log: opts.log, stateCacheEntries: opts.stateCacheEntries });
    closing.defer('database', () => chain.close());
    const c = chain;
    const g = c.genesis;
    let p2p: P2PService;
    try {
      p2p = await startP2P(chainForP2P(c), { ...opts.p2p, role: 'follower', dataDir: opts.dataDir }, opts.log.child('p2p'));
    } catch (e) {
      throw new StartupError(`--p2p-port ${opts.p2p.port ?? defaultP2POptions.port}: p2p could not start on ${opts.p2p.host ?? defaultP2POptions.host}:${opts.p2p.port ?? defaultP2POptions.port}: ${firstLine(e)}`);
    }
    const live = p2p;
    closing.defer('p2p', () => live.stop());
    const modules: RpcModules = { chain: c.chain, world: c.world, genesis: g };
    const mode = () => getMode(liveState(modules), g.exchange);
    const metrics = new NodeMetrics({ role: 'follower', head: () => BigInt(live.status().head.number), mode, halted: () => null, markets: g.exchange.markets.map((m) => m.symbol), p2p: () => live.status() });
    closing.defer('sync watcher', watchFollower(live, opts.log.child('sync'), metrics));
    const onInternalError = (method: string, e: unknown) => opts.log.error(`rpc ${method} failed: ${(e as Error)?.stack ?? e}`);
    const onCall = callObserver(metrics, opts.log.child('rpc'));
    const boot = opts.p2p.bootstrap ?? [];
    const sequencer = `sequencer ${hex(g.sequencer.address)}${boot.length ? ` (p2p ${boot.join(', ')})` : ''}`;
    const rpc = createRpc(modules);
    const ws = rpc.createWs(onInternalError);
    closing.defer('rpc server', closeRpc);
    closing.defer('websocket subscriptions', () => ws.close());
    const dispatcher = new ForwardingDispatcher<CallContext>(rpc.methods, { maxBatch: publicLimits(opts).maxBatch, onInternalError, onCall }, { methods: TRADING_METHODS, sequencerRpc: opts.sequencerRpc, sequencer });
    const startedAt = Date.now();
    const health = healthRoutes({ role: 'follower', chainId: g.chainIdName, dataDir: opts.dataDir, db: c.db, head: () => c.chain.head(), mode, halted: () => null, p2p: () => live.status(), startedAt });
    await servePublic(rpcServer, dispatcher, ws, opts, { ...statusPageRoutes(), ...health });
    const rpcUrl = `http://${opts.rpcHost}:${boundPort(rpcServer)}`;
    let adminUrl: string | null = null;
    if (adminServer) {
      const admin: AdminModules = { ...modules, startedAt, peers: () => live.status() };
      closing.defer('admin server', closeAdmin!);
      await serveAdmin(adminServer, admin, opts.dataDir, 60_000, onInternalError, metrics, opts.log.child('admin'));
      adminUrl = `http://127.0.0.1:${boundPort(adminServer)}`;
    }
    const head = await c.chain.head();
    closing.defer('node.json', () => removeNodeFile(opts.dataDir));
    writeNodeFile(opts.dataDir, { pid: process.pid, role: 'follower', chain_id: g.chainIdName, rpc_url: rpcUrl, ws_url: rpcUrl.replace(/^http/, 'ws') + '/ws', admin_url: adminUrl, p2p: live.status().listen, started_at: new Date(startedAt).toISOString() });
    opts.log.info(
      `follower for ${g.chainIdName} at block ${head?.number}; JSON-RPC on ${rpcUrl}${adminUrl ? `; admin on ${adminUrl}` : ''}; status page ${rpcUrl}/; trading calls ${opts.sequencerRpc ? `forwarded to ${opts.sequencerRpc}` : 'refused (no --sequencer-rpc)'}`,
    );
    return { chain: c, p2p: live, rpcUrl, adminUrl, metrics, stop: () => closing.close() };
  } catch (e) {
    await closing.close().catch((ce) => opts.log.error(`after a failed start: ${(ce as Error).message}`));
    throw e;
  }
}

/**
 * The certificate of the latest rollback: among those whose target is still on our chain, the
 * highest target (a later rollback to a lower height orphans every earlier target above it).
 */
async function latestCertificate(c: Chain): Promise<RollbackCertificate | undefined> {
  let best: RollbackCertificate | undefined;
  for (const cert of await listCertificates(c.db)) {
    if ((await c.chain.header(cert.target_height))?.hash !== cert.target_hash) continue;
    if (!best || cert.target_height > best.target_height || (cert.target_height === best.target_height && cert.orphaned_head_height > best.orphaned_head_height)) best = cert;
  }
  return best;
}

/** The public JSON-RPC server: HTTP on / and /rpc/v0_10, the status page, /health, /ready, WebSocket upgrades, its limits. */
function servePublic(
  server: Server,
  dispatcher: Dispatcher<CallContext>,
  ws: { handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void },
  opts: { rpcHost: string; rpcPort: number; log: Logger; http?: Partial<HttpLimits> },
  routes: Record<string, Route>,
) {
  const { maxBodyBytes, requestTimeoutMs, ratePerSec, burst } = publicLimits(opts);
  return startHttp(dispatcher, {
    server,
    host: opts.rpcHost,
    port: opts.rpcPort,
    paths: ['/', '/rpc/v0_10'],
    maxBodyBytes,
    requestTimeoutMs,
    ratePerSec,
    burst,
    onUpgrade: (req, socket, head) => ws.handleUpgrade(req, socket, head),
    routes,
    log: opts.log.child('http'),
  });
}

/** The public server's limits: the rpc module's defaults, then the node's overrides. */
function publicLimits(opts: { http?: Partial<HttpLimits> }): HttpLimits {
  return { ...PUBLIC_HTTP_DEFAULTS, ...opts.http };
}

/** The admin server: 127.0.0.1 only, every JSON-RPC request needs the bearer token in <data-dir>/admin.token; GET /metrics needs none. */
function serveAdmin(server: Server, admin: AdminModules, dataDir: string, requestTimeoutMs: number, onInternalError: (method: string, e: unknown) => void, metrics: NodeMetrics, log: Logger) {
  const token = ensureAdminToken(dataDir);
  const { maxBodyBytes, ratePerSec, burst, maxBatch } = ADMIN_HTTP_DEFAULTS;
  return startHttp(new Dispatcher<CallContext>(adminMethods(admin), { maxBatch, onInternalError }), {
    server,
    host: '127.0.0.1',
    port: 0,
    paths: ['/'],
    maxBodyBytes,
    requestTimeoutMs,
    ratePerSec,
    burst,
    authorize: (req) => bearerMatches(req, token),
    routes: { '/metrics': async () => ({ status: 200, ...(await metrics.render()) }) },
    log,
  });
}

/** Metrics for every JSON-RPC call, and a request line at debug level. */
function callObserver(metrics: NodeMetrics, log: Logger) {
  return (method: string, ms: number, code: number | null) => {
    metrics.onCall(method, ms, code);
    if (log.enabled('debug')) log.debug(`${method} ${code === null ? 'ok' : `error ${code}`} ${ms.toFixed(1)} ms`);
  };
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

function boundPort(server: Server): number {
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

// ---- <data-dir>/node.json: where a running node listens ---------------------------------------

/** Written once the node serves, removed when it stops: `perpnode status` finds the node by its data directory. */
export const NODE_FILE = 'node.json';

export interface NodeFile {
  pid: number;
  role: 'sequencer' | 'follower';
  chain_id: string;
  rpc_url: string;
  ws_url: string;
  admin_url: string | null;
  p2p: string[];
  started_at: string;
}

function writeNodeFile(dataDir: string, f: NodeFile): void {
  writeFileSync(join(dataDir, NODE_FILE), JSON.stringify(f, null, 2) + '\n');
}

function removeNodeFile(dataDir: string): void {
  rmSync(join(dataDir, NODE_FILE), { force: true });
}

/** The addresses a node running on `dataDir` recorded, if any. */
export function readNodeFile(dataDir: string): NodeFile | undefined {
  const f = join(dataDir, NODE_FILE);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as NodeFile;
  } catch {
    return undefined;
  }
}
