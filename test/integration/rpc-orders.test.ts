/**
 * Issue 11 order rules as a wallet meets them over JSON-RPC: a hostile cancel of another
 * account's order (10029 NOT_OWNER), an unbacked order (10016 INSUFFICIENT_MARGIN), an
 * aggressive limit outside the band (10010 PRICE_BAND), and a FOK across two makers.
 */
import { expect } from 'chai';
import { createSigner } from '../../node/client/index.ts';
import { starknetKeccak } from '../../node/crypto/index.ts';
import { startTestNode, type TestNode } from './rpc.fixtures.ts';

const BTC = 'BTC-USD-PERP';

async function rpcError(p: Promise<unknown>): Promise<{ code: number; data: any }> {
  try {
    await p;
  } catch (e) {
    return e as { code: number; data: any };
  }
  throw new Error('expected a JSON-RPC error');
}

describe('perp_* order rules over JSON-RPC (issue 11)', function () {
  this.timeout(60_000);
  let t: TestNode;
  before(async () => (t = await startTestNode()));
  after(async () => t?.stop());

  it('perp_cancelOrder of another account\'s order is 10029 NOT_OWNER and the order stays open', async () => {
    const [alice, bob] = t.dev as [(typeof t.dev)[0], (typeof t.dev)[0]];
    const ask = await t.client.submitOrder(alice, { market: BTC, side: 'SELL', size: '0.01', price: '66000' });
    expect(ask.status).to.equal('OPEN');
    const e = await rpcError(t.client.cancelOrder(bob, ask.order_hash));
    expect(e.code).to.equal(10029);
    expect(e.data.reason).to.equal('NOT_OWNER');
    expect((await t.call('perp_getOrder', { order_hash: ask.order_hash })).status).to.equal('OPEN');
    expect((await t.client.cancelOrder(alice, ask.order_hash)).status).to.equal('CANCELLED');
  });

  it('an order no collateral backs is 10016 INSUFFICIENT_MARGIN; an aggressive limit outside the band is 10010 PRICE_BAND', async () => {
    const fresh = createSigner(starknetKeccak('rpc-orders zero collateral'));
    await t.client.deployAccount(fresh);
    const e = await rpcError(t.client.submitOrder(fresh, { market: BTC, side: 'BUY', size: '1000', price: '60000' }));
    expect(e.code).to.equal(10016);
    expect(e.data.reason).to.equal('INSUFFICIENT_MARGIN');
    const band = await rpcError(t.client.submitOrder(t.dev[2]!, { market: BTC, side: 'BUY', size: '0.01', price: '70000', timeInForce: 'IOC' }));
    expect([band.code, band.data.reason]).to.deep.equal([10010, 'PRICE_BAND']);
  });

  it('a FOK fills across two makers', async () => {
    await t.client.submitOrder(t.dev[3]!, { market: BTC, side: 'SELL', size: '0.01', price: '65000' });
    await t.client.submitOrder(t.dev[4]!, { market: BTC, side: 'SELL', size: '0.01', price: '65001' });
    const fok = await t.client.submitOrder(t.dev[5]!, { market: BTC, side: 'BUY', size: '0.02', price: '65001', timeInForce: 'FOK' });
    expect(fok.status).to.equal('FILLED');
    expect(fok.fills).to.have.length(2);
  });
});
