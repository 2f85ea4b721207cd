/**
 * Pipelined sealing (node/sequencer/producer.ts): block N+1 executes while N's batch is
 * written. The same submissions give the same chain, byte for byte, with and without it (also
 * with a 2-entry state cache, where every value N wrote is evicted before N+1 reads it); a
 * failed write halts the producer, N is never published and N+1 never signed.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { depositHash, orderHash, type DepositTx, type Order, type SignedOrder } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import type { RunningNode } from '../../node/node.ts';
import type { Block } from '../../node/chain/block.ts';
import { blockToJson } from '../../node/chain/block.ts';
import { waitFor } from '../helpers/proc.ts';
import { recordedGenesis } from '../helpers/recorded-chain.ts';
import { startTestSequencer } from '../helpers/sequencer.ts';
import { tempDir } from '../helpers/tmp.ts';

const E8 = 10n ** 8n;

/** Holds or fails the chained-batch writes of a node's database (the producer's block batches). */
function gateWrites(node: RunningNode) {
  const db = node.chain.db as any;
  const orig = db.batch.bind(db);
  const g = {
    hold: false,
    held: [] as ((fail: boolean) => void)[],
    /** Lets the held writes go on (or fail them). */
    release: (fail = false) => g.held.splice(0).forEach((r) => r(fail)),
  };
  db.batch = (...args: unknown[]) => {
    if (args.length) return orig(...args);
    const b = orig();
    const write = b.write.bind(b);
    b.write = async (o: unknown) => {
      if (g.hold && (await new Promise<boolean>((r) => g.held.push(r)))) {
        await b.close();
        throw new Error('injected write failure');
      }
      return write(o);
    };
    return b;
  };
  return g;
}

async function startNode(dir: string, stateCacheEntries?: number) {
  const genesis = recordedGenesis();
  const genesisPath = join(dir, 'genesis.json');
  writeFileSync(genesisPath, JSON.stringify(genesis));
  const clock = { nowMs: (genesis.genesis_timestamp + 10) * 1000 };
  const node = await startTestSequencer(dir, { genesisPath, clock: () => clock.nowMs, verifyWorkers: 0, stateCacheEntries });
  return { node, clock };
}

function actions(node: RunningNode) {
  const g = node.chain.genesis;
  const cfg = g.exchange;
  const btc = cfg.markets[0]!;
  const dev = cfg.devAccounts;
  let salt = 1n;
  let depositId = 1n;
  const order = (who: number, f: Partial<Order>): SignedOrder => {
    const o: Order = { account: dev[who]!.address, market: btc.symbol, side: 'BUY', orderType: 'LIMIT', timeInForce: 'GTC', size: E8 / 100n, price: btc.initialPrice, triggerPrice: 0n, reduceOnly: false, expiry: 4_000_000_000n, salt: salt++, ...f };
    const hash = orderHash(o, g.chainId);
    const s = sign(hash, dev[who]!.privateKey!);
    return { order: o, hash, signature: [s.r, s.s] };
  };
  const deposit = (who: number, amount: bigint): DepositTx => {
    const m = { depositId: depositId++, recipient: dev[who]!.address, amount };
    const s = sign(depositHash(m, cfg.bridgeOperator.publicKey, g.chainId), cfg.bridgeOperator.privateKey!);
    return { type: 'DEPOSIT', ...m, signature: [s.r, s.s] } as DepositTx;
  };
  /**
   * One round: deposits and trades between the same accounts every round (each reads what the
   * previous block wrote). Started one by one, each once the previous has executed (not
   * acknowledged: that waits for the block under it). Returns the acknowledgements.
   */
  const round = async (r: number): Promise<Promise<unknown>[]> => {
    const acks: Promise<unknown>[] = [];
    const executed = async (p: Promise<unknown>, txs: number) => {
      acks.push(p);
      p.catch(() => undefined);
      await waitFor(async () => (node.producer.executingBlock?.txs.length ?? 0) >= txs || node.producer.halted !== null);
    };
    let txs = 0;
    for (const who of [0, 1, 2]) await executed(node.producer.submit(deposit(who, 1_000n + BigInt(r))), ++txs);
    for (const [maker, taker] of [[1, 2], [3, 0]] as const) {
      const rest = node.exchange.submitOrder(order(maker, { side: r % 2 ? 'BUY' : 'SELL' }));
      rest.catch(() => undefined);
      acks.push(rest);
      await executed(node.exchange.submitOrder(order(taker, { side: r % 2 ? 'SELL' : 'BUY', timeInForce: 'IOC' })), ++txs);
    }
    return acks;
  };
  return { round };
}

/** Rounds of submissions, a block per round; pipelined: round r+1 executes while block r's batch is held. */
async function runScript(pipeline: boolean, stateCacheEntries?: number): Promise<{ blocks: any[]; evictions: number; overlapped: number }> {
  const t = tempDir('perpnode-pipe-');
  const { node, clock } = await startNode(t.path, stateCacheEntries);
  node.producer.opts.pipeline = pipeline;
  const gate = gateWrites(node);
  let overlapped = 0;
  try {
    const { round } = actions(node);
    const R = 5;
    let acks = await round(0);
    for (let r = 1; r <= R; r++) {
      clock.nowMs += 1000;
      if (pipeline) {
        gate.hold = true;
        const sealed = node.producer.sealNow();
        await waitFor(async () => gate.held.length > 0); // block r-1 signed, its batch held
        gate.hold = false;
        const n = node.producer.inFlightBlock!;
        expect(n).to.not.equal(null);
        const next = r < R ? await round(r) : [];
        // Round r executed on block r-1's in-memory state; nothing of r-1 is out yet.
        if (r < R) {
          expect(node.producer.executingBlock!.number).to.equal(n + 1n);
          overlapped++;
        }
        expect(node.producer.head.number).to.equal(n - 1n);
        expect((await node.chain.chain.head())!.number).to.equal(n - 1n);
        gate.release();
        expect((await sealed)!.header.block_number).to.equal(n);
        await Promise.all(acks);
        acks = next;
      } else {
        await node.producer.sealNow();
        await Promise.all(acks);
        acks = r < R ? await round(r) : [];
      }
    }
    await Promise.all(acks);
    const blocks: any[] = [];
    for (let n = 1n; n <= node.producer.head.number; n++) blocks.push(blockToJson((await node.chain.chain.block(n))!));
    return { blocks, evictions: node.chain.world.cacheStats().evictions, overlapped };
  } finally {
    await node.stop();
    t.cleanup();
  }
}

describe('pipelined sealing: block N+1 executes while block N is written', function () {
  this.timeout(180_000);

  it('the same submissions give the same blocks, byte for byte, with and without pipelining', async () => {
    const plain = await runScript(false);
    const piped = await runScript(true);
    expect(piped.overlapped).to.equal(4);
    expect(plain.blocks.length).to.equal(5);
    expect(plain.blocks.every((b) => b.transactions.length > 0)).to.equal(true);
    expect(piped.blocks.map((b) => b.block_hash ?? b.hash)).to.deep.equal(plain.blocks.map((b) => b.block_hash ?? b.hash));
    expect(piped.blocks).to.deep.equal(plain.blocks);
  });

  it('with a 2-entry state cache (every value block N wrote is evicted before N+1 reads it): still the same blocks', async () => {
    const plain = await runScript(false);
    const piped = await runScript(true, 2);
    expect(piped.evictions).to.be.greaterThan(1000);
    expect(piped.blocks).to.deep.equal(plain.blocks);
  });

  it('a failed batch write halts the producer: block N is never published, N+1 never signed, its transactions refused', async () => {
    const t = tempDir('perpnode-pipe-fail-');
    const { node, clock } = await startNode(t.path);
    node.producer.opts.pipeline = true;
    const gate = gateWrites(node);
    try {
      const sealed: bigint[] = [];
      const off = node.chain.chain.events.on((e) => void (e.type === 'sealed' && sealed.push(e.block.header.block_number)));
      const txEvents: bigint[] = [];
      node.producer.on('tx', (e: { blockNumber: bigint }) => txEvents.push(e.blockNumber));
      const { round } = actions(node);
      await Promise.all(await round(0));
      clock.nowMs += 1000;
      expect((await node.producer.sealNow())!.header.block_number).to.equal(1n); // durable and published
      expect(sealed).to.deep.equal([1n]);

      const acks2 = await round(1);
      clock.nowMs += 1000;
      gate.hold = true;
      const sealing2 = node.producer.sealNow();
      await waitFor(async () => gate.held.length > 0); // block 2 signed, its batch held
      gate.hold = false;
      expect(node.producer.inFlightBlock).to.equal(2n);
      const acks3 = await round(2); // executes into block 3 on block 2's in-memory state
      const open3 = node.producer.executingBlock!;
      expect(open3.number).to.equal(3n);
      expect(open3.txs.length).to.be.greaterThan(0);
      let finalized3 = 0;
      const pending3 = open3.pending as any;
      const fin = pending3.finalize.bind(pending3);
      pending3.finalize = () => (finalized3++, fin());
      expect(txEvents.filter((n) => n === 3n)).to.deep.equal([]); // block 3's transactions are not announced yet
      const sealing3 = node.producer.sealNow(); // must wait for block 2
      const rootBefore = node.chain.world.root;

      gate.release(true); // block 2's write fails
      expect(await sealing2).to.equal(null);
      expect(await sealing3).to.equal(null);
      expect(node.producer.halted).to.match(/block 2 could not be written/);
      // Nothing of block 2 was published; block 3 was never committed, hashed or signed.
      expect(sealed).to.deep.equal([1n]);
      expect(finalized3).to.equal(0);
      expect(node.producer.head.number).to.equal(1n);
      expect((await node.chain.chain.head())!.number).to.equal(1n);
      expect(await node.chain.chain.block(2n)).to.equal(undefined);
      expect(txEvents.filter((n) => n === 3n)).to.deep.equal([]);
      expect(node.producer.openBlock).to.equal(null);
      // The in-memory head is block 1 again (as LevelDB has it).
      expect(node.chain.world.root).to.not.equal(rootBefore);
      expect(node.chain.world.root).to.equal((await node.chain.chain.header(1n))!.header.new_root);
      expect(node.chain.world.inFlightEntries).to.equal(0);
      // Block 3's submissions are refused to their senders (they were never in a durable block).
      const r3 = await Promise.allSettled(acks3);
      expect(r3.some((r) => r.status === 'rejected' && /HALTED|halted/.test(String((r as PromiseRejectedResult).reason?.code ?? (r as PromiseRejectedResult).reason)))).to.equal(true);
      expect(r3.every((r) => r.status === 'rejected')).to.equal(true);
      await Promise.allSettled(acks2);
      off();
    } finally {
      await node.stop().catch(() => undefined);
      t.cleanup();
    }
  });
});
