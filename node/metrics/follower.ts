/**
 * What a follower logs at info: one line per import batch (blocks imported within a second,
 * so a long sync prints a progress line a second rather than one per block) and one per sync
 * state change (waiting for a peer, syncing N blocks behind, synced, lost every peer).
 */
import type { Block } from '../chain/block.ts';
import type { Logger } from '../log.ts';
import type { P2PService } from '../p2p/index.ts';
import { SYNC_TOLERANCE_BLOCKS } from './health.ts';
import type { NodeMetrics } from './index.ts';

export type SyncState = 'no-peer' | 'syncing' | 'synced';

export function watchFollower(p2p: P2PService, log: Logger, metrics: NodeMetrics, everyMs = 1000): () => void {
  let batch: { from: number; to: number; txs: number; trades: number; t0: number } | null = null;
  const flush = () => {
    if (!batch) return;
    const b = batch;
    batch = null;
    const s = p2p.status();
    const n = b.to - b.from + 1;
    log.info(`imported ${n === 1 ? `block ${b.to}` : `blocks ${b.from}..${b.to} (${n} blocks)`}: ${b.txs} txs, ${b.trades} trades; head ${s.head.number}, ${s.lag} behind the best peer`, {
      event: 'import',
      from: b.from,
      to: b.to,
      blocks: n,
      txs: b.txs,
      trades: b.trades,
      lag: s.lag,
    });
  };
  const onBlock = (b: Block) => {
    const s = metrics.onBlock(b);
    if (!batch) batch = { from: s.number, to: s.number, txs: 0, trades: 0, t0: Date.now() };
    batch.to = s.number;
    batch.txs += s.txs;
    batch.trades += s.trades;
  };
  p2p.on('block', onBlock);
  let state: SyncState | null = null;
  const check = () => {
    flush();
    const s = p2p.status();
    const peers = s.peers.filter((p) => p.connected).length;
    const next: SyncState = peers === 0 ? 'no-peer' : s.lag > SYNC_TOLERANCE_BLOCKS ? 'syncing' : 'synced';
    if (next === state) return;
    const was = state;
    state = next;
    const fields = { event: 'sync', state: next, head: s.head.number, lag: s.lag, peers };
    if (next === 'no-peer') {
      if (was === null) log.info(`sync: waiting for a peer (head ${s.head.number})`, fields);
      else log.warn(`sync: lost every peer (the sequencer is unreachable); serving block ${s.head.number} until one is back`, fields);
    } else if (next === 'syncing') log.info(`sync: syncing, ${s.lag} blocks behind the best peer (head ${s.head.number}, peer ${s.best_peer_head})`, fields);
    else log.info(`sync: synced at block ${s.head.number} (${peers} peer${peers === 1 ? '' : 's'})`, fields);
  };
  const timer = setInterval(check, everyMs);
  timer.unref();
  check();
  return () => {
    clearInterval(timer);
    p2p.off('block', onBlock);
    flush();
  };
}
