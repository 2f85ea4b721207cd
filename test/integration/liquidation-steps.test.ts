import { expect } from 'chai';
import type { RunningNode } from '../../node/node.ts';
import { editedGenesis, orderSigner, startTestSequencer } from '../helpers/sequencer.ts';
import { getAccountView, oracleUpdateHash } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { tempDir } from '../helpers/tmp.ts';

const E8 = 10n ** 8n;

describe('liquidation in steps across blocks (sequencer)', function () {
  this.timeout(60_000);
  let t: ReturnType<typeof tempDir>;
  let node: RunningNode;
  before(async () => {
    t = tempDir();
    const path = editedGenesis(t.path, (g) => {
      g.exchange.markets[0].liquidation_step_fraction = '0.01'; // many small steps: more than one block's rounds
    });
    node = await startTestSequencer(t.path, { genesisPath: path });
  });
  after(async () => {
    await node.stop();
    t.cleanup();
  });

  it('an unhealthy account keeps being liquidated in later blocks without new prices', async () => {
    const g = node.chain.genesis;
    const cfg = g.exchange;
    const btc = cfg.markets[0]!;
    const [long, short] = cfg.devAccounts;
    const order = orderSigner(node, 15n * E8);
    await node.exchange.submitOrder(order(short, { side: 'SELL' }));
    const fill = await node.exchange.submitOrder(order(long, { side: 'BUY', timeInForce: 'IOC' }));
    expect(fill.record.status).to.equal('FILLED');
    await node.producer.sealNow();
    const size = () => getAccountView(node.producer.m.world.newBlock(), cfg, long!.address).positions[0]?.size ?? 0n;
    expect(size()).to.equal(15n * E8);

    const oracle = cfg.oracles[0]!;
    const ts = BigInt(Math.floor(Date.now() / 1000)) + 1n;
    const price = ((btc.initialPrice * 91n) / 100n / btc.tickSize) * btc.tickSize;
    const prices = [{ market: btc.symbol, price }];
    const s = sign(oracleUpdateHash({ timestamp: ts, prices }, oracle.publicKey, g.chainId), oracle.privateKey!);
    await node.exchange.oracleUpdate({ type: 'ORACLE_UPDATE', signer: oracle.publicKey, timestamp: ts, prices, signature: [s.r, s.s] });
    await node.producer.sealNow();
    const sizes = [size()];
    expect(getAccountView(node.producer.m.world.newBlock(), cfg, long!.address).liquidatable, 'still below maintenance after one block of steps').to.equal(true);
    expect(sizes[0]! < 15n * E8, 'liquidated in the block of the price drop').to.equal(true);
    for (let i = 0; i < 3; i++) {
      await node.producer.sealNow(true); // no new price, no transaction touching the account
      sizes.push(size());
    }
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]! < sizes[i - 1]!, `block ${i}: ${sizes[i]} not below ${sizes[i - 1]}`).to.equal(true);
  });
});
