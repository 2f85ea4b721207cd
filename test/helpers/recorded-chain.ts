/**
 * A recorded chain: a scripted, fully deterministic run of an in-process sequencer (fixed
 * clock, no block timer, no feeder) whose blocks hold trades, resting orders and cancels,
 * funding, an oracle price drop and the liquidation steps that follow. Signatures are RFC 6979
 * and every timestamp comes from the injected clock, so the same code gives the same blocks.
 *
 * test/vectors/recorded-chain.json was written by this script with the code before the block
 * builder existed (`npx tsx test/helpers/recorded-chain.ts <out.json>`); the block builder test
 * replays it and records it again, and must get the same hashes and roots.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { oracleUpdateHash, orderHash, type Order, type SignedOrder } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { blockToJson } from '../../node/chain/block.ts';
import { ROOT } from './proc.ts';
import { startTestSequencer } from './sequencer.ts';
import type { RunningNode } from '../../node/node.ts';
import { tempDir } from './tmp.ts';

const E8 = 10n ** 8n;

export interface Recording {
  /** The genesis file the chain was made with (devnet, no heartbeat, small liquidation steps). */
  genesis: any;
  /** Blocks 1..n as blockToJson. */
  blocks: any[];
}

export function recordedGenesis(): any {
  const g = JSON.parse(readFileSync(join(ROOT, 'genesis/devnet.json'), 'utf8'));
  g.heartbeat_ms = 3_600_000; // only the script seals
  g.block_time_ms = 3_600_000;
  g.checkpoint_interval = 0;
  g.exchange.markets[0].liquidation_step_fraction = '0.05'; // liquidation continues over several blocks
  return g;
}

/**
 * `verifyWorkers`: signature workers for the sequencer (default none: execution verifies and
 * hashes inline; with workers the order and cancel hashes are carried from the pool, and the
 * blocks must not change). `inspect` sees the node after the script, before it stops.
 */
export async function recordChain(opts: { verifyWorkers?: number; inspect?: (node: RunningNode) => void } = {}): Promise<Recording> {
  const t = tempDir('perpnode-record-');
  const genesis = recordedGenesis();
  const genesisPath = join(t.path, 'genesis.json');
  writeFileSync(genesisPath, JSON.stringify(genesis));
  let nowMs = (genesis.genesis_timestamp + 10) * 1000;
  const node = await startTestSequencer(t.path, { genesisPath, clock: () => nowMs, verifyWorkers: opts.verifyWorkers ?? 0 });
  try {
    const g = node.chain.genesis;
    const cfg = g.exchange;
    const [btc, eth] = cfg.markets as [(typeof cfg.markets)[0], (typeof cfg.markets)[0]];
    const dev = cfg.devAccounts;
    let salt = 1n;
    const order = (who: number, f: Partial<Order>): SignedOrder => {
      const o: Order = { account: dev[who]!.address, market: btc.symbol, side: 'BUY', orderType: 'LIMIT', timeInForce: 'GTC', size: E8 / 100n, price: btc.initialPrice, triggerPrice: 0n, reduceOnly: false, expiry: 4_000_000_000n, salt: salt++, ...f };
      const hash = orderHash(o, g.chainId);
      const s = sign(hash, dev[who]!.privateKey!);
      return { order: o, hash, signature: [s.r, s.s] };
    };
    const oracle = cfg.oracles[0]!;
    const setPrice = async (market: typeof btc, price: bigint) => {
      const prices = [{ market: market.symbol, price: (price / market.tickSize) * market.tickSize }];
      const ts = BigInt(Math.floor(nowMs / 1000));
      const s = sign(oracleUpdateHash({ timestamp: ts, prices }, oracle.publicKey, g.chainId), oracle.privateKey!);
      await node.exchange.oracleUpdate({ type: 'ORACLE_UPDATE', signer: oracle.publicKey, timestamp: ts, prices, signature: [s.r, s.s] });
    };
    const seal = async (heartbeat = false) => {
      nowMs += 1000;
      await node.producer.sealNow(heartbeat);
    };

    // 1: small trades in both markets, a resting order and its cancel.
    await node.exchange.submitOrder(order(2, { side: 'SELL' }));
    await node.exchange.submitOrder(order(3, { side: 'BUY', timeInForce: 'IOC' }));
    await node.exchange.submitOrder(order(4, { market: eth.symbol, side: 'SELL', price: eth.initialPrice, size: E8 / 10n }));
    await node.exchange.submitOrder(order(5, { market: eth.symbol, side: 'BUY', price: eth.initialPrice, size: E8 / 10n }));
    const resting = await node.exchange.submitOrder(order(2, { side: 'SELL', price: (btc.initialPrice * 11n) / 10n }));
    await seal();
    const cancel = { account: dev[2]!.address, orderHash: resting.record.signed.hash };
    const { cancelHash } = await import('../../contracts-ts/index.ts');
    const cs = sign(cancelHash(cancel, g.chainId), dev[2]!.privateKey!);
    await node.exchange.cancel({ type: 'CANCEL', ...cancel, signature: [cs.r, cs.s] });
    await seal();

    // 2: a large position that a 9% drop puts under maintenance; resting liquidity for the steps.
    await node.exchange.submitOrder(order(1, { side: 'SELL', size: 15n * E8 }));
    await node.exchange.submitOrder(order(0, { side: 'BUY', size: 15n * E8, timeInForce: 'IOC' }));
    await node.exchange.submitOrder(order(6, { side: 'BUY', size: 2n * E8, price: (btc.initialPrice * 90n) / 100n }));
    await seal();

    // 3: funding after the interval (a heartbeat block carries it).
    nowMs += Number(btc.fundingInterval) * 1000;
    await seal(true);

    // 4: the price drop, then liquidation steps in the following blocks without new prices.
    await setPrice(btc, (btc.initialPrice * 91n) / 100n);
    await seal();
    for (let i = 0; i < 3; i++) await seal(true);

    // 5: funding again, and trading continues.
    nowMs += Number(btc.fundingInterval) * 1000;
    await setPrice(eth, (eth.initialPrice * 102n) / 100n);
    await node.exchange.submitOrder(order(7, { market: eth.symbol, side: 'SELL', price: (eth.initialPrice * 102n) / 100n, size: E8 / 10n }));
    await node.exchange.submitOrder(order(8, { market: eth.symbol, side: 'BUY', price: (eth.initialPrice * 102n) / 100n, size: E8 / 10n, timeInForce: 'IOC' }));
    await seal();

    const blocks: any[] = [];
    for (let n = 1n; n <= node.producer.head.number; n++) blocks.push(blockToJson((await node.chain.chain.block(n))!));
    opts.inspect?.(node);
    return { genesis, blocks };
  } finally {
    await node.stop();
    t.cleanup();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/test\//, '/test/'))) {
  const { useBackend } = await import('../../node/crypto/index.ts');
  await useBackend('auto');
  const r = await recordChain();
  writeFileSync(process.argv[2]!, JSON.stringify(r, null, 1) + '\n');
  console.log(`recorded ${r.blocks.length} blocks`);
}
