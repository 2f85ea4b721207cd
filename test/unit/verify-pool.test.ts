/**
 * The signature worker pool and the signature cache: answers equal crypto.verify's for valid,
 * tampered and malformed inputs; the worker computes cancel/deposit message hashes exactly as
 * contracts-ts does; prepared answers are served by the cache without inline verification.
 */
import { expect } from 'chai';
import { getStarkKey, sign, verify } from '../../node/crypto/index.ts';
import { cancelHash, depositHash, orderHash, type Order, type PerpTx } from '../../contracts-ts/index.ts';
import { signatureJobs, VerifyPool, type SigJob } from '../../node/sequencer/verify-pool.ts';
import { SignatureCache } from '../../node/sequencer/sigcache.ts';

const CHAIN = 0x504552504e4f4445n;
const pair = (s: { r: bigint; s: bigint }): [bigint, bigint] => [s.r, s.s];

describe('verify pool and signature cache', function () {
  this.timeout(120_000);
  let pool: VerifyPool;
  const sk = 0x1234567n;
  const pk = getStarkKey(sk);
  const op = 0x7654321n;
  const opPk = getStarkKey(op);
  before(async () => {
    pool = await VerifyPool.create({ size: 2, backend: 'js' });
  });
  after(async () => pool.close());

  it('raw jobs: valid, tampered and malformed signatures get crypto.verify\'s answer, in order', async () => {
    const jobs: SigJob[] = [];
    for (let i = 0; i < 6; i++) {
      const h = 1000n + BigInt(i);
      const sig = pair(sign(h, sk));
      jobs.push({ kind: 'raw', msgHash: h, key: pk, sig });
      jobs.push({ kind: 'raw', msgHash: h + 1n, key: pk, sig }); // wrong message
    }
    jobs.push({ kind: 'raw', msgHash: 5n, key: pk, sig: [0n, 1n] }); // r = 0
    jobs.push({ kind: 'raw', msgHash: 5n, key: 1n << 300n, sig: [1n, 1n] }); // does not fit a felt: slow path
    const res = await pool.run(jobs);
    expect(res.map((r) => r.ok)).to.deep.equal(jobs.map((j) => (j.kind === 'raw' ? verify(j.msgHash, j.key, j.sig) : false)));
    expect(res.filter((r) => r.ok)).to.have.length(6);
    expect(res.map((r) => r.msgHash)).to.deep.equal(jobs.map((j) => (j.kind === 'raw' ? j.msgHash : 0n)));
  });

  it('tx jobs: the worker computes cancel and deposit hashes exactly as contracts-ts does', async () => {
    const account = 0xabcdefn;
    const cancel: PerpTx = { type: 'CANCEL', account, orderHash: 0x99n, signature: pair(sign(cancelHash({ account, orderHash: 0x99n }, CHAIN), sk)) };
    const dep = { depositId: 7n, recipient: account, amount: 10n ** 9n };
    const deposit: PerpTx = { type: 'DEPOSIT', ...dep, signature: pair(sign(depositHash(dep, opPk, CHAIN), op)) };
    const forged: PerpTx = { ...deposit, amount: dep.amount + 1n } as PerpTx;
    const jobs = [cancel, deposit, forged].flatMap((tx) => signatureJobs(tx, () => pk, CHAIN, opPk));
    expect(jobs).to.have.length(3);
    const res = await pool.run(jobs);
    expect(res[0]).to.include({ ok: true, msgHash: cancelHash({ account, orderHash: 0x99n }, CHAIN), key: pk });
    expect(res[1]).to.include({ ok: true, msgHash: depositHash(dep, opPk, CHAIN), key: opPk });
    expect(res[2]!.ok).to.equal(false);
  });

  it('signatureJobs: two order signatures per TRADE (keys from keyOf), none for system transactions', () => {
    const o = (account: bigint, side: 'BUY' | 'SELL'): Order => ({ account, market: 'BTC-USD-PERP', side, orderType: 'LIMIT', timeInForce: 'GTC', size: 100n, price: 5n, triggerPrice: 0n, reduceOnly: false, expiry: 10n ** 10n, salt: 1n });
    const maker = { order: o(1n, 'SELL'), hash: orderHash(o(1n, 'SELL'), CHAIN), signature: [1n, 2n] as [bigint, bigint] };
    const taker = { order: o(2n, 'BUY'), hash: orderHash(o(2n, 'BUY'), CHAIN), signature: [3n, 4n] as [bigint, bigint] };
    const jobs = signatureJobs({ type: 'TRADE', maker, taker, size: 100n, price: 5n }, (a) => (a === 1n ? 11n : a === 2n ? 22n : undefined), CHAIN, opPk);
    // Order jobs carry the order and a frozen copy of its fields: the worker hashes the copy (not the claimed hash).
    expect(jobs).to.deep.equal([
      { kind: 'order', order: maker.order, content: maker.order, chainId: CHAIN, key: 11n, sig: maker.signature },
      { kind: 'order', order: taker.order, content: taker.order, chainId: CHAIN, key: 22n, sig: taker.signature },
    ]);
    for (const j of jobs) {
      if (j.kind !== 'order') continue;
      expect(j.content).to.not.equal(j.order);
      expect(Object.isFrozen(j.content)).to.equal(true);
    }
    expect(signatureJobs({ type: 'FUNDING', timestamp: 1n, markets: [] }, () => 1n, CHAIN, opPk)).to.deep.equal([]);
    expect(signatureJobs({ type: 'CANCEL', account: 5n, orderHash: 1n, signature: [1n, 1n] }, () => undefined, CHAIN, opPk)).to.deep.equal([]);
  });

  it('prepared answers are served from the cache (valid and invalid alike); unprepared ones verify inline', async () => {
    const cache = new SignatureCache();
    cache.attachPool(pool);
    const good = { h: 4242n, sig: pair(sign(4242n, sk)) };
    const bad = { h: 4243n, sig: good.sig };
    await cache.prepare([
      { kind: 'raw', msgHash: good.h, key: pk, sig: good.sig },
      { kind: 'raw', msgHash: bad.h, key: pk, sig: bad.sig },
    ]);
    expect(cache.verify(good.h, pk, good.sig)).to.equal(true);
    expect(cache.verify(bad.h, pk, bad.sig)).to.equal(false);
    expect(cache.stats).to.include({ hits: 2, inline: 0 });
    const other = pair(sign(77n, sk));
    expect(cache.verify(77n, pk, other)).to.equal(true);
    expect(cache.verify(77n, pk, [other[0], other[1] + 1n])).to.equal(false); // same hash, other signature: its own entry
    expect(cache.stats.inline).to.equal(2);
    // Without a pool prepare is a no-op and verify still answers correctly.
    const bare = new SignatureCache();
    await bare.prepare([{ kind: 'raw', msgHash: good.h, key: pk, sig: good.sig }]);
    expect(bare.size).to.equal(0);
    expect(bare.verify(good.h, pk, good.sig)).to.equal(true);
  });

  it('stays bounded: the oldest generation is dropped, answers stay correct', () => {
    const cache = new SignatureCache(10);
    const sig = pair(sign(1n, sk));
    for (let i = 0; i < 40; i++) cache.record(BigInt(i + 1), pk, sig, i === 0);
    expect(cache.size).to.be.at.most(10);
    expect(cache.verify(1n, pk, sig)).to.equal(true);
  });
});
