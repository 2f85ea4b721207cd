/**
 * The loss waterfall across the sequencer (issue 11, defect 2): after a 65,000 -> 40,000 gap with
 * an empty Liquidator Vault, the bankrupt long's only opposite position is a healthy but losing
 * short. Before, ADL closed that short at the bankrupt account's price, the short ended flat and
 * negative, the invariant guard refused the block and production HALTED. Now the short is never a
 * counterparty: the vault takes the long over, the shortfall is socialized on chain, and blocks
 * keep coming; a DEPOSIT to the vault address then repays the socialized loss.
 */
import { expect } from 'chai';
import type { RunningNode } from '../../node/node.ts';
import { editedGenesis, orderSigner, pricePoster, startTestSequencer } from '../helpers/sequencer.ts';
import { checkInvariants, depositHash, getAccountView, getVaultView } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { tempDir } from '../helpers/tmp.ts';

const E8 = 10n ** 8n;

describe('loss waterfall on the sequencer: a gap with an empty vault never halts the chain', function () {
  this.timeout(60_000);
  let t: ReturnType<typeof tempDir>;
  let node: RunningNode;
  before(async () => {
    t = tempDir();
    const path = editedGenesis(t.path, (g) => {
      g.block_time_ms = 3_600_000; // blocks only when the test seals them
      g.heartbeat_ms = 3_600_000;
      g.exchange.vault_initial_balance = '0';
      g.exchange.markets[0].oracle_max_jump = '0.5';
    });
    node = await startTestSequencer(t.path, { genesisPath: path });
  });
  after(async () => {
    await node.stop();
    t.cleanup();
  });

  it('65,000 -> 40,000: the losing short is untouched, the vault stays >= 0, the loss is socialized, blocks continue', async () => {
    const g = node.chain.genesis;
    const cfg = g.exchange;
    const [alice, bob, carol] = cfg.devAccounts;
    const order = orderSigner(node, 15n * E8);
    const setPrice = pricePoster(node);
    // The open block's state when there is one (what the RPC reads), else the head's.
    const state = () => node.producer.openBlock?.pending ?? node.producer.m.world.newBlock();
    const view = (a: typeof alice) => getAccountView(state(), cfg, a!.address);

    await node.exchange.submitOrder(order(bob, { side: 'SELL' }));
    expect((await node.exchange.submitOrder(order(alice, { side: 'BUY', timeInForce: 'IOC' }))).record.status).to.equal('FILLED');
    await node.producer.sealNow();
    // One open block: the gap (to 40,500: one price update per market per block), bob closes his
    // winning short against carol at 40,000, so carol's new short is a loser at the mark.
    await setPrice(40_500n);
    await node.exchange.submitOrder(order(carol, { side: 'SELL', price: 40_000n * E8 }));
    expect((await node.exchange.submitOrder(order(bob, { side: 'BUY', price: 40_000n * E8, timeInForce: 'IOC' }))).record.status).to.equal('FILLED');
    const carolBefore = view(carol);
    expect(carolBefore.positions[0]!.size).to.equal(-15n * E8);
    expect(carolBefore.unrealizedPnl < 0n && !carolBefore.liquidatable).to.equal(true);
    const deficit = -view(alice).equity;
    expect(deficit > 0n).to.equal(true);

    const head = node.producer.head.number;
    const block = await node.producer.sealNow();
    expect(node.producer.halted, `halted: ${node.producer.halted}`).to.equal(null);
    expect(block, 'the block of the liquidation is signed').to.not.equal(null);
    const a = view(alice);
    expect(a.positions).to.deep.equal([]);
    expect(a.collateral).to.equal(0n);
    expect(view(carol)).to.deep.equal(carolBefore);
    const vault = getVaultView(state(), cfg);
    expect(vault.balance).to.equal(0n);
    expect(vault.socializedLoss).to.equal(deficit);
    const types = block!.transactions.map((tx) => (tx.body as { type: string }).type);
    expect(types).to.include('LIQUIDATE');
    expect(types).to.not.include('ADL');
    expect(checkInvariants(state(), cfg, [alice!.address, bob!.address, carol!.address, cfg.vaultAddress])).to.deep.equal([]);
    // and production goes on
    await setPrice(40_400n);
    expect(await node.producer.sealNow()).to.not.equal(null);
    expect(node.producer.head.number).to.equal(head + 2n);
    // A DEPOSIT to the vault address recapitalises it: outstanding socialized loss is repaid first.
    const op = cfg.bridgeOperator;
    const dep = { depositId: 0x7661756c74n, recipient: cfg.vaultAddress, amount: deficit + 1_000_000_000n };
    const ds = sign(depositHash(dep, op.publicKey, g.chainId), op.privateKey!);
    await node.producer.submit({ type: 'DEPOSIT', ...dep, signature: [ds.r, ds.s] });
    expect(await node.producer.sealNow()).to.not.equal(null);
    const v2 = getVaultView(state(), cfg);
    expect(v2.socializedLoss).to.equal(0n);
    expect(v2.socializedLossTotal).to.equal(deficit);
    expect(v2.balance).to.equal(1_000_000_000n);
    expect(node.producer.halted).to.equal(null);
  });
});
