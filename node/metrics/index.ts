/**
 * Prometheus metrics (prom-client), served as text at `GET /metrics` on the admin port. One
 * registry per node (tests run several in one process). Gauges read the node when scraped;
 * counters and histograms move as blocks are sealed or imported and as RPC calls finish.
 * Every name is documented in docs/operations.md#metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Block } from '../chain/block.ts';
import type { BlockTiming, Producer } from '../sequencer/producer.ts';
import type { ExchangeService } from '../sequencer/exchange.ts';
import type { P2PStatus } from '../p2p/index.ts';
import { MODES, type Mode } from '../../contracts-ts/exchange/modes.ts';

/** What a block did, for the log line and the counters. */
export interface BlockSummary {
  number: number;
  txs: number;
  trades: number;
  liquidations: number;
}

export function summarize(b: Block): BlockSummary {
  let trades = 0;
  let liquidations = 0;
  for (const t of b.transactions) {
    const type = (t.body as { type?: string } | null)?.type;
    if (type === 'TRADE') trades++;
    else if (type === 'LIQUIDATE' || type === 'ADL') liquidations++;
  }
  return { number: Number(b.header.block_number), txs: b.transactions.length, trades, liquidations };
}

export interface MetricsSources {
  role: 'sequencer' | 'follower';
  head(): bigint;
  mode(): Mode;
  /** The halt reason, or null while the node runs. */
  halted(): string | null;
  producer?: Producer;
  exchange?: () => ExchangeService | undefined;
  markets: string[];
  p2p?: () => P2PStatus | undefined;
}

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const COUNTS = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly blocks: Counter;
  private readonly txs: Counter;
  private readonly trades: Counter;
  private readonly liquidations: Counter;
  private readonly txsPerBlock: Histogram;
  private readonly tradesPerBlock: Histogram;
  private readonly sealSeconds: Histogram;
  private readonly commitSeconds: Histogram;
  private readonly rpcRequests: Counter<'method'>;
  private readonly rpcErrors: Counter<'method' | 'code'>;
  private readonly rpcSeconds: Histogram<'method'>;

  constructor(src: MetricsSources) {
    const r = this.registry;
    const registers = [r];
    collectDefaultMetrics({ register: r });
    r.setDefaultLabels({ role: src.role });
    new Gauge({ name: 'perpnode_head_block_number', help: 'Number of the head block (the last sealed or imported block)', registers, collect() { this.set(Number(src.head())); } });
    this.blocks = new Counter({ name: 'perpnode_blocks_total', help: 'Blocks sealed (sequencer) or imported (follower) since start', registers });
    this.txs = new Counter({ name: 'perpnode_transactions_total', help: 'Transactions in sealed or imported blocks since start', registers });
    this.trades = new Counter({ name: 'perpnode_trades_total', help: 'TRADE transactions (fills) in sealed or imported blocks since start', registers });
    this.liquidations = new Counter({ name: 'perpnode_liquidations_total', help: 'LIQUIDATE and ADL transactions in sealed or imported blocks since start', registers });
    this.txsPerBlock = new Histogram({ name: 'perpnode_block_transactions', help: 'Transactions per block', buckets: COUNTS, registers });
    this.tradesPerBlock = new Histogram({ name: 'perpnode_block_trades', help: 'Trades per block', buckets: COUNTS, registers });
    this.sealSeconds = new Histogram({ name: 'perpnode_block_seal_seconds', help: 'Sequencer: time to seal a block (system transactions, guards, tries, hash, signature, commit)', buckets: SECONDS, registers });
    this.commitSeconds = new Histogram({ name: 'perpnode_block_commit_seconds', help: "Sequencer: time of a block's durable LevelDB batch (sync write)", buckets: SECONDS, registers });
    const producer = src.producer;
    new Gauge({ name: 'perpnode_mempool_transactions', help: 'Sequencer: transactions executed into the open block, waiting for its seal', registers, collect() { this.set(producer?.openBlock?.txs.length ?? 0); } });
    new Gauge({ name: 'perpnode_lock_queue_depth', help: 'Sequencer: calls waiting for the block lock (transactions and seals)', registers, collect() { this.set(producer?.lock.queued ?? 0); } });
    const book = (side: 'bids' | 'asks', what: 'levels' | 'size') =>
      function (this: Gauge<'market' | 'side'>) {
        const ex = src.exchange?.();
        if (!ex) return;
        for (const m of src.markets) {
          const d = ex.matcher.depth(m, 1_000_000)[side];
          this.set({ market: m, side: side === 'bids' ? 'bid' : 'ask' }, what === 'levels' ? d.length : Number(d.reduce((a, [, s]) => a + s, 0n)));
        }
      };
    new Gauge({
      name: 'perpnode_orderbook_levels',
      help: 'Sequencer: price levels resting on each side of each market',
      labelNames: ['market', 'side'],
      registers,
      collect() {
        book('bids', 'levels').call(this);
        book('asks', 'levels').call(this);
      },
    });
    new Gauge({
      name: 'perpnode_orderbook_size',
      help: 'Sequencer: total resting size on each side of each market (1e-8 base units)',
      labelNames: ['market', 'side'],
      registers,
      collect() {
        book('bids', 'size').call(this);
        book('asks', 'size').call(this);
      },
    });
    new Gauge({ name: 'perpnode_open_orders', help: 'Sequencer: orders resting or waiting for their trigger', registers, collect() { this.set(src.exchange?.()?.matcher.openCount ?? 0); } });
    this.rpcRequests = new Counter({ name: 'perpnode_rpc_requests_total', help: 'JSON-RPC calls over HTTP by method; unknown methods count as "unknown"', labelNames: ['method'], registers });
    this.rpcErrors = new Counter({ name: 'perpnode_rpc_errors_total', help: 'JSON-RPC calls answered with an error, by method and error code', labelNames: ['method', 'code'], registers });
    this.rpcSeconds = new Histogram({ name: 'perpnode_rpc_request_duration_seconds', help: 'JSON-RPC call latency by method', labelNames: ['method'], buckets: SECONDS, registers });
    new Gauge({ name: 'perpnode_p2p_peers', help: 'Connected libp2p peers', registers, collect() { this.set(src.p2p?.()?.peers.filter((p) => p.connected).length ?? 0); } });
    new Gauge({ name: 'perpnode_p2p_lag_blocks', help: "Blocks between this node's head and the best head a peer reports (0 when ahead or alone)", registers, collect() { this.set(src.p2p?.()?.lag ?? 0); } });
    new Gauge({
      name: 'perpnode_p2p_follower_lag_blocks',
      help: "Sequencer: blocks each connected follower's head is behind ours",
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        const s = src.p2p?.();
        if (!s) return;
        for (const p of s.peers) if (p.connected && p.role === 'follower' && p.head) this.set({ peer: p.id }, Math.max(0, s.head.number - p.head.number));
      },
    });
    new Gauge({ name: 'perpnode_halted', help: '1 while block production (sequencer) or block import (follower) is halted, else 0', registers, collect() { this.set(src.halted() ? 1 : 0); } });
    new Gauge({
      name: 'perpnode_mode',
      help: 'The exchange mode: 1 for the current one (NORMAL, POST_ONLY, CANCEL_ONLY, HALTED), 0 for the others',
      labelNames: ['mode'],
      registers,
      collect() {
        const m = src.mode();
        for (const x of MODES) this.set({ mode: x }, x === m ? 1 : 0);
      },
    });
  }

  /** A sealed (with its timing) or imported block. */
  onBlock(b: Block, timing?: BlockTiming): BlockSummary {
    const s = summarize(b);
    this.blocks.inc();
    this.txs.inc(s.txs);
    this.trades.inc(s.trades);
    this.liquidations.inc(s.liquidations);
    this.txsPerBlock.observe(s.txs);
    this.tradesPerBlock.observe(s.trades);
    if (timing) {
      this.sealSeconds.observe(timing.sealMs / 1000);
      this.commitSeconds.observe(timing.commitMs / 1000);
    }
    return s;
  }

  /** A finished JSON-RPC call (the dispatcher's onCall). */
  onCall(method: string, ms: number, errorCode: number | null): void {
    this.rpcRequests.inc({ method });
    this.rpcSeconds.observe({ method }, ms / 1000);
    if (errorCode !== null) this.rpcErrors.inc({ method, code: String(errorCode) });
  }

  async render(): Promise<{ type: string; body: string }> {
    return { type: this.registry.contentType, body: await this.registry.metrics() };
  }
}
