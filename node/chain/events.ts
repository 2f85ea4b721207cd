/**
 * Typed chain events: emitted exactly where the head moves, after the batch that moved it is
 * durable, so a listener may read the chain at the new head.
 *
 *   sealed      the sequencer signed and wrote `block` (sequencer/producer.ts)
 *   imported    a follower verified (rebuilt) and wrote `block` (p2p/chain.ts)
 *   rolledBack  the head went back from `from` to `to`; `firstOrphaned` is the first block of
 *               the branch that is gone (sequencer/maintenance.ts online, p2p/chain.ts on a
 *               follower). An offline rollback (`perpnode rollback`) has no listeners.
 *
 * The WebSocket subscriptions (rpc/ws.ts), the trade and funding history (rpc/perp.ts
 * MarketFeed), block gossip and the block log listen here instead of polling the head or
 * walking back to find a fork. Listeners run synchronously in registration order and must not
 * throw (a throwing listener is reported on stderr and the others still run).
 */
import type { Block } from './block.ts';

export interface HeadRef {
  number: bigint;
  hash: bigint;
}

export type ChainEvent =
  | { type: 'sealed'; block: Block }
  | { type: 'imported'; block: Block }
  | { type: 'rolledBack'; from: HeadRef; to: HeadRef; firstOrphaned: HeadRef };

export type ChainListener = (e: ChainEvent) => void;

export class ChainEvents {
  private readonly listeners = new Set<ChainListener>();

  /** Adds a listener; returns the function that removes it. */
  on(f: ChainListener): () => void {
    this.listeners.add(f);
    return () => void this.listeners.delete(f);
  }

  emit(e: ChainEvent): void {
    for (const f of [...this.listeners]) {
      try {
        f(e);
      } catch (err) {
        process.stderr.write(`chain event listener failed on ${e.type}: ${(err as Error)?.stack ?? err}\n`);
      }
    }
  }
}

/** The block a sealed or imported event carries (the new head), else undefined. */
export function newHead(e: ChainEvent): Block | undefined {
  return e.type === 'rolledBack' ? undefined : e.block;
}

/**
 * Runs `unwind` (a rollback to `target`) and emits `rolledBack` once it has moved the head:
 * the head before, the first orphaned block (read before it is archived) and the head after.
 */
export async function rollbackAnnounced<T>(chain: { events: ChainEvents; head(): Promise<HeadRef | undefined>; header(n: bigint): Promise<{ hash: bigint } | undefined> }, target: bigint, unwind: () => Promise<T>): Promise<T> {
  const from = await chain.head();
  const first = await chain.header(target + 1n);
  const r = await unwind();
  const to = await chain.head();
  if (from && to && first && (to.number !== from.number || to.hash !== from.hash)) chain.events.emit({ type: 'rolledBack', from, to, firstOrphaned: { number: target + 1n, hash: first.hash } });
  return r;
}
