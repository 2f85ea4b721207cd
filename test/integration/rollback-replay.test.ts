/**
 * Issue 11, defect 10: messages signed on a rolled-back branch cannot be replayed by a third
 * party onto the new branch; the contract refuses them (state, not a node-side list), across a
 * restart, and the owner's new signature works.
 */
import { expect } from 'chai';
import type { RunningNode } from '../../node/node.ts';
import { startTestSequencer } from '../helpers/sequencer.ts';
import { getAccountView, getOrderState, orderHash, withdrawHash, type Order, type SignedOrder, type WithdrawTx } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { join } from 'node:path';
import { openChain } from '../../node/node.ts';
import { importBlock } from '../../node/chain/replay.ts';
import { createLogger } from '../../node/log.ts';
import { DEVNET_GENESIS } from '../helpers/sequencer.ts';

const E8 = 10n ** 8n;

async function refusal(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return 'accepted';
}

describe('rollback: no replay of the orphaned branch (VOID_SIGNED)', function () {
  this.timeout(120_000);

  it('a withdraw and an order signed before the rollback are refused when a third party resubmits them; the owner signs anew', async () => {
    const t = tempDir();
    let n: RunningNode | undefined;
    try {
      n = await startTestSequencer(t.path);
      const g = n.chain.genesis;
      const alice = g.exchange.devAccounts[0]!;
      const bob = g.exchange.devAccounts[1]!;
      const withdraw = (nonce: bigint, amount = 1_000n * 10n ** 6n): WithdrawTx => {
        const s = sign(withdrawHash({ account: alice.address, amount, recipient: 0xabcn, nonce }, g.chainId), alice.privateKey!);
        return { type: 'WITHDRAW', account: alice.address, amount, recipient: 0xabcn, nonce, signature: [s.r, s.s] };
      };
      let salt = 1n;
      const order = (who: typeof alice, f: Partial<Order>): SignedOrder => {
        const o: Order = { account: who.address, market: 'BTC-USD-PERP', side: 'BUY', orderType: 'LIMIT', timeInForce: 'GTC', size: E8 / 10n, price: 65_000n * E8, triggerPrice: 0n, reduceOnly: false, expiry: 4_000_000_000n, salt: salt++, ...f };
        const hash = orderHash(o, g.chainId);
        const s = sign(hash, who.privateKey!);
        return { order: o, hash, signature: [s.r, s.s] };
      };
      const collateral = (node: RunningNode) => getAccountView(node.producer.readState(), g.exchange, alice.address).collateral;
      await n.producer.sealNow(true);
      const target = n.producer.head.number;
      const before = collateral(n);
      const nonce = n.producer.readState().getNonce(alice.address);

      // The branch that will be orphaned: alice withdraws, and bob's IOC bid takes her ask.
      const w = withdraw(nonce);
      await n.producer.submit(w);
      const ask = order(alice, { side: 'SELL' });
      const bid = order(bob, { side: 'BUY', timeInForce: 'IOC' });
      await n.exchange.submitOrder(ask);
      expect((await n.exchange.submitOrder(bid)).record.status).to.equal('FILLED');
      await n.producer.sealNow();
      expect(collateral(n) < before).to.equal(true);

      const r = await n.maintenance.rollback(target, 'replay test', 11n);
      expect(r.voided).to.be.greaterThan(0);
      expect(collateral(n)).to.equal(before);
      await n.maintenance.setMode('NORMAL', 'resume');

      // A third party resubmits what alice and bob signed on the orphaned branch: refused by the contract.
      expect(await refusal(n.producer.submit(w))).to.equal('ORPHANED_MESSAGE');
      expect(await refusal(n.exchange.submitOrder(bid))).to.equal('ORPHANED_MESSAGE');
      expect(await refusal(n.exchange.submitOrder(ask))).to.equal('ORPHANED_MESSAGE');
      expect(collateral(n)).to.equal(before);
      // The old nonce is past: even a fresh signature over it is stale; the owner signs with the new one.
      expect(await refusal(n.producer.submit(withdraw(nonce, 999n * 10n ** 6n)))).to.equal('INVALID_NONCE');
      const fresh = n.producer.readState().getNonce(alice.address);
      expect(fresh).to.equal(nonce + 1n);
      await n.producer.submit(withdraw(fresh));
      expect(collateral(n)).to.equal(before - 1_000n * 10n ** 6n);
      expect(getOrderState(n.producer.readState(), g.exchange, ask.hash, alice.address)?.filled).to.equal(0n);
      await n.producer.sealNow();
      await n.stop();

      // The refusal is state: it survives a restart (and every follower executes the same VOID_SIGNED).
      n = await startTestSequencer(t.path);
      expect(await refusal(n.producer.submit(w))).to.equal('ORPHANED_MESSAGE');
      expect(await refusal(n.exchange.submitOrder(bid))).to.equal('ORPHANED_MESSAGE');
      const block = await n.chain.chain.block(target + 1n);
      expect(block!.transactions.some((tx) => (tx.body as { type: string }).type === 'VOID_SIGNED')).to.equal(true);
      await n.stop();
      n = undefined;

      // A follower syncing the canonical chain from genesis re-executes VOID_SIGNED and agrees.
      const seq = await openChain({ dataDir: join(t.path, 'data'), genesisPath: DEVNET_GENESIS, log: createLogger('silent') });
      const fol = await openChain({ dataDir: join(t.path, 'follower'), genesisPath: DEVNET_GENESIS, log: createLogger('silent') });
      try {
        const head = (await seq.chain.head())!;
        for (let b = 1n; b <= head.number; b++) {
          const fh = (await fol.chain.head())!;
          await importBlock(fol.db, (await seq.chain.block(b))!, { hash: fh.hash, header: (await fol.chain.header(fh.number))!.header }, fol.world, fol.genesis);
        }
        expect(fol.world.root).to.equal(seq.world.root);
        expect(fol.world.newBlock().getNonce(alice.address)).to.equal(nonce + 2n);
      } finally {
        await fol.close();
        await seq.close();
      }
    } finally {
      await n?.stop();
      t.cleanup();
    }
  });
});
