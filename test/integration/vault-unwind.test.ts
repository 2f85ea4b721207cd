/**
 * The Liquidator Vault unwinds through the book on the sequencer (issue 11): after a takeover,
 * each sealed block carries VAULT_UNWIND fills against a resting bid, capped per block, until the
 * vault is flat; the bid's book entry shrinks by exactly what the chain filled, and the
 * invariants hold in every block.
 */
import { expect } from 'chai';
import type { RunningNode } from '../../node/node.ts';
import { editedGenesis, orderSigner, pricePoster, startTestSequencer } from '../helpers/sequencer.ts';
import { checkInvariants, getAccountView, getVaultView } from '../../contracts-ts/index.ts';
import { readOrderState } from '../../contracts-ts/exchange/orders.ts';
import { tempDir } from '../helpers/tmp.ts';

const E8 = 10n ** 8n;

describe('vault unwind on the sequencer: the vault sells what it took over against resting orders', function () {
  this.timeout(60_000);
  let t: ReturnType<typeof tempDir>;
  let node: RunningNode;
  before(async () => {
    t = tempDir();
    const path = editedGenesis(t.path, (g) => {
      g.block_time_ms = 3_600_000; // blocks only when the test seals them
      g.heartbeat_ms = 3_600_000;
    });
    node = await startTestSequencer(t.path, { genesisPath: path });
  });
  after(async () => {
    await node.stop();
    t.cleanup();
  });

  it('a takeover, then blocks in which the vault position shrinks to zero and the maker order shrinks with it', async () => {
    const g = node.chain.genesis;
    const cfg = g.exchange;
    const [alice, bob, carol] = cfg.devAccounts;
    const order = orderSigner(node, 20n * E8);
    const setPrice = pricePoster(node);
    const state = () => node.producer.openBlock?.pending ?? node.producer.m.world.newBlock();
    const vaultSize = () => getVaultView(state(), cfg).positions[0]?.size ?? 0n;
    const invariants = () => expect(checkInvariants(state(), cfg, [alice!.address, bob!.address, carol!.address, cfg.vaultAddress])).to.deep.equal([]);

    // alice buys 20 BTC at 65,000; a drop to 61,500 puts her below maintenance: the vault takes over
    await node.exchange.submitOrder(order(bob, { side: 'SELL' }));
    expect((await node.exchange.submitOrder(order(alice, { side: 'BUY', timeInForce: 'IOC' }))).record.status).to.equal('FILLED');
    await node.producer.sealNow();
    await setPrice(61_500n);
    const takeover = await node.producer.sealNow();
    expect(takeover!.transactions.map((tx) => (tx.body as { type: string }).type)).to.include('LIQUIDATE');
    const taken = vaultSize();
    expect(taken > 0n).to.equal(true);
    invariants();

    // carol rests a bid inside the band, and one far outside it (61,500 x 0.95 = 58,425)
    const far = order(carol, { side: 'BUY', size: 1n * E8, price: 58_000n * E8 });
    await node.exchange.submitOrder(far);
    const bid = order(carol, { side: 'BUY', price: 61_400n * E8 });
    expect((await node.exchange.submitOrder(bid)).record.status).to.equal('OPEN');
    const vaultBalance0 = getVaultView(state(), cfg).balance;

    const steps: bigint[] = [];
    while (vaultSize() !== 0n && steps.length < 40) {
      const before = vaultSize();
      const block = await node.producer.sealNow(true);
      expect(node.producer.halted, `halted: ${node.producer.halted}`).to.equal(null);
      const unwinds = block!.transactions.map((tx) => tx.body as { type: string; size?: string; maker?: { hash: string } }).filter((b) => b.type === 'VAULT_UNWIND');
      expect(unwinds.length, `block ${block!.header.block_number} unwinds`).to.be.greaterThan(0);
      for (const u of unwinds) expect(BigInt(u.maker!.hash)).to.equal(bid.hash); // never the out-of-band bid
      const step = before - vaultSize();
      expect(step).to.equal(unwinds.reduce((a, u) => a + BigInt(u.size!), 0n));
      steps.push(step);
      // the book follows the chain exactly
      const onChain = readOrderState(state(), carol!.address, bid.hash).filled;
      const rec = node.exchange.matcher.getOrder(bid.hash)!;
      expect(rec.filled).to.equal(onChain);
      expect(rec.remaining).to.equal(bid.order.size - onChain);
      invariants();
    }
    expect(vaultSize()).to.equal(0n);
    expect(steps.length, 'never the whole position in one block').to.be.greaterThan(1);
    expect(steps[0]! < taken).to.equal(true);
    expect(steps.reduce((a, b) => a + b, 0n)).to.equal(taken);
    // carol holds what the vault sold, at her price; the vault booked the difference to its 61,500 takeover
    expect(getAccountView(state(), cfg, carol!.address).positions[0]!.size).to.equal(taken);
    expect(getVaultView(state(), cfg).balance < vaultBalance0).to.equal(true);
    expect(node.exchange.matcher.getOrder(bid.hash)!.remaining).to.equal(bid.order.size - taken);
    expect(node.exchange.matcher.getOrder(far.hash)!.remaining).to.equal(far.order.size);
    // nothing more to unwind: the next block carries none
    const quiet = await node.producer.sealNow(true);
    expect(quiet!.transactions.map((tx) => (tx.body as { type: string }).type)).to.not.include('VAULT_UNWIND');
  });
});
