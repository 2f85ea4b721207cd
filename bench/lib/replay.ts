/**
 * --replay: what a follower does with the produced chain. A fresh copy of the start snapshot
 * imports every block the run produced with chain/replay.ts importBlock (block signature,
 * re-execution, state root, commitments, one sync batch per block). The next block's
 * transaction signatures are checked on the verify pool while the current one executes.
 */
import { openChain } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import { importBlock, newReplayTiming, type ReplayTiming } from '../../node/chain/replay.ts';
import { SignatureCache } from '../../node/sequencer/sigcache.ts';
import { signatureJobs, type VerifyPool } from '../../node/sequencer/verify-pool.ts';
import { parseTx } from '../../contracts-ts/index.ts';
import { ACC } from '../../contracts-ts/layout.ts';
import type { Block } from '../../node/chain/block.ts';

export interface ReplayReport {
  blocks: number;
  transactions: number;
  trades: number;
  seconds: number;
  blocksPerSec: number;
  tradesPerSec: number;
  rootMatches: boolean;
  timing: ReplayTiming;
  pool: boolean;
}

export async function replayRun(o: { producedDir: string; freshDir: string; genesisPath: string; pool: VerifyPool | null; onBlock?: (done: number, total: number) => void; /** Replay up to this block (default: the produced head). */ upTo?: bigint }): Promise<ReplayReport> {
  const log = createLogger('warn', 'bench-replay');
  const src = await openChain({ dataDir: o.producedDir, genesisPath: o.genesisPath, log, skipCheck: true });
  const dst = await openChain({ dataDir: o.freshDir, genesisPath: o.genesisPath, log });
  try {
    const g = dst.genesis;
    const produced = (await src.chain.head())!;
    const last = o.upTo !== undefined && o.upTo < produced.number ? await src.chain.header(o.upTo) : undefined;
    const srcHead = last ? { number: o.upTo!, hash: last.hash } : produced;
    const start = (await dst.chain.head())!;
    const h0 = (await dst.chain.header(start.number))!;
    let parent = { hash: h0.hash, header: h0.header };
    const cache = new SignatureCache(400_000);
    cache.attachPool(o.pool);
    const keys = new Map<bigint, bigint>();
    const keyOf = (a: bigint) => {
      let k = keys.get(a);
      if (k === undefined) {
        k = dst.world.getStorage(a, ACC.publicKey);
        if (k !== 0n) keys.set(a, k);
      }
      return k === 0n ? undefined : k;
    };
    const operator = g.exchange.bridgeOperator.publicKey;
    const fetchAndPrepare = async (n: bigint): Promise<Block> => {
      const b = await src.chain.block(n);
      if (!b) throw new Error(`produced chain has no block ${n}`);
      if (o.pool) {
        const jobs = b.transactions.flatMap((t) => {
          try {
            return signatureJobs(parseTx(t.body), keyOf, g.chainId, operator);
          } catch {
            return [];
          }
        });
        await cache.prepare(jobs);
      }
      return b;
    };
    const timing = newReplayTiming();
    const total = Number(srcHead.number - start.number);
    let trades = 0;
    let txs = 0;
    const t0 = performance.now();
    let next: Promise<Block> | null = start.number < srcHead.number ? fetchAndPrepare(start.number + 1n) : null;
    for (let n = start.number + 1n; n <= srcHead.number; n++) {
      const block = await next!;
      next = n < srcHead.number ? fetchAndPrepare(n + 1n) : null;
      await importBlock(dst.db, block, parent, dst.world, g, { verifier: (m, k, s) => cache.verify(m, k, s), timing });
      parent = { hash: block.hash, header: block.header };
      txs += block.transactions.length;
      for (const t of block.transactions) if ((t.body as { type?: string }).type === 'TRADE') trades++;
      o.onBlock?.(Number(n - start.number), total);
    }
    const seconds = (performance.now() - t0) / 1000;
    const srcHeader = await src.chain.header(srcHead.number);
    return {
      blocks: total,
      transactions: txs,
      trades,
      seconds,
      blocksPerSec: total / seconds,
      tradesPerSec: trades / seconds,
      rootMatches: dst.world.root === srcHeader?.header.new_root && parent.hash === srcHead.hash,
      timing,
      pool: o.pool !== null,
    };
  } finally {
    await dst.close();
    await src.close();
  }
}
