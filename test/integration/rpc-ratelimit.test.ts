/**
 * Trading-call limits (node/rpc/perp.ts, node/rpc/ratelimit.ts): the client address is charged
 * before any signature check, an account only once a request's signature verifies under its
 * key, and the buckets evict the least recently used key (bounded memory).
 */
import { expect } from 'chai';
import { startTestSequencer } from '../helpers/sequencer.ts';
import { tempDir } from '../helpers/tmp.ts';
import { rpc } from '../helpers/proc.ts';
import { sign } from '../../node/crypto/index.ts';
import { cancelHash } from '../../contracts-ts/typed-data.ts';
import { TokenBuckets } from '../../node/rpc/ratelimit.ts';
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

describe('trading-call rate limits', function () {
  this.timeout(120_000);
  const t = tempDir();
  let node: RunningNode;
  const clock = { ms: 1_000_000 };
  before(async () => {
    node = await startTestSequencer(t.path, { rpc: { perp: { clientRatePerSec: 1, clientBurst: 8, accountRatePerSec: 1, accountBurst: 2, now: () => clock.ms } } });
  });
  after(async () => {
    await node?.stop();
    t.cleanup();
  });

  it('forged requests naming a victim cost their client, not the victim; then the client limit applies', async () => {
    const g = node.chain.genesis;
    const victim = g.exchange.devAccounts[0]!;
    const cancel = (salt: bigint, priv: bigint | undefined) => {
      const msg = { account: victim.address, orderHash: salt };
      const s = priv === undefined ? { r: 1n, s: 2n } : sign(cancelHash(msg, g.chainId), priv);
      return rpc(node.rpcUrl, 'perp_cancelOrder', { cancel: { account: hex(msg.account), orderHash: hex(msg.orderHash) }, signature: [hex(s.r), hex(s.s)] });
    };
    for (let i = 1n; i <= 5n; i++) expect(await code(cancel(i, undefined)), 'a forged cancel is refused on its signature, not rate-limited').to.not.equal(11004);
    // The victim's own signed calls still have its whole account budget (2).
    for (let i = 6n; i <= 7n; i++) expect(await code(cancel(i, victim.privateKey!))).to.not.equal(11004);
    const third = await cancel(8n, victim.privateKey!).catch((e) => e);
    expect(third.rpc?.code).to.equal(11004);
    expect(third.message).to.contain(`account ${hex(victim.address)}`);
    // 8 calls so far from 127.0.0.1: the client bucket is empty, whoever the request names.
    const ninth = await cancel(9n, undefined).catch((e) => e);
    expect(ninth.rpc?.code).to.equal(11004);
    expect(ninth.message).to.match(/client [0-9a-f.:]*127\.0\.0\.1/);
    clock.ms += 10_000;
    expect(await code(cancel(10n, victim.privateKey!))).to.not.equal(11004);
  });

  it('buckets evict the least recently used key: a flood of made-up keys never resets a key in use', () => {
    const now = { ms: 0 };
    const b = new TokenBuckets(1, 1, () => now.ms, 3);
    expect(b.take('victim')).to.equal(true);
    expect(b.take('victim')).to.equal(false);
    for (let i = 0; i < 1000; i++) {
      b.take(`made-up-${i}`);
      expect(b.take('victim'), `after ${i + 1} made-up keys`).to.equal(false);
    }
    expect(b.size).to.equal(3);
    // An idle key is the one evicted; it comes back with a full bucket.
    b.take('a');
    b.take('b');
    b.take('c');
    expect(b.take('victim')).to.equal(true);
  });
});
