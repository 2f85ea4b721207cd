/** The benchmark report: one JSON object (schema below) and its table for stdout. */
import type { Floor, CryptoRates } from './floor.ts';
import type { ReplayReport } from './replay.ts';

export interface Dist {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  n: number;
}

export function dist(xs: readonly number[]): Dist {
  if (xs.length === 0) return { p50: 0, p99: 0, max: 0, mean: 0, n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(f * s.length) - 1))]!;
  return { p50: q(0.5), p99: q(0.99), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
}

export interface BenchReport {
  version: 1;
  params: { accounts: number; markets: number; duration_s: number; block_time_ms: number; mode: string; crypto: string; seed: number; window: number; rate: number; replay: boolean; chained_batch: boolean; pipeline: boolean; ingress_pool: string };
  machine: { cpus: number; node: string; platform: string; loadavg_at_start: number };
  setup: { snapshot: string; snapshot_head: number; roles: { makers_per_market: number; degens: number; takers: number }; workload_actions: number; prepare_seconds: number };
  run: {
    seconds: number;
    actions_submitted: number;
    orders_submitted: number;
    orders_accepted: number;
    orders_per_s: number;
    cancels: number;
    oracle_updates: number;
    /** Workload oracle updates not sent (one per clock second at most: lib/driver.ts). */
    oracle_updates_skipped: number;
    /** Workload cancels not sent because their order was refused (lib/driver.ts). */
    cancels_skipped: number;
    trades: number;
    trades_per_s: number;
    liquidations: number;
    funding_txs: number;
    blocks: number;
    blocks_per_s: number;
    txs_per_block: Dist;
    tx_types: Record<string, number>;
    block_interval_ms: Dist;
    seal_ms: Dist;
    ack_latency_ms: Dist | null;
    submit_latency_ms: Dist;
    per_block_ms: Record<string, number>;
    hashes_per_block: { total: number; trie: number; commitments: number; other: number };
    hashes_per_trade: { poseidon_permutations: number; pedersen: number };
    signatures: { checks_in_execution: number; cache_hits: number; inline_verifies: number; pool_jobs: number; pool_invalid: number };
    rejections: Record<string, number>;
    peak_rss_mb: number;
    /** startSequencer on the snapshot copy: until it serves JSON-RPC (reads). */
    startup_s: number;
    /** Until its start-up digest check passed and it accepts transactions (--state-check while-serving). */
    state_checked_s: number;
    rss_after_start_mb: number;
    /** The node's flat-state cache (node/state/world.ts): reads are LevelDB getSync calls. */
    state_cache?: { capacity: number; entries_after_start: number; entries: number; leveldb_reads_per_trade: number; prefetched_per_trade: number; hits_per_trade: number; evictions: number };
    /** Storage slots per trade: created (were 0), deleted (became 0), net, and all slots written. */
    storage_slots_per_trade: { created: number; deleted: number; net: number; written: number };
    /** The same over the load and the expiry step (the clock moved past every order's expiry, PRUNE_ORDERS ran): what trading leaves in the state once its orders are done. */
    storage_slots_per_trade_after_expiry: { created: number; deleted: number; net: number; expiry_blocks: number; prune_txs: number; remaining: { order_records: number; exchange: number; accounts: number } };
    /** Keys + values of every LevelDB batch written during the load, per trade. */
    db_bytes_written_per_trade: number;
    touched_contracts_per_block: number;
    db_size_mb: number;
    workload_exhausted: boolean;
    /** With --hash-sites: Poseidon permutations + Pedersen hashes per trade, by call site. */
    hash_sites_per_trade?: Record<string, number>;
  };
  crypto_floor: CryptoRates & Floor & { achieved_over_floor_1core: number; achieved_over_floor: number };
  /** The floor of the workload at its minimal hash count (bench/lib/minimal.ts, README "The real floor"). */
  real_floor: {
    minimal_hashes_per_trade: number;
    main_thread: number;
    off_thread: number;
    terms: Record<string, number>;
    contracts: number;
    cryptoSecondsPerTrade: number;
    tradesPerSec1Core: number;
    tradesPerSecAllCores: number;
    achieved_over_floor_1core: number;
    achieved_over_floor: number;
  };
  replay: (Omit<ReplayReport, 'timing'> & { per_block_ms: Record<string, number> }) | null;
}

const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');

export function table(r: BenchReport): string {
  const p = r.params;
  const u = r.run;
  const rows: [string, string][] = [];
  const sec = (t: string) => rows.push([`— ${t}`, '']);
  sec(`perpnode block-throughput bench: ${p.accounts.toLocaleString('en-US')} accounts, ${p.markets} markets, ${p.duration_s}s, block time ${p.block_time_ms} ms, ${p.mode}, crypto ${p.crypto}${p.chained_batch ? ', chained-batch experiment' : ''}`);
  rows.push(['orders/s accepted', `${f0(u.orders_per_s)}  (${f0(u.orders_accepted)} of ${f0(u.orders_submitted)} orders; ${f0(u.cancels)} cancels (${f0(u.cancels_skipped)} of refused orders not sent), ${f0(u.oracle_updates)} oracle updates, ${f0(u.oracle_updates_skipped)} skipped: one per second)`]);
  rows.push(['trades/s settled', `${f1(u.trades_per_s)}  (${f0(u.trades)} trades, ${f0(u.liquidations)} liquidations, ${f0(u.funding_txs)} funding txs)`]);
  rows.push(['blocks/s', `${f2(u.blocks_per_s)}  (${u.blocks} blocks)`]);
  rows.push(['txs per block', `mean ${f1(u.txs_per_block.mean)}, p50 ${f0(u.txs_per_block.p50)}, max ${f0(u.txs_per_block.max)}`]);
  rows.push(['block time ms', `p50 ${f0(u.block_interval_ms.p50)}, p99 ${f0(u.block_interval_ms.p99)}, max ${f0(u.block_interval_ms.max)}  (seal p50 ${f0(u.seal_ms.p50)}, p99 ${f0(u.seal_ms.p99)}, max ${f0(u.seal_ms.max)})`]);
  if (u.ack_latency_ms) rows.push(['order ack latency ms (rpc)', `p50 ${f1(u.ack_latency_ms.p50)}, p99 ${f1(u.ack_latency_ms.p99)}, max ${f1(u.ack_latency_ms.max)}`]);
  rows.push(['submit latency ms (in flight ' + p.window + ')', `p50 ${f1(u.submit_latency_ms.p50)}, p99 ${f1(u.submit_latency_ms.p99)}`]);
  const pb = u.per_block_ms;
  rows.push(['time per block ms', Object.entries(pb).map(([k, v]) => `${k} ${f1(v)}`).join(', ')]);
  rows.push(['hashes per block', `${f0(u.hashes_per_block.total)} (trie ${f0(u.hashes_per_block.trie)}, commitments ${f0(u.hashes_per_block.commitments)}, execution ${f0(u.hashes_per_block.other)})`]);
  rows.push(['hashes per trade', `${f1(u.hashes_per_trade.poseidon_permutations)} Poseidon permutations, ${f2(u.hashes_per_trade.pedersen)} Pedersen`]);
  rows.push(['signatures', `${f0(u.signatures.checks_in_execution)} checks in execution, ${f0(u.signatures.cache_hits)} cache hits, ${f0(u.signatures.inline_verifies)} inline, ${f0(u.signatures.pool_jobs)} on the pool (ingress: ${p.ingress_pool})`]);
  rows.push(['peak RSS / DB size', `${f0(u.peak_rss_mb)} MB / ${f0(u.db_size_mb)} MB`]);
  rows.push(['startup', `${f1(u.startup_s)} s to serving, ${f1(u.state_checked_s)} s to accepting transactions (state checked), RSS ${f0(u.rss_after_start_mb)} MB at ${p.accounts.toLocaleString('en-US')} accounts`]);
  if (u.state_cache) {
    const c = u.state_cache;
    rows.push(['state cache', `${c.entries.toLocaleString('en-US')} of ${c.capacity.toLocaleString('en-US')} entries (${c.entries_after_start} after start); per trade ${f2(c.leveldb_reads_per_trade)} synchronous LevelDB reads, ${f2(c.prefetched_per_trade)} prefetched, ${f1(c.hits_per_trade)} hits; ${c.evictions} evictions`]);
  }
  const sl = u.storage_slots_per_trade;
  rows.push(['storage slots per trade', `${f2(sl.created)} created, ${f2(sl.deleted)} deleted, net ${f2(sl.net)} (${f1(sl.written)} written; ${f0(u.touched_contracts_per_block)} contracts touched per block)`]);
  const se = u.storage_slots_per_trade_after_expiry;
  rows.push(['slots once orders are done', `net ${f2(se.net)} per trade (${f2(se.created)} created, ${f2(se.deleted)} deleted over the load and the expiry step: ${f0(se.expiry_blocks)} blocks, ${f0(se.prune_txs)} PRUNE_ORDERS); left: ${f0(se.remaining.order_records)} order records, ${f0(se.remaining.accounts)} account slots (positions), ${f0(se.remaining.exchange)} exchange slots`]);
  rows.push(['LevelDB bytes per trade', `${f0(u.db_bytes_written_per_trade)} B written (keys + values of every batch)`]);
  const rej = Object.entries(u.rejections).sort((a, b) => b[1] - a[1]);
  if (rej.length) rows.push(['rejections', rej.slice(0, 8).map(([k, v]) => `${k} ${v}`).join(', ')]);
  if (r.machine.loadavg_at_start > r.machine.cpus * 0.5) rows.push(['NOTE', `load average ${r.machine.loadavg_at_start.toFixed(1)} on ${r.machine.cpus} cores when the run started: other processes share the CPU`]);
  if (u.workload_exhausted) rows.push(['NOTE', 'the pre-signed workload ran out before the duration; the next run signs more']);
  if (u.hash_sites_per_trade) {
    sec('hashes per trade by call site (--hash-sites)');
    for (const [k, v] of Object.entries(u.hash_sites_per_trade).slice(0, 25)) rows.push([k, f2(v)]);
  }
  const c = r.crypto_floor;
  sec(`crypto floor (${c.backend} backend, measured in this run)`);
  rows.push(['verifications/s', f0(c.verifyPerSec)]);
  rows.push(['hashes/s', `Poseidon ${f0(c.poseidonPerSec)}, Pedersen ${f0(c.pedersenPerSec)}`]);
  rows.push(['crypto per trade', `2 verifications + ${f1(c.poseidonPerTrade)} Poseidon + ${f2(c.pedersenPerTrade)} Pedersen = ${f2(c.cryptoSecondsPerTrade * 1000)} ms`]);
  rows.push(['trades/s crypto allows', `${f1(c.tradesPerSec1Core)} on one core, ${f1(c.tradesPerSecAllCores)} with verification on all ${r.machine.cpus} cores`]);
  rows.push(['achieved / floor', `${f2(c.achieved_over_floor)} (all cores), ${f2(c.achieved_over_floor_1core)} (one core)`]);
  const m = r.real_floor;
  sec('the real floor (minimal hashes under the commitment rules, compact layout: bench/README.md)');
  rows.push(['minimal hashes per trade', `${f1(m.minimal_hashes_per_trade)} Poseidon permutations (${f1(m.main_thread)} sequencer, ${f1(m.off_thread)} order hashes with the signatures): ${Object.entries(m.terms).map(([k, v]) => `${k} ${f1(v)}`).join(', ')}`]);
  rows.push(['trades/s the floor allows', `${f1(m.tradesPerSec1Core)} on one core, ${f1(m.tradesPerSecAllCores)} on all ${r.machine.cpus} cores (2 verifications + ${f1(m.minimal_hashes_per_trade)} permutations = ${f2(m.cryptoSecondsPerTrade * 1000)} ms per trade)`]);
  rows.push(['achieved / real floor', `${f2(m.achieved_over_floor)} (all cores), ${f2(m.achieved_over_floor_1core)} (one core)`]);
  if (r.replay) {
    const x = r.replay;
    sec('replay (follower re-execution into a fresh data dir)');
    rows.push(['blocks/s', `${f2(x.blocksPerSec)}  (${x.blocks} blocks in ${f1(x.seconds)} s, pool ${x.pool ? 'on' : 'off'})`]);
    rows.push(['trades/s', f1(x.tradesPerSec)]);
    rows.push(['time per block ms', Object.entries(x.per_block_ms).map(([k, v]) => `${k} ${f1(v)}`).join(', ')]);
    rows.push(['state root matches', String(x.rootMatches)]);
  }
  const w = Math.max(...rows.map(([k]) => (k.startsWith('—') ? 0 : k.length)));
  return rows.map(([k, v]) => (k.startsWith('—') ? `\n${k}` : `  ${k.padEnd(w)}  ${v}`)).join('\n').trimStart() + '\n';
}
