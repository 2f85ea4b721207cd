/**
 * `npm run bench -- [--accounts N] [--markets M] [--duration S] [--block-time-ms T]
 *   [--mode inprocess|rpc] [--crypto js|native] [--json out.json] [--replay]`
 *
 * Block-throughput benchmark of the real sequencer (real LevelDB, sync commits): see
 * bench/README.md for what it does, what it reports and how to read it.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import type { CryptoBackend } from '../node/crypto/index.ts';
import { startSequencer, type RunningNode } from '../node/node.ts';
import { createLogger } from '../node/log.ts';
import { loadGenesis } from '../node/chain/genesis.ts';
import { VerifyPool } from '../node/sequencer/verify-pool.ts';
import { writeBatch } from '../node/storage/db.ts';
import type { Db, DbOp } from '../node/state/index.ts';
import type { Block } from '../node/chain/block.ts';
import { useCounting } from './lib/counting.ts';
import { drive } from './lib/driver.ts';
import { floorOf, measureCrypto } from './lib/floor.ts';
import { minimalFloor, minimalHashes } from './lib/minimal.ts';
import { Progress } from './lib/progress.ts';
import { replayRun } from './lib/replay.ts';
import { dist, table, type BenchReport } from './lib/report.ts';
import { copySnapshot, defaultCacheDir, dirSize, ensureKeys, ensureSnapshot } from './lib/setup.ts';
import { TaskPool } from './lib/tasks.ts';
import { orderKey } from '../contracts-ts/layout.ts';
import { benchEpochS, cachedChunks, loadWorkload, orderExpiry, roles } from './lib/workload.ts';

export interface BenchOptions {
  accounts: number;
  markets: number;
  duration: number;
  blockTimeMs: number;
  mode: 'inprocess' | 'rpc';
  crypto: 'js' | 'native' | 'auto';
  json?: string;
  replay: boolean;
  seed: number;
  window: number;
  rate: number;
  pool: boolean;
  poolSize: number;
  keep: boolean;
  cacheDir: string;
  quiet: boolean;
  progress: boolean;
  prepareOnly: boolean;
  /** Actions per cached workload chunk. */
  chunk: number;
  /** Attribute every hash to its call site (slow; diagnosis). */
  hashSites: boolean;
  /** Experiment: the node's block batches written through the chained form (see README). */
  chainedBatch: boolean;
  /** Write a CPU profile of the main thread during the load to this file. */
  cpuProf: string | undefined;
  /** The node's --state-cache-entries (undefined: its default). */
  stateCacheEntries?: number;
  /** The node's --pipeline. */
  pipeline?: boolean;
}

export const defaultBenchOptions: BenchOptions = {
  accounts: 1000,
  markets: 2,
  duration: 20,
  blockTimeMs: 1000,
  mode: 'inprocess',
  crypto: 'auto',
  replay: false,
  seed: 1,
  window: 256,
  rate: 0,
  pool: true,
  poolSize: availableParallelism(),
  keep: false,
  cacheDir: defaultCacheDir(),
  quiet: false,
  progress: true,
  prepareOnly: false,
  chunk: 2000,
  hashSites: false,
  chainedBatch: false,
  cpuProf: undefined,
};

const USAGE = `usage: npm run bench -- [options]
  --accounts N          funded accounts (default 1000)
  --markets M           markets (default 2)
  --duration S          seconds of load (default 20)
  --block-time-ms T     block time (default 1000)
  --mode inprocess|rpc  drive ExchangeService directly, or JSON-RPC over HTTP (default inprocess)
  --crypto js|native    crypto backend; native fails if the addon does not load (default: native if it loads, else js)
  --json out.json       also write the report as JSON
  --replay              re-execute the produced chain into a fresh data dir (follower speed)
  --seed K              workload seed (default 1)
  --window W            actions in flight (default 256)
  --rate R              actions per second, open loop (default 0: as fast as accepted)
  --no-pool             no signature worker pool at ingress / replay
  --pool-size P         signature workers (default: cores)
  --cache-dir D         where keys, genesis, snapshots and the signed workload are cached (default bench/.cache)
  --keep                keep the run's data directories
  --prepare-only        build the caches and exit
  --chunk K             actions per cached workload chunk (default 2000)
  --pipeline            the node's --pipeline: execute block N+1 while block N is written
  --chained-batch       experiment: write each block's batch with classic-level's chained form
  --hash-sites          attribute every hash to its call site (slow: diagnosis only)
  --cpu-prof FILE       write a CPU profile of the main thread (the node and the driver) during the load (.cpuprofile)
  --quiet               no log lines (the table is still printed)`;

export function parseArgs(argv: string[]): BenchOptions {
  const o: BenchOptions = { ...defaultBenchOptions };
  const num = (v: string | undefined, name: string, min: number): number => {
    const x = Number(v);
    if (v === undefined || !Number.isFinite(x) || x < min) throw new Error(`${name} needs a number >= ${min}\n${USAGE}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = () => argv[++i];
    switch (a) {
      case '--accounts':
        o.accounts = Math.floor(num(v(), a, 1));
        break;
      case '--markets':
        o.markets = Math.floor(num(v(), a, 1));
        break;
      case '--duration':
        o.duration = num(v(), a, 0.1);
        break;
      case '--block-time-ms':
        o.blockTimeMs = Math.floor(num(v(), a, 1));
        break;
      case '--mode': {
        const m = v();
        if (m !== 'inprocess' && m !== 'rpc') throw new Error(`--mode must be inprocess or rpc\n${USAGE}`);
        o.mode = m;
        break;
      }
      case '--crypto': {
        const c = v();
        if (c !== 'js' && c !== 'native' && c !== 'auto') throw new Error(`--crypto must be js or native\n${USAGE}`);
        o.crypto = c;
        break;
      }
      case '--json':
        o.json = v();
        if (!o.json) throw new Error(`--json needs a path\n${USAGE}`);
        break;
      case '--replay':
        o.replay = true;
        break;
      case '--seed':
        o.seed = Math.floor(num(v(), a, 0));
        break;
      case '--window':
        o.window = Math.floor(num(v(), a, 1));
        break;
      case '--rate':
        o.rate = num(v(), a, 0);
        break;
      case '--no-pool':
        o.pool = false;
        break;
      case '--pool-size':
        o.poolSize = Math.floor(num(v(), a, 1));
        break;
      case '--state-cache-entries':
        o.stateCacheEntries = Math.floor(num(v(), a, 1));
        break;
      case '--cache-dir':
        o.cacheDir = v() ?? o.cacheDir;
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--prepare-only':
        o.prepareOnly = true;
        break;
      case '--chunk':
        o.chunk = Math.floor(num(v(), a, 10));
        break;
      case '--chained-batch':
        o.chainedBatch = true;
        break;
      case '--pipeline':
        o.pipeline = true;
        break;
      case '--hash-sites':
        o.hashSites = true;
        break;
      case '--cpu-prof':
        o.cpuProf = v();
        if (!o.cpuProf) throw new Error(`--cpu-prof needs a path\n${USAGE}`);
        break;
      case '--quiet':
        o.quiet = true;
        break;
      case '--no-progress':
        o.progress = false;
        break;
      case '-h':
      case '--help':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  if (o.markets > 64) throw new Error('--markets must be at most 64');
  const r = roles(o.accounts, o.markets);
  if (o.accounts < r.minAccounts) throw new Error(`--accounts must be at least ${r.minAccounts} for ${o.markets} markets (makers, degens and takers)`);
  return o;
}

/** Remembered action rates, so the next run signs enough workload ahead. */
function rateFile(cacheDir: string): string {
  return join(cacheDir, 'rates.json');
}
function readRates(cacheDir: string): Record<string, number> {
  try {
    return JSON.parse(readFileSync(rateFile(cacheDir), 'utf8'));
  } catch {
    return {};
  }
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const say = (s: string) => {
    if (!o.quiet) process.stderr.write(`[bench] ${s}\n`);
  };
  const progress = new Progress(o.progress && !o.quiet);
  const tPrep = performance.now();
  const loadAtStart = loadavg()[0]!;
  // The run's backend, chosen once for the process with the counting wrapper around it; worker
  // threads building caches use the fastest one (backends are bit-exact).
  let native: CryptoBackend | null = null;
  try {
    native = (await import('../node/crypto/native.ts')).loadNativeBackend();
  } catch (e) {
    if (o.crypto === 'native') throw new Error(`--crypto native: ${(e as Error).message}`);
  }
  const runCrypto: 'js' | 'native' = o.crypto === 'auto' ? (native ? 'native' : 'js') : o.crypto;
  const buildCrypto: 'js' | 'native' = native ? 'native' : 'js';
  const counting = await useCounting(runCrypto);
  mkdirSync(o.cacheDir, { recursive: true });
  let taskPool: TaskPool | null = null;
  const tasks = async () => (taskPool ??= await TaskPool.create(buildCrypto));
  let vpool: VerifyPool | null = null;
  let node: RunningNode | null = null;
  const runDir = join(o.cacheDir, 'runs', `run-${process.pid}`);
  const replayDir = join(o.cacheDir, 'runs', `replay-${process.pid}`);
  try {
    const accounts = await ensureKeys(o.cacheDir, o.seed, o.accounts, tasks, progress);
    const snap = await ensureSnapshot(o.cacheDir, { markets: o.markets, accounts, seed: o.seed, buildCrypto, log: say }, tasks, progress);
    const g = loadGenesis(snap.genesisPath);
    const rates = readRates(o.cacheDir);
    const rateKey = `${runCrypto}-${o.mode}`;
    const expected = o.rate > 0 ? o.rate : (rates[rateKey] ?? (runCrypto === 'native' ? 1500 : 150));
    // Enough for the expected pace, and whatever is already signed (loading is cheap).
    const chunks = Math.max(1, Math.ceil((o.duration * expected * 1.5) / o.chunk) + 1, cachedChunks(o.cacheDir, snap.id, accounts.length, o.seed, o.chunk));
    const events = await loadWorkload({ cacheDir: o.cacheDir, chunk: o.chunk, genesisId: snap.id, g, accounts, seed: o.seed }, chunks, tasks, progress);
    if (taskPool) await (taskPool as TaskPool).close();
    taskPool = null;
    const prepareSeconds = (performance.now() - tPrep) / 1000;
    say(`prepared in ${prepareSeconds.toFixed(1)} s: ${accounts.length} accounts (snapshot at block ${snap.head}), ${events.length} signed actions`);
    if (o.prepareOnly) return null as unknown as BenchReport;

    // ---- the crypto floor, on this machine, now ---------------------------------------------
    const keyByAddr = new Map(accounts.map((a) => [a.addr, a.pk]));
    const samples = events
      .filter((e) => e.k === 'o')
      .slice(0, 200)
      .map((e) => ({ signed: (e as { signed: any }).signed, key: keyByAddr.get((e as { signed: any }).signed.order.account)! }));
    const rates0 = measureCrypto(runCrypto, samples);
    say(`crypto (${runCrypto}): ${rates0.verifyPerSec.toFixed(0)} verifications/s, ${rates0.poseidonPerSec.toFixed(0)} Poseidon/s, ${rates0.pedersenPerSec.toFixed(0)} Pedersen/s`);

    // ---- the run ------------------------------------------------------------------------------
    copySnapshot(snap, runDir);
    const sites = o.hashSites ? new Map<string, number>() : undefined;
    counting.sites = sites;
    if (o.pool) vpool = await VerifyPool.create({ backend: runCrypto, size: o.poolSize });
    // The node's clock: the bench epoch (the genesis time plus a minute) at start, then real
    // time; the expiry step below moves it past every order's expiry.
    const epochMs = Number(benchEpochS(g)) * 1000;
    let clockSkewMs = 0;
    const tStart = performance.now();
    const clock = () => Math.floor(epochMs + (performance.now() - tStart) + clockSkewMs);
    node = await startSequencer({
      clock,
      dataDir: runDir,
      genesisPath: snap.genesisPath,
      rpcHost: '127.0.0.1',
      rpcPort: 0,
      adminPort: null,
      feeder: 'off',
      blockTimeMs: o.blockTimeMs,
      log: createLogger(o.quiet ? 'silent' : 'warn', 'bench-node'),
      // The bench is one client (127.0.0.1) playing thousands of wallets: lift the per-client
      // and per-account trading limits and the per-IP HTTP rate, which would otherwise bound it.
      rpc: { perp: { accountRatePerSec: 1e9, accountBurst: 1e9, clientRatePerSec: 1e9, clientBurst: 1e9 } },
      http: { ratePerSec: 1e9, burst: 1e9 },
      stateCacheEntries: o.stateCacheEntries,
      stateCheck: 'while-serving', // as `perpnode start`: serving, then the digest check, then trading
      pipeline: o.pipeline,
    });
    const startupSeconds = (performance.now() - tStart) / 1000;
    await node.stateChecked;
    if (node.producer.halted) throw new Error(`the bench node halted at start: ${node.producer.halted}`);
    const checkedSeconds = (performance.now() - tStart) / 1000;
    if (node.producer.head.header.timestamp * 1000n >= BigInt(epochMs)) throw new Error(`the snapshot's head block is newer than the bench epoch (${epochMs / 1000}): delete ${snap.dir} to rebuild it`);
    const cache0 = node.chain.world.cacheStats();
    const prefetched0 = node.chain.world.prefetched;
    const rssAfterStart = process.memoryUsage().rss;
    say(`node serving in ${startupSeconds.toFixed(1)} s, state checked (accepting transactions) in ${checkedSeconds.toFixed(1)} s, RSS ${(rssAfterStart / 2 ** 20).toFixed(0)} MB`);
    const producer = node.producer;
    if (o.chainedBatch) useChainedBatch(node.chain.db);
    const written = countBatchBytes(node.chain.db);
    producer.sigCache.attachPool(vpool);
    producer.stats.hashCounter = counting.total;
    const startHead = producer.head.number;
    const blocks: { at: number; block: Block }[] = [];
    producer.m.chain.events.on((e) => void (e.type === 'sealed' && blocks.push({ at: performance.now(), block: e.block })));
    let peakRss = process.memoryUsage().rss;
    const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    const counts0 = { ...counting.counts };
    written.bytes = 0;
    const sig0 = { ...producer.sigCache.stats };
    const pool0 = vpool ? { ...vpool.stats } : { jobs: 0, invalid: 0, batches: 0 };
    say(`running ${o.duration} s (${o.mode}, crypto ${runCrypto}, block time ${o.blockTimeMs} ms, ${o.window} in flight${o.pool ? `, ${o.poolSize} signature workers` : ''})`);
    if (progress.enabled) progress.start('load', o.duration * 1000);
    const prof = o.cpuProf ? await startProfile() : null;
    const d = await drive(node, events, {
      mode: o.mode,
      durationMs: o.duration * 1000,
      window: o.window,
      rate: o.rate,
      ingressPool: o.pool,
      onTick: (ms, c) => progress.set(ms, `orders ${c.submitted.orders} trades ${c.fills} blocks ${blocks.length}`),
    });
    progress.done();
    await producer.sealNow();
    if (prof && o.cpuProf) {
      writeFileSync(o.cpuProf, JSON.stringify(await prof.stop()));
      say(`CPU profile of the load written to ${o.cpuProf}`);
    }
    const tEnd = blocks.length ? blocks[blocks.length - 1]!.at : d.endedAt;
    clearInterval(rssTimer);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const counts = { poseidon: counting.counts.poseidon - counts0.poseidon, pedersen: counting.counts.pedersen - counts0.pedersen };
    const sigStats = { hits: producer.sigCache.stats.hits - sig0.hits, inline: producer.sigCache.stats.inline - sig0.inline };
    const poolStats = vpool ? { jobs: vpool.stats.jobs - pool0.jobs, invalid: vpool.stats.invalid - pool0.invalid } : { jobs: 0, invalid: 0 };
    const timings = producer.stats.recent.filter((t) => t.number > startHead);
    const bytesWritten = written.bytes;
    const cache1 = node.chain.world.cacheStats();
    const prefetched1 = node.chain.world.prefetched;
    const slots = await storageSlots(node, blocks.map((b) => b.block.header.block_number));
    const contracts = (node.chain.world as { contracts?: Map<bigint, unknown> }).contracts?.size ?? o.accounts + 2;
    const loadBlocks = blocks.slice();

    // ---- the expiry step: every order of the workload is done --------------------------------
    // The clock moves past every order's expiry (a day: the oracle is then stale, so no funding
    // or liquidation runs) and blocks are sealed until PRUNE_ORDERS has deleted every record of
    // the run's orders; the storage slots of load + expiry are what the orders left behind.
    clockSkewMs += (Number(orderExpiry(g)) + 1) * 1000 - clock();
    const nowS = () => BigInt(Math.floor(clock() / 1000));
    let expiryBlocks = 0;
    while (node.exchange.pruneDue(nowS()) || expiryBlocks === 0) {
      if (++expiryBlocks > 10_000) throw new Error('the expiry step did not finish: PRUNE_ORDERS left records after 10,000 blocks');
      await producer.sealNow(true);
    }
    await producer.sealNow(true); // records a proof pruned into the open block
    if (producer.halted) throw new Error(`the bench node halted in the expiry step: ${producer.halted}`);
    const expirySlots = await storageSlots(node, blocks.slice(loadBlocks.length).map((b) => b.block.header.block_number));
    const pruned = blocks.slice(loadBlocks.length).reduce((a, b) => a + b.block.transactions.filter((t) => (t.body as { type?: string }).type === 'PRUNE_ORDERS').length, 0);
    const leftover = await leftoverSlots(
      node,
      blocks.map((b) => b.block.header.block_number),
      events.slice(0, d.consumed).flatMap((e) => (e.k === 'o' ? [e.signed.hash] : [])),
    );
    say(`expiry step: ${blocks.length - loadBlocks.length} blocks, ${pruned} PRUNE_ORDERS transactions, ${expirySlots.deleted} slots deleted; slots the run created that remain: ${leftover.orderRecords} order records, ${leftover.exchange} exchange, ${leftover.accounts} account`);
    await node.stop();
    node = null;
    counting.sites = undefined;
    const seconds = (tEnd - d.startedAt) / 1000;
    const dbBytes = dirSize(runDir);

    const txTypes: Record<string, number> = {};
    for (const { block } of loadBlocks) for (const t of block.transactions) {
      const ty = (t.body as { type?: string }).type ?? '?';
      txTypes[ty] = (txTypes[ty] ?? 0) + 1;
    }
    const trades = txTypes.TRADE ?? 0;
    const intervals: number[] = [];
    let prev = d.startedAt;
    for (const b of loadBlocks) {
      intervals.push(b.at - prev);
      prev = b.at;
    }
    const nb = Math.max(1, timings.length);
    const sum = (k: keyof (typeof timings)[number]) => timings.reduce((a, t) => a + (t[k] as number), 0);
    const perBlock: Record<string, number> = {
      sig_checks: sum('sigMs') / nb,
      execution: sum('execMs') / nb,
      system_txs: sum('systemMs') / nb,
      guards: sum('guardMs') / nb,
      trie_hashing: sum('trieMs') / nb,
      commitments: sum('commitmentsMs') / nb,
      signing: sum('signMs') / nb,
      commit: sum('commitMs') / nb,
    };
    const hashesTotal = sum('hashes') / nb;
    const hashesTrie = sum('trieHashes') / nb;
    const hashesCommit = sum('commitmentHashes') / nb;
    const poseidonPerTrade = trades ? counts.poseidon / trades : 0;
    const pedersenPerTrade = trades ? counts.pedersen / trades : 0;
    const floor = floorOf(rates0, poseidonPerTrade, pedersenPerTrade, availableParallelism());
    const tradesPerSec = trades / seconds;
    const minimal = minimalHashes({ trades, txs: loadBlocks.reduce((a, b) => a + b.block.transactions.length, 0), blocks: loadBlocks.length, touchedPerBlock: slots.touchedPerBlock, contracts, markets: o.markets });
    const mfloor = minimalFloor(minimal, rates0.verifyPerSec, rates0.poseidonPerSec, availableParallelism());
    const r = roles(o.accounts, o.markets);
    const report: BenchReport = {
      version: 1,
      params: {
        accounts: o.accounts,
        markets: o.markets,
        duration_s: o.duration,
        block_time_ms: o.blockTimeMs,
        mode: o.mode,
        crypto: runCrypto,
        seed: o.seed,
        window: o.window,
        rate: o.rate,
        replay: o.replay,
        chained_batch: o.chainedBatch,
        pipeline: o.pipeline === true,
        ingress_pool: !o.pool ? 'off' : o.mode === 'inprocess' ? `${o.poolSize} workers (bench ingress)` : `${o.poolSize} workers (the perp_* handlers, batched per event-loop turn)`,
      },
      machine: { cpus: availableParallelism(), node: process.version, platform: `${process.platform}-${process.arch}`, loadavg_at_start: loadAtStart },
      setup: { snapshot: snap.dir, snapshot_head: snap.head, roles: { makers_per_market: r.makersPerMarket, degens: r.degens, takers: r.takers }, workload_actions: events.length, prepare_seconds: prepareSeconds },
      run: {
        seconds,
        actions_submitted: d.consumed,
        orders_submitted: d.submitted.orders,
        orders_accepted: d.accepted.orders,
        orders_per_s: d.accepted.orders / seconds,
        cancels: d.accepted.cancels,
        oracle_updates: d.accepted.oracle,
        oracle_updates_skipped: d.oracleSkipped,
        cancels_skipped: d.cancelsSkipped,
        trades,
        trades_per_s: tradesPerSec,
        liquidations: (txTypes.LIQUIDATE ?? 0) + (txTypes.ADL ?? 0),
        funding_txs: txTypes.FUNDING ?? 0,
        blocks: loadBlocks.length,
        blocks_per_s: loadBlocks.length / seconds,
        txs_per_block: dist(loadBlocks.map((b) => b.block.transactions.length)),
        tx_types: txTypes,
        block_interval_ms: dist(intervals),
        seal_ms: dist(timings.map((t) => t.sealMs)),
        ack_latency_ms: o.mode === 'rpc' ? dist(d.ackMs) : null,
        submit_latency_ms: dist(d.ackMs),
        per_block_ms: perBlock,
        hashes_per_block: { total: hashesTotal, trie: hashesTrie, commitments: hashesCommit, other: hashesTotal - hashesTrie - hashesCommit },
        hashes_per_trade: { poseidon_permutations: poseidonPerTrade, pedersen: pedersenPerTrade },
        signatures: { checks_in_execution: sum('sigChecks'), cache_hits: sigStats.hits, inline_verifies: sigStats.inline, pool_jobs: poolStats.jobs, pool_invalid: poolStats.invalid },
        rejections: d.rejected,
        peak_rss_mb: peakRss / 2 ** 20,
        startup_s: startupSeconds,
        state_checked_s: checkedSeconds,
        rss_after_start_mb: rssAfterStart / 2 ** 20,
        state_cache: {
          capacity: cache1.capacity,
          entries_after_start: cache0.entries,
          entries: cache1.entries,
          leveldb_reads_per_trade: trades ? (cache1.reads - cache0.reads) / trades : 0,
          prefetched_per_trade: trades ? (prefetched1 - prefetched0) / trades : 0,
          hits_per_trade: trades ? (cache1.hits - cache0.hits) / trades : 0,
          evictions: cache1.evictions - cache0.evictions,
        },
        storage_slots_per_trade: { created: trades ? slots.created / trades : 0, deleted: trades ? slots.deleted / trades : 0, net: trades ? (slots.created - slots.deleted) / trades : 0, written: trades ? slots.written / trades : 0 },
        storage_slots_per_trade_after_expiry: {
          created: trades ? (slots.created + expirySlots.created) / trades : 0,
          deleted: trades ? (slots.deleted + expirySlots.deleted) / trades : 0,
          net: trades ? (slots.created + expirySlots.created - slots.deleted - expirySlots.deleted) / trades : 0,
          expiry_blocks: blocks.length - loadBlocks.length,
          prune_txs: pruned,
          remaining: { order_records: leftover.orderRecords, exchange: leftover.exchange, accounts: leftover.accounts },
        },
        db_bytes_written_per_trade: trades ? bytesWritten / trades : 0,
        touched_contracts_per_block: slots.touchedPerBlock,
        db_size_mb: dbBytes / 2 ** 20,
        workload_exhausted: d.exhausted,
      },
      crypto_floor: { ...rates0, ...floor, achieved_over_floor_1core: tradesPerSec / floor.tradesPerSec1Core, achieved_over_floor: tradesPerSec / floor.tradesPerSecAllCores },
      real_floor: {
        minimal_hashes_per_trade: minimal.total,
        main_thread: minimal.mainThread,
        off_thread: minimal.offThread,
        terms: minimal.terms,
        contracts,
        ...mfloor,
        achieved_over_floor_1core: tradesPerSec / mfloor.tradesPerSec1Core,
        achieved_over_floor: tradesPerSec / mfloor.tradesPerSecAllCores,
      },
      replay: null,
    };
    // Remember the pace for the next run's workload size.
    if (!d.exhausted || (rates[rateKey] ?? 0) < d.consumed / seconds) {
      rates[rateKey] = Math.max(50, d.consumed / ((d.endedAt - d.startedAt) / 1000));
      writeFileSync(rateFile(o.cacheDir), JSON.stringify(rates, null, 2));
    }

    if (o.replay) {
      say(`replaying the load's ${loadBlocks.length} blocks into a fresh data directory`);
      copySnapshot(snap, replayDir);
      if (progress.enabled) progress.start('replay', loadBlocks.length);
      const upTo = loadBlocks.at(-1)?.block.header.block_number;
      const rep = await replayRun({ producedDir: runDir, freshDir: replayDir, genesisPath: snap.genesisPath, pool: vpool, upTo, onBlock: (n) => progress.set(n) });
      progress.done();
      const n = Math.max(1, rep.timing.blocks);
      const { timing, ...rest } = rep;
      report.replay = {
        ...rest,
        per_block_ms: { header: timing.headerMs / n, execution: timing.execMs / n, trie_hashing: timing.trieMs / n, commitments: timing.commitmentsMs / n, commit: timing.commitMs / n },
      };
    }
    if (sites) report.run.hash_sites_per_trade = Object.fromEntries([...sites].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, trades ? v / trades : v]));
    return report;
  } finally {
    progress.done();
    if (node) await node.stop().catch(() => undefined);
    if (vpool) await vpool.close();
    if (taskPool) await (taskPool as TaskPool).close();
    if (!o.keep) {
      rmSync(runDir, { recursive: true, force: true });
      rmSync(replayDir, { recursive: true, force: true });
    }
  }
}

/** A CPU profile of this thread from now until stop() (the inspector's sampling profiler). */
async function startProfile(): Promise<{ stop: () => Promise<unknown> }> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return {
    stop: async () => {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      return profile;
    },
  };
}

/**
 * Counts the bytes (keys + values) of every batch written to `db` from now on, in both of
 * classic-level's forms (array and chained), without changing what is written.
 */
function countBatchBytes(db: Db): { bytes: number } {
  const c = { bytes: 0 };
  const orig = db.batch.bind(db) as (...a: unknown[]) => unknown;
  const len = (x: unknown) => (x instanceof Uint8Array ? x.length : typeof x === 'string' ? Buffer.byteLength(x) : 0);
  (db as unknown as { batch: (...a: unknown[]) => unknown }).batch = (...args: unknown[]) => {
    if (args.length > 0) {
      for (const op of args[0] as { key: unknown; value?: unknown }[]) c.bytes += len(op.key) + len(op.value);
      return orig(...args);
    }
    const b = orig() as { put: (k: unknown, v: unknown) => unknown; del: (k: unknown) => unknown };
    const put = b.put.bind(b);
    const del = b.del.bind(b);
    b.put = (k, v) => {
      c.bytes += len(k) + len(v);
      return put(k, v);
    };
    b.del = (k) => {
      c.bytes += len(k);
      return del(k);
    };
    return b;
  };
  return c;
}

/**
 * Storage slots the run's blocks created (previous value 0), deleted (new value 0) and wrote,
 * and the distinct contracts each block changed, from the stored state and reverse diffs.
 */
async function storageSlots(node: RunningNode, numbers: bigint[]): Promise<{ created: number; deleted: number; written: number; touchedPerBlock: number }> {
  let created = 0;
  let deleted = 0;
  let written = 0;
  let touched = 0;
  for (const n of numbers) {
    const rev = await node.chain.chain.reverseDiff(n);
    const sd = await node.chain.chain.stateDiff(n);
    if (!rev || !sd) continue;
    for (const e of rev.storage) if (e.prev === 0n) created++;
    const addrs = new Set<string>();
    for (const s of sd.storage_diffs ?? []) {
      addrs.add(String(s.address));
      for (const e of s.storage_entries ?? []) {
        written++;
        if (BigInt(e.value) === 0n) deleted++;
      }
    }
    for (const x of sd.nonces ?? []) addrs.add(String(x.contract_address));
    for (const x of sd.deployed_contracts ?? []) addrs.add(String(x.address));
    touched += addrs.size;
  }
  return { created, deleted, written, touchedPerBlock: numbers.length ? touched / numbers.length : 0 };
}

/**
 * The storage slots the given blocks created (previous value 0) that still hold a value at the
 * head, by kind: order records (an order word of one of `orderHashes`), exchange slots (holder
 * lists, market state) and account slots (collateral, positions).
 */
async function leftoverSlots(node: RunningNode, numbers: bigint[], orderHashes: Iterable<bigint>): Promise<{ orderRecords: number; exchange: number; accounts: number }> {
  const words = new Set<bigint>();
  for (const h of orderHashes) words.add(orderKey(h));
  const created = new Map<string, { address: bigint; key: bigint }>();
  for (const n of numbers) for (const e of (await node.chain.chain.reverseDiff(n))?.storage ?? []) if (e.prev === 0n) created.set(`${e.address}:${e.key}`, e);
  const out = { orderRecords: 0, exchange: 0, accounts: 0 };
  const exchange = node.chain.genesis.exchange.exchangeAddress;
  for (const { address, key } of created.values()) {
    if (node.chain.world.getStorage(address, key) === 0n) continue;
    if (words.has(key)) out.orderRecords++;
    else if (address === exchange) out.exchange++;
    else out.accounts++;
  }
  return out;
}

/**
 * --chained-batch: routes the node's `db.batch(opsArray, options)` calls through writeBatch
 * (the chained form: same ops, one atomic batch, same sync), to measure that proposal without
 * editing the producer.
 */
function useChainedBatch(db: Db): void {
  const orig = db.batch.bind(db) as (...a: unknown[]) => unknown;
  (db as unknown as { batch: (...a: unknown[]) => unknown }).batch = (...args: unknown[]) =>
    args.length === 0 ? orig() : writeBatch(db, args[0] as DbOp[], (args[1] as { sync?: boolean }) ?? {});
}

async function main(): Promise<void> {
  let o: BenchOptions;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  const report = await runBench(o);
  if (!report) return;
  process.stdout.write(table(report));
  if (o.json) {
    writeFileSync(o.json, JSON.stringify(report, null, 2) + '\n');
    if (!o.quiet) process.stderr.write(`[bench] report written to ${o.json}\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('bench/run.ts')) {
  main().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}

