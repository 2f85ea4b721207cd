/**
 * Carried message hashes (contracts-ts/message-hashes.ts): the verify pool computes each order's
 * and cancel's SNIP-12 hash on a worker, SignatureCache.prepare records it against the message
 * object, and the contract's signature check takes it from ctx.messageHashes instead of hashing
 * on the main thread. These tests check that the hash is reused (no Poseidon for it on the main
 * thread), that it is never answered for anything but the exact object and content it was
 * computed from (mutations, copies, another order claiming the same hash, another chain, fields
 * changed while the pool worked), and that execution without the cache (a follower) computes the
 * same hashes and writes the same state.
 */
import { expect } from 'chai';
import { cancelHash, executeTransaction, orderHash, OverlayState, TxRevert, type ContractEvent, type Order, type PerpTx, type SignedOrder } from '../../contracts-ts/index.ts';
import { domainHash, TYPES } from '../../contracts-ts/typed-data.ts';
import { MessageHashCache, messageContent } from '../../contracts-ts/message-hashes.ts';
import type { ExecContext, MessageHashes } from '../../contracts-ts/state.ts';
import { ACC } from '../../contracts-ts/layout.ts';
import { installedCounting } from '../../bench/lib/counting.ts';
import { signatureJobs, VerifyPool } from '../../node/sequencer/verify-pool.ts';
import { SignatureCache } from '../../node/sequencer/sigcache.ts';
import { CHAIN_ID, E8, Harness, USERS } from './exchange-fixtures.ts';

const [alice, bob] = USERS as [(typeof USERS)[0], (typeof USERS)[0]];
const P65K = 65_000n * E8;
const TENTH = E8 / 10n;
const sponge = (n: number) => Math.floor(n / 2) + 1;
/** One order's message hash: the struct hash over type hash + 11 fields, then the 4-felt message hash. */
const ORDER_HASH_PERMS = sponge(12) + sponge(4);

interface Run {
  events?: ContractEvent[];
  error?: TxRevert;
  writes: string;
  poseidon: number;
}

/** Executes `tx` on an overlay of the harness state (nothing kept), with or without carried hashes. */
function run(h: Harness, tx: PerpTx, messageHashes?: MessageHashes): Run {
  const st = new OverlayState(h.st);
  const ctx: ExecContext = messageHashes ? { ...h.ctx(), messageHashes } : h.ctx();
  const counting = installedCounting();
  const p0 = counting?.counts.poseidon ?? 0;
  let events: ContractEvent[] | undefined;
  let error: TxRevert | undefined;
  try {
    events = executeTransaction(tx, st, ctx, h.cfg).events;
  } catch (e) {
    if (!(e instanceof TxRevert)) throw e;
    error = e;
  }
  const writes = JSON.stringify([...st.storageWrites.values()].map((w) => [w.address, w.key, w.value].map(String)).sort());
  return { events, error, writes, poseidon: (counting?.counts.poseidon ?? 0) - p0 };
}

describe('carried message hashes: computed where the signature is verified, not again in execution', function () {
  this.timeout(120_000);
  let pool: VerifyPool;
  before(async () => {
    pool = await VerifyPool.create({ size: 2 });
  });
  after(async () => pool.close());

  const cacheFor = (h: Harness) => {
    const c = new SignatureCache();
    c.attachPool(pool);
    const keyOf = (a: bigint) => h.st.getStorage(a, ACC.publicKey) || undefined;
    return { c, prepare: (tx: PerpTx) => c.prepare(signatureJobs(tx, keyOf, CHAIN_ID, 0n)) };
  };
  const pair = (h: Harness) => {
    const mk = h.order(bob, { side: 'SELL', size: TENTH, price: P65K });
    const tk = h.order(alice, { side: 'BUY', size: TENTH, price: P65K, timeInForce: 'IOC' });
    return { mk, tk, trade: h.trade(mk, tk, TENTH, P65K) };
  };

  it('the pool hashes each order from its fields (not the hash it claims) and the cache answers it for that order only', async () => {
    const h = new Harness();
    const { c, prepare } = cacheFor(h);
    const { mk, tk, trade } = pair(h);
    const liar: SignedOrder = { ...h.order(alice, { side: 'BUY', size: TENTH, price: P65K }), hash: 12345n }; // claims a wrong hash
    await prepare(trade);
    await prepare({ type: 'TRIGGER', order: liar });
    expect(c.messageHashes.peek('Order', mk.order, CHAIN_ID)).to.equal(orderHash(mk.order, CHAIN_ID)).and.to.equal(mk.hash);
    expect(c.messageHashes.peek('Order', tk.order, CHAIN_ID)).to.equal(tk.hash);
    expect(c.messageHashes.peek('Order', liar.order, CHAIN_ID)).to.equal(orderHash(liar.order, CHAIN_ID)).and.not.equal(12345n);
    // The signature answers are recorded under the computed hashes.
    expect(c.has(mk.hash, h.st.getStorage(bob.address, ACC.publicKey), mk.signature)).to.equal(true);
    // The liar still fails in execution: the carried hash is the order's own, not the one it claims.
    expect(run(h, h.trade(mk, liar, TENTH, P65K), c.messageHashes).error?.code).to.equal('BAD_ORDER_HASH');
    // Preparing again finds everything cached: no new pool work.
    const jobs0 = pool.stats.jobs;
    await prepare(trade);
    expect(pool.stats.jobs).to.equal(jobs0);
  });

  it('packed and structured-cloned order jobs: the worker hash equals orderHash for every kind of order; malformed ones get none', async () => {
    const h = new Harness();
    const key = h.st.getStorage(alice.address, ACC.publicKey);
    const P = 2n ** 251n + 17n * 2n ** 192n + 1n;
    const shapes: Partial<Order>[] = [
      {},
      { reduceOnly: true, side: 'SELL', timeInForce: 'FOK' },
      { orderType: 'STOP_MARKET', triggerPrice: 60_000n * E8, price: 0n },
      { orderType: 'TAKE_PROFIT_LIMIT', triggerPrice: 70_000n * E8, timeInForce: 'POST_ONLY' },
      { salt: P - 1n, expiry: 2n ** 64n - 1n, size: 2n ** 128n - 1n },
      { market: 'ETH-USD-PERP' },
    ];
    const orders = shapes.map((f) => h.order(alice, { side: 'BUY', size: TENTH, price: P65K, ...f }));
    const jobs = orders.flatMap((s) => signatureJobs({ type: 'TRIGGER', order: s }, () => key, CHAIN_ID, 0n));
    // Not packable (a field above 256 bits, a number instead of a bigint): cloned; hashing fails in the worker, no hash.
    const huge = { ...orders[0]!.order, salt: 1n << 300n };
    const typed = { ...orders[0]!.order, size: 5 as unknown as bigint };
    const bad = [huge, typed].flatMap((order) => signatureJobs({ type: 'TRIGGER', order: { order, hash: 1n, signature: [1n, 1n] } }, () => key, CHAIN_ID, 0n));
    const res = await pool.run([...jobs, ...bad]);
    expect(res.slice(0, orders.length).map((r) => r.msgHash)).to.deep.equal(orders.map((s) => orderHash(s.order, CHAIN_ID)));
    expect(res.slice(0, orders.length).map((r) => r.ok)).to.deep.equal(orders.map(() => true));
    expect(res.slice(orders.length).map((r) => [r.msgHash, r.ok])).to.deep.equal([
      [-1n, false],
      [-1n, false],
    ]);
  });

  it('a TRADE with carried hashes hashes neither order on the main thread, and writes exactly what it writes without them', async function () {
    if (!installedCounting()) this.skip();
    const h = new Harness();
    const { c, prepare } = cacheFor(h);
    domainHash(CHAIN_ID); // memoised once per chain id: keep it out of the counts
    const { trade } = pair(h);
    await prepare(trade);
    const warm = run(h, trade, c.messageHashes); // warms the storage-key memos
    const carried = run(h, trade, c.messageHashes);
    const computed = run(h, trade); // a follower: no cache, the orders are hashed here (first time for these orders)
    expect(warm.error, warm.error?.message).to.equal(undefined);
    expect(carried.writes).to.equal(computed.writes).and.to.equal(warm.writes);
    expect(carried.events).to.deep.equal(computed.events);
    expect(computed.poseidon - carried.poseidon).to.equal(2 * ORDER_HASH_PERMS);
    expect(c.messageHashes.stats.hits).to.equal(4);
    expect(c.stats.inline).to.equal(0);
  });

  it('execution takes the carried hash when there is one (a lying oracle is believed: the node must only pass the real cache)', () => {
    const h = new Harness();
    const { trade, mk } = pair(h);
    const lying: MessageHashes = { lookup: (kind) => (kind === 'Order' ? 7n : undefined) };
    const r = run(h, trade, lying);
    expect(r.error?.code).to.equal('BAD_ORDER_HASH');
    expect(r.error?.message).to.include('expected 0x7');
    expect(orderHash(mk.order, CHAIN_ID)).to.not.equal(7n);
  });

  it('an order changed after it was verified is never answered: every signed field, the claimed hash, a copy, another chain', async () => {
    const h = new Harness();
    const { c, prepare } = cacheFor(h);
    const change: Record<string, (o: Order) => void> = {
      account: (o) => (o.account = USERS[2]!.address),
      market: (o) => (o.market = 'ETH-USD-PERP'),
      side: (o) => (o.side = 'SELL'),
      orderType: (o) => (o.orderType = 'MARKET'),
      timeInForce: (o) => (o.timeInForce = 'GTC'),
      size: (o) => (o.size = 2n * TENTH),
      price: (o) => (o.price = P65K + 10n * E8),
      triggerPrice: (o) => (o.triggerPrice = 1n),
      reduceOnly: (o) => (o.reduceOnly = true),
      expiry: (o) => (o.expiry = o.expiry + 1n),
      salt: (o) => (o.salt = o.salt + 1n),
    };
    expect(Object.keys(change).sort()).to.deep.equal(TYPES.Order.map((f) => f.name).sort()); // every field the hash covers
    for (const [field, mutate] of Object.entries(change)) {
      const { tk, trade } = pair(h);
      await prepare(trade);
      expect(c.messageHashes.peek('Order', tk.order, CHAIN_ID), field).to.equal(tk.hash);
      mutate(tk.order);
      expect(c.messageHashes.peek('Order', tk.order, CHAIN_ID), field).to.equal(undefined);
      const refused0 = c.messageHashes.stats.refused;
      const hits0 = c.messageHashes.stats.hits;
      const r = run(h, trade, c.messageHashes);
      expect(c.messageHashes.stats.refused - refused0, field).to.be.at.most(1); // 0 when an earlier rule reverts first
      expect(c.messageHashes.stats.hits, field).to.equal(hits0 + (c.messageHashes.stats.refused > refused0 ? 1 : 0)); // the maker only
      // Recomputed, so refused (the claimed hash no longer matches, or an earlier rule): the verdict of a node without the cache.
      expect(r.error, field).to.be.instanceOf(TxRevert);
      expect(run(h, trade).error?.code, field).to.equal(r.error!.code);
      // And with the claimed hash updated to the new content: the signature no longer verifies.
      const resigned: PerpTx = { ...trade, taker: { ...tk, hash: orderHash(tk.order, CHAIN_ID) } } as PerpTx;
      const r2 = run(h, resigned, c.messageHashes);
      expect(r2.error?.code, field).to.not.equal(undefined);
      expect(run(h, resigned).error?.code, field).to.equal(r2.error?.code);
    }
    // The mutation that the signature check alone decides: same order, its claimed hash updated.
    {
      const { tk, trade } = pair(h);
      await prepare(trade);
      tk.order.size = 2n * TENTH;
      tk.hash = orderHash(tk.order, CHAIN_ID);
      expect(run(h, trade, c.messageHashes).error?.code).to.equal('BAD_SIGNATURE');
    }
    // A copy with identical content is another object: not answered (it is hashed, and agrees).
    {
      const { mk, tk, trade } = pair(h);
      await prepare(trade);
      const copy: SignedOrder = { ...tk, order: { ...tk.order } };
      const hits0 = c.messageHashes.stats.hits;
      expect(c.messageHashes.lookup('Order', copy.order, CHAIN_ID)).to.equal(undefined);
      const r = run(h, h.trade(mk, copy, TENTH, P65K), c.messageHashes);
      expect(r.error).to.equal(undefined);
      expect(c.messageHashes.stats.hits).to.equal(hits0 + 1); // the maker only
    }
    // Another order claiming a verified order's hash and signature: refused like without the cache.
    {
      const { mk, tk, trade } = pair(h);
      await prepare(trade);
      const impostor: SignedOrder = { order: { ...tk.order, size: 3n * TENTH }, hash: tk.hash, signature: tk.signature };
      const r = run(h, h.trade(mk, impostor, TENTH, P65K), c.messageHashes);
      expect(r.error?.code).to.equal('BAD_ORDER_HASH');
      expect(r.error?.party).to.equal('taker');
    }
    // Another chain id or another kind: not answered.
    {
      const { tk, trade } = pair(h);
      await prepare(trade);
      expect(c.messageHashes.lookup('Order', tk.order, CHAIN_ID + 1n)).to.equal(undefined);
      expect(c.messageHashes.lookup('Cancel', tk.order, CHAIN_ID)).to.equal(undefined);
      expect(c.messageHashes.lookup('Order', tk.order, CHAIN_ID)).to.equal(tk.hash);
    }
  });

  it('fields changed while the pool is working: the computed hash is not recorded for the changed order', async () => {
    const h = new Harness();
    const { c } = cacheFor(h);
    const { tk, trade } = pair(h);
    const keyOf = (a: bigint) => h.st.getStorage(a, ACC.publicKey) || undefined;
    const pending = c.prepare(signatureJobs(trade, keyOf, CHAIN_ID, 0n)); // the jobs took their copies now
    tk.order.price = P65K + E8;
    await pending;
    expect(c.messageHashes.peek('Order', tk.order, CHAIN_ID)).to.equal(undefined);
    expect(run(h, trade, c.messageHashes).error?.code).to.equal('BAD_ORDER_HASH');
  });

  it('MessageHashCache.record refuses content that is not a frozen copy equal to the message', () => {
    const h = new Harness();
    const { tk } = pair(h);
    const m = new MessageHashCache();
    expect(m.record('Order', tk.order, tk.order, CHAIN_ID, tk.hash)).to.equal(false); // not a copy (not frozen)
    expect(m.record('Order', tk.order, messageContent('Order', { ...tk.order, salt: 1n }), CHAIN_ID, tk.hash)).to.equal(false);
    expect(m.record('Order', tk.order, messageContent('Order', tk.order), CHAIN_ID, tk.hash)).to.equal(true);
    expect(m.lookup('Order', tk.order, CHAIN_ID)).to.equal(tk.hash);
    expect(m.stats).to.include({ recorded: 1, hits: 1 });
  });

  it('CANCEL: the carried cancel hash is used; a cancel changed after it was verified is hashed again and refused', async () => {
    const h = new Harness();
    const { c, prepare } = cacheFor(h);
    const resting = h.order(bob, { side: 'SELL', size: TENTH, price: P65K });
    const other = h.order(bob, { side: 'SELL', size: TENTH, price: P65K + E8 });
    const cancel = h.cancelTx(bob, resting.hash) as Extract<PerpTx, { type: 'CANCEL' }>;
    await prepare(cancel);
    expect(c.messageHashes.peek('Cancel', cancel, CHAIN_ID)).to.equal(cancelHash(cancel, CHAIN_ID));
    const carried = run(h, cancel, c.messageHashes);
    const computed = run(h, cancel);
    expect(carried.error, carried.error?.message).to.equal(undefined);
    expect(carried.writes).to.equal(computed.writes);
    expect(carried.events).to.deep.equal(computed.events);
    if (installedCounting()) expect(computed.poseidon - carried.poseidon).to.equal(sponge(3) + sponge(4));
    // Retargeted at another order after the check: the cache refuses it, the recomputed hash fails the signature.
    cancel.orderHash = other.hash;
    expect(c.messageHashes.peek('Cancel', cancel, CHAIN_ID)).to.equal(undefined);
    expect(run(h, cancel, c.messageHashes).error?.code).to.equal('BAD_SIGNATURE');
    expect(run(h, cancel).error?.code).to.equal('BAD_SIGNATURE');
  });

  it('a run of trades and cancels gives the same state with the cache (sequencer) and without it (follower)', async () => {
    const seq = new Harness();
    const fol = new Harness();
    const { c, prepare } = cacheFor(seq);
    const txs: PerpTx[] = [];
    for (let i = 0; i < 4; i++) {
      const mk = seq.order(bob, { side: 'SELL', size: TENTH, price: P65K + BigInt(i) * E8 });
      const tk = seq.order(alice, { side: 'BUY', size: TENTH, price: P65K + BigInt(i) * E8, timeInForce: 'IOC' });
      txs.push(seq.trade(mk, tk, TENTH, P65K + BigInt(i) * E8));
      txs.push(seq.cancelTx(bob, seq.order(bob, { side: 'SELL', size: TENTH, price: P65K * 2n }).hash));
    }
    for (const tx of txs) await prepare(tx);
    const hits0 = c.messageHashes.stats.hits;
    for (const tx of txs) {
      const a = run(seq, tx, c.messageHashes);
      const b = run(fol, tx);
      expect(a.error?.code).to.equal(undefined);
      expect(a.writes).to.equal(b.writes);
      expect(a.events).to.deep.equal(b.events);
      seq.exec(tx);
      fol.exec(tx);
    }
    expect(c.messageHashes.stats.hits - hits0).to.equal(4 * 2 + 4);
    expect([...seq.st.storage]).to.deep.equal([...fol.st.storage]);
  });
});
