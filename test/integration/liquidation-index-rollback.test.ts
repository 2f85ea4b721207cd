/**
 * The sequencer's liquidation index after an online rollback: a position closed on the orphaned
 * branch exists again on the canonical one, and a price drop must still liquidate it (an index
 * kept from the orphaned branch would not know the account holds a position).
 */
import { expect } from 'chai';
import type { RunningNode } from '../../node/node.ts';
import { orderSigner, startTestSequencer } from '../helpers/sequencer.ts';
import { getAccountView, oracleUpdateHash } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { tempDir } from '../helpers/tmp.ts';

const E8 = 10n ** 8n;

describe('liquidation index across an online rollback (sequencer)', function () {
  this.timeout(120_000);
  let t: ReturnType<typeof tempDir>;
  let node: RunningNode;
  before(async () => {
    t = tempDir();
    node = await startTestSequencer(t.path);
  });
  after(async () => {
    await node.stop();
    t.cleanup();
  });

  it('a position closed only on the orphaned branch is liquidated after the rollback', async () => {
    const g = node.chain.genesis;
    const cfg = g.exchange;
    const btc = cfg.markets[0]!;
    const [long, short] = cfg.devAccounts;
    const order = orderSigner(node, 15n * E8);
    const view = () => getAccountView(node.producer.m.world.newBlock(), cfg, long!.address);
    const size = () => view().positions[0]?.size ?? 0n;
    // Canonical: the long opens.
    await node.exchange.submitOrder(order(short, { side: 'SELL' }));
    expect((await node.exchange.submitOrder(order(long, { timeInForce: 'IOC' }))).record.status).to.equal('FILLED');
    await node.producer.sealNow();
    const checkpoint = node.producer.head.number;
    expect(size()).to.equal(15n * E8);
    // Orphaned branch: the long closes (the index drops the account).
    await node.exchange.submitOrder(order(short, { side: 'BUY' }));
    expect((await node.exchange.submitOrder(order(long, { side: 'SELL', timeInForce: 'IOC', reduceOnly: true }))).record.status).to.equal('FILLED');
    await node.producer.sealNow();
    expect(size()).to.equal(0n);

    await node.maintenance.rollback(checkpoint, 'test', 1n);
    expect(size(), 'the rollback restored the position').to.equal(15n * E8);
    await node.maintenance.setMode('NORMAL', 'resume');

    const oracle = cfg.oracles[0]!;
    const ts = BigInt(Math.floor(Date.now() / 1000)) + 1n;
    const price = ((btc.initialPrice * 91n) / 100n / btc.tickSize) * btc.tickSize;
    const prices = [{ market: btc.symbol, price }];
    const s = sign(oracleUpdateHash({ timestamp: ts, prices }, oracle.publicKey, g.chainId), oracle.privateKey!);
    await node.exchange.oracleUpdate({ type: 'ORACLE_UPDATE', signer: oracle.publicKey, timestamp: ts, prices, signature: [s.r, s.s] });
    await node.producer.sealNow();
    expect(size() < 15n * E8, 'liquidated in the block of the price drop').to.equal(true);
  });
});
