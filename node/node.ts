/**
 * A running perpnode: data directory, chain, state, block producer and RPC, wired together
 * with one `modules` object. `openChain` is the shared part every CLI command uses.
 */
import { ChainStore } from './chain/store.ts';
import { buildGenesisBlock, loadGenesis, type Genesis } from './chain/genesis.ts';
import { quickCheck } from './chain/verify.ts';
import { finishPendingRollback, listCertificates, type RollbackCertificate } from './chain/rollback.ts';
import { decodeJson, encodeJson, metaKey } from './storage/schema.ts';
import { openDataDir, type OpenedDataDir, type OpenMode } from './storage/open.ts';
import { WorldState, type Db } from './state/index.ts';
import type { Logger } from './log.ts';
import { Producer } from './sequencer/producer.ts';
import { Dispatcher } from './rpc/jsonrpc.ts';
import { closeServer, startHttp, type CallContext } from './rpc/http.ts';
import { createRpc, type RpcOptions } from './rpc/methods.ts';
import type { RpcModules } from './rpc/context.ts';
import { adminMethods, type AdminModules } from './rpc/admin.ts';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { bearerMatches, ensureAdminToken } from './rpc/admin-token.ts';
import { ExchangeService } from './sequencer/exchange.ts';
import { Maintenance } from './sequencer/maintenance.ts';
import { VerifyPool } from './sequencer/verify-pool.ts';
import { OracleFeeder, type FeederSource } from './sequencer/feeder.ts';
import { ForwardingDispatcher, startP2P, TRADING_METHODS, type P2POptions, type P2PService } from './p2p/index.ts';
import { chainForP2P } from './p2p/chain.ts';

export interface Chain {
  dir: OpenedDataDir;
  db: Db;
  chain: ChainStore;
  world: WorldState;
  genesis: Genesis;
  close(): Promise<void>;
}

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
 */
export async function openChain(opts: { dataDir: string; genesisPath: string; log: Logger; skipCheck?: boolean; mode?: OpenMode }): Promise<Chain> {
  const genesis = loadGenesis(opts.genesisPath);
  const mode = opts.mode ?? 'create';
  const dir = await openDataDir(opts.dataDir, { mode });
  try {
    const db = dir.db;
    const chain = new ChainStore(db);
    const stored = await db.get(metaKey('genesis'));
    let head = await chain.head();
    if (!head) {
      if (stored || (await chain.header(0n))) throw new StartupError(`refusing to start: the database in ${opts.dataDir} is damaged: it holds a chain but no head pointer (meta/head). Re-sync from a follower.`);
      if (mode !== 'create') throw new StartupError(`${opts.dataDir} is not a perpnode data directory (its database holds no chain); check --data-dir`);
      const { block, state } = await buildGenesisBlock(genesis, WorldState.empty(db, genesis.stateHash));
      await db.batch(
        [...state.ops, ...ChainStore.blockOps(block, state), { type: 'put', key: metaKey('genesis'), value: encodeJson({ chain_id: genesis.chainIdName, block_hash: block.hash, state_hash: genesis.stateHash }) }] as any,
        { sync: true },
      );
      opts.log.info(`initialised ${opts.dataDir} from ${opts.genesisPath}: block 0 ${hex(block.hash)}, state root ${hex(block.header.new_root)}`);
      head = { number: 0n, hash: block.hash };
    } else {
      if (!stored) throw new StartupError(`refusing to start: the database in ${opts.dataDir} is damaged: its genesis record (meta/genesis) is missing. Re-sync from a follower.`);
      const j = decodeJson(stored);
      const g0 = await chain.header(0n);
      const { block } = await buildGenesisBlock(genesis, WorldState.empty(db, genesis.stateHash));
      if (j.chain_id !== genesis.chainIdName || !g0 || g0.hash !== block.hash)
        throw new StartupError(`data directory ${opts.dataDir} belongs to chain ${j.chain_id} (block 0 ${j.block_hash}); ${opts.genesisPath} defines ${genesis.chainIdName} with block 0 ${hex(block.hash)}`);
    }
    const world = await WorldState.load(db, genesis.stateHash);
    if (mode !== 'readonly') {
      const resumed = await finishPendingRollback(db, chain, world, genesis);
      if (resumed) opts.log.warn(`finished an interrupted rollback to block ${resumed.target_height} (${hex(resumed.target_hash)})`);
    }
    if (!opts.skipCheck) {
      try {
        await quickCheck(chain, world, genesis);
      } catch (e) {
        throw new StartupError(`refusing to start: ${(e as Error).message}. The data directory was not modified; run \`perpnode verify --full\` to see everything that differs, or roll back to a checkpoint.`);
      }
    }
    return { dir, db, chain, world, genesis, close: () => dir.close() };
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
}

export interface RunningNode {
  chain: Chain;
  producer: Producer;
  exchange: ExchangeService;
  maintenance: Maintenance;
  rpcUrl: string;
  adminUrl: string | null;
  /** The p2p service, when started. */
  p2p: P2PService | null;
  stop(): Promise<void>;
}

/** Starts a sequencer: opens and checks the chain, starts block production and JSON-RPC. */
export async function startSequencer(opts: StartOptions): Promise<RunningNode> {
  const chain = await openChain({ dataDir: opts.dataDir, genesisPath: opts.genesisPath, log: opts.log });
  const g = chain.genesis;
  let producer: Producer | undefined;
  let pool: VerifyPool | undefined;
  let p2p: P2PService | null = null;
  const servers: import('node:http').Server[] = [];
  let stopWs: () => Promise<void> = async () => undefined;
  try {
    if (!g.sequencer.privateKey) throw new StartupError('this genesis holds no sequencer private key: only its sequencer can produce blocks (start as a follower instead)');
    if (opts.checkpointInterval !== undefined) g.checkpointInterval = opts.checkpointInterval;
    let exchange: ExchangeService | undefined;
    producer = await Producer.create(
      {
        db: chain.db,
        chain: chain.chain,
        world: chain.world,
        genesis: g,
        log: opts.log.child('producer'),
        signingKey: g.sequencer.privateKey,
        clock: opts.clock,
        extraOps: () => exchange?.persistOps() ?? [],
        beforeSeal: () => void exchange?.expire(),
        impactPrices: () => exchange?.impactPrices() ?? new Map(),
      },
      { blockTimeMs: opts.blockTimeMs ?? g.blockTimeMs, heartbeatMs: g.heartbeatMs, maxBlockTransactions: g.maxBlockTransactions, maxQueue: 10_000 },
    );
    exchange = await ExchangeService.create(producer, g.exchange, chain.db);
    if (opts.verifyWorkers && opts.verifyWorkers > 0) {
      pool = await VerifyPool.create({ size: opts.verifyWorkers });
      producer.sigCache.attachPool(pool);
      opts.log.info(`signature checks on ${opts.verifyWorkers} worker thread(s) (${pool.backendName} crypto)`);
    }
    // An online rollback's certificate goes to followers before the first block of the new branch.
    const onRollback = (c: RollbackCertificate) => void p2p?.publishRollback(c);
    const maintenance = new Maintenance({ db: chain.db, chain: chain.chain, world: chain.world, genesis: g, producer, exchange, log: opts.log.child('maintenance'), onRollback });
    const offlineRollback = await maintenance.pendingAfterRollback();
    if (offlineRollback) await maintenance.afterRollback();
    if (opts.p2p) {
      try {
        p2p = await startP2P(chainForP2P(chain), { ...opts.p2p, role: 'sequencer', dataDir: opts.dataDir }, opts.log.child('p2p'));
      } catch (e) {
        if (opts.p2pRequired) throw new StartupError(`p2p could not start on ${opts.p2p.host ?? '127.0.0.1'}:${opts.p2p.port ?? 5051}: ${(e as Error).message}`);
        opts.log.error(`p2p NOT started (followers will not receive blocks): ${(e as Error).message}; pass --p2p-port <port> to choose another port, or --p2p-port off`);
      }
      const live = p2p;
      if (live) producer.on('block', (b) => void live.publishBlock(b));
      // After an offline rollback (`perpnode rollback`, then this start), tell followers.
      const latest = live && offlineRollback ? await latestCertificate(chain) : undefined;
      if (live && latest) live.announceRollback(latest);
    }
    const modules: RpcModules = { chain: chain.chain, world: chain.world, genesis: g, producer, exchange };
    const onInternalError = (method: string, e: unknown) => opts.log.error(`rpc ${method} failed: ${(e as Error)?.stack ?? e}`);
    const rpc = createRpc(modules, opts.rpc);
    const ws = rpc.createWs(onInternalError);
    stopWs = () => ws.close();
    const rpcServer = await servePublic(new Dispatcher<CallContext>(rpc.methods, { maxBatch: 100, onInternalError }), ws, opts.rpcHost, opts.rpcPort);
    servers.push(rpcServer);
    const rpcUrl = `http://${opts.rpcHost}:${boundPort(rpcServer)}`;
    let adminUrl: string | null = null;
    if (opts.adminPort !== null) {
      const admin = { ...modules, maintenance, startedAt: Date.now(), ...(p2p ? { peers: () => p2p!.status() } : {}) };
      const adminServer = await serveAdmin(admin, opts.dataDir, opts.adminPort ?? 5055, 300_000, onInternalError);
      servers.push(adminServer);
      adminUrl = `http://127.0.0.1:${boundPort(adminServer)}`;
    }
    let feeder: OracleFeeder | undefined;
    const oracleKey = g.exchange.oracles.find((k) => k.privateKey !== undefined);
    const feederMode = opts.feeder ?? 'walk';
    if (feederMode !== 'off' && oracleKey) {
      const source: FeederSource = feederMode === 'walk' ? { kind: 'walk', seed: 42n, stepBps: 20n } : { kind: 'file', path: feederMode };
      feeder = new OracleFeeder(exchange, g.exchange, { publicKey: oracleKey.publicKey, privateKey: oracleKey.privateKey! }, g.chainId, source, opts.feederIntervalMs ?? 2000, opts.log.child('feeder'));
      opts.log.info(`devnet oracle feeder: ${feederMode === 'walk' ? 'seeded random walk' : `replaying ${feederMode}`}`);
    }
    producer.start();
    feeder?.start();
    opts.log.info(`sequencer for ${g.chainIdName} at block ${producer.head.number}; JSON-RPC on ${rpcUrl}${adminUrl ? `; admin on ${adminUrl} (token in ${opts.dataDir}/admin.token)` : ''}`);
    let stopped = false;
    const p = producer;
    return {
      chain,
      producer: p,
      exchange,
      maintenance,
      rpcUrl,
      adminUrl,
      p2p,
      async stop() {
        if (stopped) return;
        stopped = true;
        feeder?.stop();
        await stopWs();
        for (const s of servers) await closeServer(s);
        await p.stop();
        await pool?.close();
        await p2p?.stop();
        await chain.close();
      },
    };
  } catch (e) {
    await stopWs();
    for (const s of servers) await closeServer(s);
    if (producer) await producer.stop().catch(() => undefined);
    await pool?.close().catch(() => undefined);
    await p2p?.stop().catch(() => undefined);
    await chain.close();
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
}

export interface RunningFollower {
  chain: Chain;
  p2p: P2PService;
  rpcUrl: string;
  adminUrl: string | null;
  stop(): Promise<void>;
}

/**
 * Starts a follower: opens and checks the chain, follows the sequencer over p2p (every block
 * verified by re-execution before it is applied) and serves the read RPC; trading calls are
 * forwarded to `sequencerRpc` or refused with error 11008 naming the sequencer.
 */
export async function startFollower(opts: FollowerOptions): Promise<RunningFollower> {
  const chain = await openChain({ dataDir: opts.dataDir, genesisPath: opts.genesisPath, log: opts.log });
  const g = chain.genesis;
  let p2p: P2PService | undefined;
  const servers: import('node:http').Server[] = [];
  let stopWs: () => Promise<void> = async () => undefined;
  try {
    p2p = await startP2P(chainForP2P(chain), { ...opts.p2p, role: 'follower', dataDir: opts.dataDir }, opts.log.child('p2p'));
    const live = p2p;
    const modules: RpcModules = { chain: chain.chain, world: chain.world, genesis: g };
    const onInternalError = (method: string, e: unknown) => opts.log.error(`rpc ${method} failed: ${(e as Error)?.stack ?? e}`);
    const boot = opts.p2p.bootstrap ?? [];
    const sequencer = `sequencer ${hex(g.sequencer.address)}${boot.length ? ` (p2p ${boot.join(', ')})` : ''}`;
    const rpc = createRpc(modules);
    const ws = rpc.createWs(onInternalError);
    stopWs = () => ws.close();
    const dispatcher = new ForwardingDispatcher<CallContext>(rpc.methods, { maxBatch: 100, onInternalError }, { methods: TRADING_METHODS, sequencerRpc: opts.sequencerRpc, sequencer });
    const rpcServer = await servePublic(dispatcher, ws, opts.rpcHost, opts.rpcPort);
    servers.push(rpcServer);
    const rpcUrl = `http://${opts.rpcHost}:${boundPort(rpcServer)}`;
    let adminUrl: string | null = null;
    if (opts.adminPort !== null) {
      const admin = { ...modules, startedAt: Date.now(), peers: () => live.status() };
      const adminServer = await serveAdmin(admin, opts.dataDir, opts.adminPort ?? 5055, 60_000, onInternalError);
      servers.push(adminServer);
      adminUrl = `http://127.0.0.1:${boundPort(adminServer)}`;
    }
    const head = await chain.chain.head();
    opts.log.info(
      `follower for ${g.chainIdName} at block ${head?.number}; JSON-RPC on ${rpcUrl}${adminUrl ? `; admin on ${adminUrl}` : ''}; trading calls ${opts.sequencerRpc ? `forwarded to ${opts.sequencerRpc}` : 'refused (no --sequencer-rpc)'}`,
    );
    let stopped = false;
    return {
      chain,
      p2p: live,
      rpcUrl,
      adminUrl,
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopWs();
        for (const s of servers) await closeServer(s);
        await live.stop();
        await chain.close();
      },
    };
  } catch (e) {
    await stopWs();
    for (const s of servers) await closeServer(s);
    await p2p?.stop().catch(() => undefined);
    await chain.close();
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

/** The public JSON-RPC server: HTTP on / and /rpc/v0_10, WebSocket upgrades, its limits. */
function servePublic(dispatcher: Dispatcher<CallContext>, ws: { handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void }, host: string, port: number) {
  return startHttp(dispatcher, {
    host,
    port,
    paths: ['/', '/rpc/v0_10'],
    maxBodyBytes: 1 << 20,
    requestTimeoutMs: 30_000,
    ratePerSec: 2000,
    burst: 4000,
    onUpgrade: (req, socket, head) => ws.handleUpgrade(req, socket, head),
  });
}

/** The admin server: 127.0.0.1 only, every request needs the bearer token in <data-dir>/admin.token. */
function serveAdmin(admin: AdminModules, dataDir: string, port: number, requestTimeoutMs: number, onInternalError: (method: string, e: unknown) => void) {
  const token = ensureAdminToken(dataDir);
  return startHttp(new Dispatcher<CallContext>(adminMethods(admin), { maxBatch: 10, onInternalError }), {
    host: '127.0.0.1',
    port,
    paths: ['/'],
    maxBodyBytes: 64 << 10,
    requestTimeoutMs,
    ratePerSec: 50,
    burst: 100,
    authorize: (req) => bearerMatches(req, token),
  });
}

function boundPort(server: import('node:http').Server): number {
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}
