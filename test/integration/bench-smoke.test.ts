/**
 * Smoke run of the block-throughput benchmark (bench/run.ts): a few seconds on a tiny chain, in
 * both modes, with --replay. Asserts only that a complete report comes out — never timings.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultBenchOptions, parseArgs, runBench } from '../../bench/run.ts';
import { table, type BenchReport } from '../../bench/lib/report.ts';

describe('bench smoke', function () {
  this.timeout(600_000);
  let cacheDir: string;
  before(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'perpnode-bench-smoke-'));
  });
  after(() => rmSync(cacheDir, { recursive: true, force: true }));

  const base = () => ({ ...defaultBenchOptions, accounts: 12, markets: 2, duration: 2, blockTimeMs: 250, chunk: 150, cacheDir, quiet: true, progress: false, window: 32 });

  function expectReport(r: BenchReport, mode: string): void {
    expect(r.version).to.equal(1);
    expect(r.params).to.include({ accounts: 12, markets: 2, mode });
    expect(['js', 'native']).to.include(r.params.crypto);
    for (const k of ['orders_per_s', 'trades_per_s', 'blocks_per_s', 'peak_rss_mb', 'db_size_mb', 'seconds'] as const) expect(r.run[k], k).to.be.a('number').and.not.NaN;
    expect(r.run.orders_submitted).to.be.greaterThan(0);
    expect(r.run.blocks).to.be.greaterThan(0);
    for (const k of ['p50', 'p99', 'max']) {
      expect(r.run.block_interval_ms, 'block time').to.have.property(k);
      expect(r.run.seal_ms, 'seal').to.have.property(k);
    }
    expect(r.run.per_block_ms).to.have.all.keys('sig_checks', 'execution', 'system_txs', 'guards', 'trie_hashing', 'commitments', 'signing', 'commit');
    expect(r.run.hashes_per_block.total).to.be.greaterThan(0); // every block hashes (commitments, trie)
    expect(r.run.db_size_mb).to.be.greaterThan(0);
    for (const k of ['verifyPerSec', 'poseidonPerSec', 'pedersenPerSec', 'tradesPerSec1Core', 'tradesPerSecAllCores', 'achieved_over_floor'] as const) expect(r.crypto_floor[k], k).to.be.a('number');
    expect(r.crypto_floor.verifyPerSec).to.be.greaterThan(0);
    const m = r.real_floor;
    expect(m.minimal_hashes_per_trade).to.equal(m.main_thread + m.off_thread);
    expect(m.main_thread).to.be.closeTo(Object.values(m.terms).reduce((x, y) => x + y, 0), 1e-9);
    if (r.run.trades > 0) {
      // Every trade hashes. (Since the compact order layout a small run hashes fewer than the
      // minimal model's main-thread count: bench/lib/minimal.ts is an estimate with fixed trie
      // sizes and per-transaction terms, not a lower bound for a run this small.)
      expect(r.run.hashes_per_trade.poseidon_permutations).to.be.greaterThan(0);
      expect(r.run.storage_slots_per_trade.written).to.be.greaterThan(0);
      expect(r.run.db_bytes_written_per_trade).to.be.greaterThan(0);
      // The expiry step: once every order of the run is done, PRUNE_ORDERS left none of their records.
      expect(r.run.storage_slots_per_trade_after_expiry.remaining.order_records, 'order records left after expiry').to.equal(0);
      expect(r.run.storage_slots_per_trade_after_expiry.net).to.be.lessThan(r.run.storage_slots_per_trade.net);
    }
    // Oracle prices are stamped when sent: none is refused as stale (they were, when signed in advance).
    expect(r.run.rejections['oracle: ORACLE_STALE'] ?? 0, 'stale oracle updates').to.equal(0);
    expect(r.run.oracle_updates, 'oracle updates accepted').to.be.greaterThan(0);
    expect(r.run.startup_s).to.be.greaterThan(0);
    expect(r.run.state_checked_s, 'trading starts after the digest check, which starts after serving').to.be.at.least(r.run.startup_s);
    expect(r.run.rss_after_start_mb).to.be.greaterThan(0);
    expect(r.run.touched_contracts_per_block).to.be.greaterThan(0);
    const text = table(r);
    for (const s of ['orders/s accepted', 'trades/s settled', 'blocks/s', 'block time ms', 'time per block ms', 'hashes per block', 'peak RSS', 'verifications/s', 'achieved / floor', 'minimal hashes per trade', 'achieved / real floor', 'storage slots per trade', 'LevelDB bytes per trade', 'slots once orders are done', 'startup']) expect(text).to.contain(s);
    if (mode === 'rpc') expect(r.run.ack_latency_ms?.n ?? 0).to.be.greaterThan(0);
  }

  it('inprocess with --replay: produces a full report and the replay reaches the same state root', async () => {
    const r = await runBench({ ...base(), replay: true });
    expectReport(r, 'inprocess');
    expect(r.replay).to.not.equal(null);
    expect(r.replay!.blocks).to.equal(r.run.blocks);
    expect(r.replay!.rootMatches).to.equal(true);
    expect(table(r)).to.contain('state root matches');
  });

  it('rpc mode: orders go through JSON-RPC and ack latency is reported', async () => {
    const r = await runBench({ ...base(), mode: 'rpc' });
    expectReport(r, 'rpc');
    expect(r.replay).to.equal(null);
  });

  it('parses the documented command line and refuses bad values', () => {
    const o = parseArgs(['--accounts', '500', '--markets', '3', '--duration', '7', '--block-time-ms', '200', '--mode', 'rpc', '--crypto', 'js', '--json', 'x.json', '--replay', '--pipeline']);
    expect(o).to.include({ accounts: 500, markets: 3, duration: 7, blockTimeMs: 200, mode: 'rpc', crypto: 'js', json: 'x.json', replay: true, pipeline: true });
    expect(() => parseArgs(['--mode', 'carrier-pigeon'])).to.throw(/--mode/);
    expect(() => parseArgs(['--accounts', '3'])).to.throw(/at least/);
    expect(() => parseArgs(['--bogus'])).to.throw(/unknown option/);
  });
});
