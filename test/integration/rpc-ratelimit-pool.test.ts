/**
 * Trading-call limits with the verify pool attached (node/rpc/perp.ts): the client is charged
 * before any signature work, then the pool hashes and verifies the order or cancel off the main
 * thread and the limiter reads the pool's hash back from the signature cache; the account is
 * charged only when the signature verified. Forged requests naming a victim cost their client,
 * never the victim; once the client's bucket is empty a request costs no pool job at all; no
 * order or cancel is verified on the main thread.
 */
import { expect } from 'chai';
import { startTestSequencer, orderSigner } from '../helpers/sequencer.ts';
import { tempDir } from '../helpers/tmp.ts';
import { rpc } from '../helpers/proc.ts';
import { sign } from '../../node/crypto/index.ts';
import { cancelHash, orderHash, orderMessage } from '../../contracts-ts/typed-data.ts';
import type { SignedOrder } from '../../contracts-ts/exchange/order.ts';
import type { RunningNode } from '../../node/node.ts';

const hex = (x: bigint) => '0x' + x.toString(16);

async function code(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { rpc?: { code: number } }).rpc?.code;
  }
}

describe('trading-call rate limits with the verify pool', function () {
  this.timeout(120_000);
  const t = tempDir();
  let node: RunningNode;
  const clock = { ms: 1_000_000 };
  before(async () => {
    node = await startTestSequencer(t.path, { verifyWorkers: 1, rpc: { perp: { clientRatePerSec: 1, clientBurst: 8, accountRatePerSec: 1, accountBurst: 2, now: () => clock.ms } } });
    expect(node.producer.sigCache.attachedPool, 'the node attached its verify pool').to.not.equal(null);
  });
  after(async () => {
    await node?.stop();
    t.cleanup();
  });

  it('forged orders naming a victim cost their client, not the victim; an empty client bucket costs no pool job', async () => {
    const g = node.chain.genesis;
    const [victim, other] = g.exchange.devAccounts;
    const m = g.exchange.markets[0]!;
    const signer = orderSigner(node, m.minSize);
    const submit = (s: SignedOrder) => rpc(node.rpcUrl, 'perp_submitOrder', { order: orderMessage(s.order), signature: s.signature.map(hex) });
    const forged = () => {
      const s = signer(victim!, {});
      const bad = sign(s.hash, other!.privateKey!); // a valid signature, by someone else's key
      return submit({ ...s, signature: [bad.r, bad.s] });
    };
    const cache = node.producer.sigCache;
    const pool = cache.attachedPool!;
    const inline0 = cache.stats.inline;
    const jobs0 = pool.stats.jobs;
    for (let i = 0; i < 3; i++) expect(await code(forged()), 'a forged order is refused on its signature, not rate-limited').to.equal(55);
    expect(pool.stats.jobs - jobs0, 'each forged order was checked on the pool').to.equal(3);
    // The victim's own signed orders still have its whole account budget (2).
    const carried0 = cache.messageHashes.stats.hits;
    let own: SignedOrder;
    for (let i = 0; i < 2; i++) {
      own = signer(victim!, {});
      const r = (await submit(own)) as { order_hash: string; status: string };
      expect(r.order_hash, 'the order hash the pool computed').to.equal(hex(orderHash(own.order, g.chainId)));
      expect(r.status).to.equal('OPEN');
    }
    expect(cache.messageHashes.stats.hits - carried0, 'execution took each order hash from the pool').to.be.at.least(2);
    expect(cache.stats.inline - inline0, 'no verification on the main thread').to.equal(0);
    const third = await submit(signer(victim!, {})).catch((e) => e);
    expect(third.rpc?.code).to.equal(11004);
    expect(third.message).to.contain(`account ${hex(victim!.address)}`);
    for (let i = 0; i < 2; i++) expect(await code(forged())).to.equal(55);
    // 8 calls so far from 127.0.0.1: the client bucket is empty; the next call reaches no worker.
    const jobs1 = pool.stats.jobs;
    const ninth = await forged().catch((e) => e);
    expect(ninth.rpc?.code).to.equal(11004);
    expect(ninth.message).to.match(/client [0-9a-f.:]*127\.0\.0\.1/);
    expect(pool.stats.jobs, 'a call refused on its client costs no signature work').to.equal(jobs1);
    expect(cache.stats.inline - inline0).to.equal(0);
    clock.ms += 10_000;
    // A cancel through the pool: the victim's own, then a forged one (refused on its signature).
    const cancel = (orderHash: bigint, priv: bigint) => {
      const msg = { account: victim!.address, orderHash };
      const s = sign(cancelHash(msg, g.chainId), priv);
      return rpc(node.rpcUrl, 'perp_cancelOrder', { cancel: { account: hex(msg.account), orderHash: hex(msg.orderHash) }, signature: [hex(s.r), hex(s.s)] });
    };
    const c = (await cancel(own!.hash, victim!.privateKey!)) as { status: string; order_hash: string };
    expect(c.status).to.equal('CANCELLED');
    expect(c.order_hash).to.equal(hex(own!.hash));
    expect(await code(cancel(999n, other!.privateKey!)), "a forged cancel is refused on its signature").to.equal(55);
    expect(cache.stats.inline - inline0, 'cancels verified on the pool too').to.equal(0);
  });
});
