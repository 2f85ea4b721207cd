import { expect } from 'chai';
import type { RunningNode } from '../../node/node.ts';
import { startTestSequencer } from '../helpers/sequencer.ts';
import { oracleUpdateHash } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { rpc } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('perp_submitOracleUpdate (external price feeders)', function () {
  this.timeout(60_000);
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

  it('a signed update moves the mark; a bad signature is 55; a replayed timestamp is refused', async () => {
    const g = node.chain.genesis;
    const oracle = g.exchange.oracles[0]!;
    const ts = BigInt(Math.floor(Date.now() / 1000));
    const prices = [{ market: 'BTC-USD-PERP', price: 66_000n * 10n ** 8n }];
    const s = sign(oracleUpdateHash({ timestamp: ts, prices }, oracle.publicKey, g.chainId), oracle.privateKey!);
    const update = { signer: '0x' + oracle.publicKey.toString(16), timestamp: '0x' + ts.toString(16), prices: prices.map((p) => ({ market: p.market, price: '0x' + p.price.toString(16) })) };
    const bad = await rpc(node.rpcUrl, 'perp_submitOracleUpdate', { oracle_update: update, signature: ['0x' + s.r.toString(16), '0x' + (s.s + 1n).toString(16)] }).catch((e) => e);
    expect(bad.rpc?.code).to.equal(55);
    const r = await rpc(node.rpcUrl, 'perp_submitOracleUpdate', { oracle_update: update, signature: ['0x' + s.r.toString(16), '0x' + s.s.toString(16)] });
    expect(r.transaction_hash).to.match(/^0x[0-9a-f]+$/);
    const markets = await rpc(node.rpcUrl, 'perp_getMarkets');
    expect(BigInt(markets.find((m: any) => m.symbol === 'BTC-USD-PERP').mark_price)).to.equal(prices[0]!.price);
    const again = await rpc(node.rpcUrl, 'perp_submitOracleUpdate', [update, ['0x' + s.r.toString(16), '0x' + s.s.toString(16)]]).catch((e) => e);
    expect(again.rpc?.code).to.be.oneOf([59, 10031]);
    const malformed = await rpc(node.rpcUrl, 'perp_submitOracleUpdate', { oracle_update: { ...update, prices: 'x' }, signature: ['0x1', '0x2'] }).catch((e) => e);
    expect(malformed.rpc?.code).to.equal(-32602);
  });
});
