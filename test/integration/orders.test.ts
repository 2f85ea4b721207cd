/**
 * Order and cancel rules across the matcher/contract boundary, through the in-process
 * sequencer (issue 11, defects 1, 8 and 9): each case failed before its fix.
 */
import { expect } from 'chai';
import type { RunningNode } from '../../node/node.ts';
import { startTestSequencer } from '../helpers/sequencer.ts';
import { cancelAllHash, cancelHash, deployAccountHash, accountAddress, getAccountView, getOrderState, oracleUpdateHash, orderHash, withdrawHash, type Order, type PerpTx, type SignedOrder } from '../../contracts-ts/index.ts';
import { getStarkKey, sign, starknetKeccak } from '../../node/crypto/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { EXPIRY_UNKNOWN, readOrderState } from '../../contracts-ts/exchange/orders.ts';

const E8 = 10n ** 8n;
const TENTH = E8 / 10n;
const P = 65_000n * E8;

async function refused(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a refusal');
}

describe('order and cancel rules (matcher and contracts agree)', function () {
  this.timeout(120_000);
  let t: ReturnType<typeof tempDir>;
  let node: RunningNode | undefined;
  const start = async () => (node = await startTestSequencer(t.path));
  beforeEach(() => (t = tempDir()));
  afterEach(async () => {
    await node?.stop();
    node = undefined;
    t.cleanup();
  });

  let salt = 1n;
  const dev = (n: RunningNode, who: number) => n.chain.genesis.exchange.devAccounts[who]!;
  function order(n: RunningNode, who: number | { address: bigint; privateKey: bigint }, f: Partial<Order>): SignedOrder {
    const acct = typeof who === 'number' ? dev(n, who) : who;
    const o: Order = { account: acct.address, market: 'BTC-USD-PERP', side: 'BUY', orderType: 'LIMIT', timeInForce: 'GTC', size: TENTH, price: P, triggerPrice: 0n, reduceOnly: false, expiry: 4_000_000_000n, salt: salt++, ...f };
    const hash = orderHash(o, n.chain.genesis.chainId);
    const s = sign(hash, acct.privateKey!);
    return { order: o, hash, signature: [s.r, s.s] };
  }
  function cancelTx(n: RunningNode, who: number, orderHashValue: bigint): PerpTx & { type: 'CANCEL' } {
    const a = dev(n, who);
    const s = sign(cancelHash({ account: a.address, orderHash: orderHashValue }, n.chain.genesis.chainId), a.privateKey!);
    return { type: 'CANCEL', account: a.address, orderHash: orderHashValue, signature: [s.r, s.s] };
  }
  let oracleTs = 0n;
  async function setMark(n: RunningNode, price: bigint): Promise<void> {
    const g = n.chain.genesis;
    const o = g.exchange.oracles[0]!;
    const now = BigInt(Math.floor(Date.now() / 1000));
    oracleTs = oracleTs < now ? now : oracleTs + 1n;
    const prices = [{ market: 'BTC-USD-PERP', price }];
    const s = sign(oracleUpdateHash({ timestamp: oracleTs, prices }, o.publicKey, g.chainId), o.privateKey!);
    await n.exchange.oracleUpdate({ type: 'ORACLE_UPDATE', signer: o.publicKey, timestamp: oracleTs, prices, signature: [s.r, s.s] });
  }
  const pos = (n: RunningNode, who: number) => getAccountView(n.producer.readState(), n.chain.genesis.exchange, dev(n, who).address).positions.find((p) => p.market === 'BTC-USD-PERP')?.size ?? 0n;

  it('defect 1: B cannot cancel A\'s order (NOT_OWNER, sequencer-side); A\'s order stays in the book and on chain, across a restart', async () => {
    let n = await start();
    const a = dev(n, 0).address;
    const ask = order(n, 0, { side: 'SELL', size: 2n * TENTH });
    expect((await n.exchange.submitOrder(ask)).record.status).to.equal('OPEN');
    // Hostile: B signs a cancel of A's (never touched on chain) order.
    const err = await refused(n.exchange.cancel(cancelTx(n, 1, ask.hash)));
    expect(err.code).to.equal('NOT_OWNER');
    expect(n.exchange.matcher.getOrder(ask.hash)?.status).to.equal('OPEN');
    // After a partial fill the sequencer still refuses B's cancel (its order table knows the owner).
    expect((await n.exchange.submitOrder(order(n, 2, { side: 'BUY', timeInForce: 'IOC' }))).fills).to.have.length(1);
    expect((await refused(n.exchange.cancel(cancelTx(n, 1, ask.hash)))).code).to.equal('NOT_OWNER');
    // A CANCEL sent past the book straight to the chain executes, but marks only B's own storage.
    await n.producer.submit(cancelTx(n, 1, ask.hash));
    expect(getOrderState(n.producer.readState(), n.chain.genesis.exchange, ask.hash, a).cancelled).to.equal(false);
    // A CANCEL_ALL signed by B never reaches A's orders either.
    const b = dev(n, 1);
    const bn = n.producer.readState().getNonce(b.address);
    const ca = sign(cancelAllHash({ account: b.address, market: 'ALL', nonce: bn }, n.chain.genesis.chainId), b.privateKey!);
    expect((await n.exchange.cancelAll({ type: 'CANCEL_ALL', account: b.address, market: 'ALL', nonce: bn, signature: [ca.r, ca.s] })).cancelled).to.deep.equal([]);
    await n.producer.sealNow(true);
    await n.stop();
    n = await start();
    expect(n.exchange.matcher.getOrder(ask.hash)?.status).to.equal('PARTIALLY_FILLED');
    expect(getOrderState(n.producer.readState(), n.chain.genesis.exchange, ask.hash, a).cancelled).to.equal(false);
    // The node still knows the owner after the restart (table O).
    expect((await refused(n.exchange.cancel(cancelTx(n, 1, ask.hash)))).code).to.equal('NOT_OWNER');
    // The owner's own cancel works.
    const own = await n.exchange.cancel(cancelTx(n, 0, ask.hash));
    expect(own.record?.status).to.equal('CANCELLED');
    expect(getOrderState(n.producer.readState(), n.chain.genesis.exchange, ask.hash, a).cancelled).to.equal(true);
    // A closed order (out of the book, in table O): B's cancel is still NOT_OWNER.
    await n.producer.sealNow(true);
    expect(n.exchange.matcher.getOrder(ask.hash)).to.equal(undefined);
    expect((await refused(n.exchange.cancel(cancelTx(n, 1, ask.hash)))).code).to.equal('NOT_OWNER');
  });

  it('a cancelled order reads CANCELLED while its block is being written (no fall-back to the older stored record)', async () => {
    const n = await start();
    const bid = order(n, 0, { side: 'BUY', price: P - 100n * E8 });
    expect((await n.exchange.submitOrder(bid)).record.status).to.equal('OPEN');
    await n.producer.sealNow(true); // the OPEN record is now stored
    expect((await n.exchange.cancel(cancelTx(n, 0, bid.hash))).record?.status).to.equal('CANCELLED');
    // The seal hands the block's records to its batch; a read before the batch is written must
    // still see the new record (it used to read the stored OPEN one).
    const ops = (n.exchange as unknown as { persistOps(): unknown[] }).persistOps();
    expect(ops.length).to.be.greaterThan(1);
    expect((await n.exchange.getOrder(bid.hash))?.status).to.equal('CANCELLED');
    expect((await n.exchange.ordersOf(dev(n, 0).address)).find((r) => r.signed.hash === bid.hash)?.status).to.equal('CANCELLED');
  });

  it('defect 8: orders need collateral (INSUFFICIENT_MARGIN), at most max_open_orders per market, aggressive limits inside the band', async () => {
    const n = await start();
    const g = n.chain.genesis;
    // A fresh account with zero collateral cannot rest a 1,000 BTC bid, nor a tiny one.
    const priv = starknetKeccak('orders test zero collateral');
    const pub = getStarkKey(priv);
    const ds = sign(deployAccountHash(pub, g.chainId), priv);
    await n.producer.submit({ type: 'DEPLOY_ACCOUNT', publicKey: pub, signature: [ds.r, ds.s] });
    const zero = { address: accountAddress(pub), privateKey: priv };
    for (const size of [1000n * E8, TENTH / 10n]) {
      const e = await refused(n.exchange.submitOrder(order(n, zero, { size, price: 60_000n * E8 })));
      expect(e.code).to.equal('INSUFFICIENT_MARGIN');
    }
    expect(n.exchange.matcher.openCount).to.equal(0);
    // A funded account (100,000 USDC, IMF 5%): bids backed by up to 2,000,000 USDC of notional.
    expect((await n.exchange.submitOrder(order(n, 3, { size: 20n * E8, price: 60_000n * E8 }))).record.status).to.equal('OPEN'); // 1.2M
    const over = await refused(n.exchange.submitOrder(order(n, 3, { size: 14n * E8, price: 60_000n * E8 }))); // +840k > 2M
    expect(over.code).to.equal('INSUFFICIENT_MARGIN');
    // Asks net against nothing here, but only the worse side counts: 20 BTC of asks still fit.
    expect((await n.exchange.submitOrder(order(n, 3, { side: 'SELL', size: 20n * E8, price: 70_000n * E8 }))).record.status).to.equal('OPEN');
    // Reduce-only orders need no margin.
    // max_open_orders (default 200) per account per market: 1,000 orders are impossible.
    let accepted = 0;
    let last: { code?: string } | undefined;
    for (let i = 0; i < 1000 && !last; i++) {
      try {
        await n.exchange.submitOrder(order(n, 4, { size: E8 / 1000n, price: 50_000n * E8 }));
        accepted++;
      } catch (e) {
        last = e as { code?: string };
      }
    }
    expect(accepted).to.equal(200);
    expect(last?.code).to.equal('TOO_MANY');
    // Aggressive limits only within limit_price_band_bps (500) of the mark 65,000; passive ones anywhere.
    expect((await refused(n.exchange.submitOrder(order(n, 5, { side: 'BUY', price: 68_300n * E8, timeInForce: 'IOC' })))).code).to.equal('PRICE_BAND');
    expect((await refused(n.exchange.submitOrder(order(n, 5, { side: 'SELL', price: 61_700n * E8 })))).code).to.equal('PRICE_BAND');
    expect((await n.exchange.submitOrder(order(n, 5, { side: 'BUY', price: 68_200n * E8, timeInForce: 'IOC' }))).record.status).to.equal('CANCELLED');
    expect((await n.exchange.submitOrder(order(n, 5, { side: 'BUY', price: 30_000n * E8 }))).record.status).to.equal('OPEN');
  });

  it('defect 9: FOK fills across several makers, atomically (all fills or none)', async () => {
    const n = await start();
    await n.exchange.submitOrder(order(n, 0, { side: 'SELL', size: TENTH, price: P }));
    await n.exchange.submitOrder(order(n, 1, { side: 'SELL', size: TENTH, price: P + E8 }));
    const fok = await n.exchange.submitOrder(order(n, 2, { side: 'BUY', size: 2n * TENTH, price: P + E8, timeInForce: 'FOK' }));
    expect(fok.record.status).to.equal('FILLED');
    expect(fok.fills.map((f) => f.fill.size)).to.deep.equal([TENTH, TENTH]);
    expect(pos(n, 2)).to.equal(2n * TENTH);
    // A maker whose fill would fail (it withdrew the collateral backing its ask) is dropped before
    // anything settles; what is left cannot fill the FOK, so nothing fills at all.
    const bad = order(n, 3, { side: 'SELL', size: TENTH, price: P });
    const good = order(n, 4, { side: 'SELL', size: TENTH, price: P });
    await n.exchange.submitOrder(bad);
    await n.exchange.submitOrder(good);
    const a3 = dev(n, 3);
    const wn = n.producer.readState().getNonce(a3.address);
    const ws = sign(withdrawHash({ account: a3.address, amount: 100_000n * 10n ** 6n, recipient: 0xabcn, nonce: wn }, n.chain.genesis.chainId), a3.privateKey!);
    await n.producer.submit({ type: 'WITHDRAW', account: a3.address, amount: 100_000n * 10n ** 6n, recipient: 0xabcn, nonce: wn, signature: [ws.r, ws.s] });
    const txsBefore = n.producer.openBlock!.txs.length;
    const killed = await n.exchange.submitOrder(order(n, 5, { side: 'BUY', size: 2n * TENTH, price: P, timeInForce: 'FOK' }));
    expect(killed.record.status).to.equal('CANCELLED');
    expect(killed.fills).to.have.length(0);
    expect(n.producer.openBlock!.txs.length).to.equal(txsBefore); // not one TRADE settled
    expect(pos(n, 5)).to.equal(0n);
    expect(n.exchange.matcher.getOrder(bad.hash)).to.equal(undefined); // cancelled settle_failed
    expect(n.exchange.matcher.getOrder(good.hash)?.remaining).to.equal(TENTH); // untouched
  });

  it('defect 9: a STOP_LIMIT that fires at submit is triggered on chain and its later fill settles', async () => {
    const n = await start();
    // Mark 65,000 >= trigger 64,000: a stop BUY fires at once and rests as a limit at 64,900.
    const stop = order(n, 0, { side: 'BUY', orderType: 'STOP_LIMIT', triggerPrice: 64_000n * E8, price: 64_900n * E8 });
    const r = await n.exchange.submitOrder(stop);
    expect(r.record.status).to.equal('OPEN');
    expect(getOrderState(n.producer.readState(), n.chain.genesis.exchange, stop.hash, dev(n, 0).address)?.triggered).to.equal(true);
    // The mark falls below the trigger: the order already fired, so a seller still fills it.
    await setMark(n, 63_000n * E8);
    const sell = await n.exchange.submitOrder(order(n, 1, { side: 'SELL', price: 64_900n * E8, timeInForce: 'IOC' }));
    expect(sell.record.status).to.equal('FILLED');
    expect(pos(n, 0)).to.equal(TENTH);
  });

  it('defect 9: a reduce-only FOK larger than the position closes the whole position or nothing', async () => {
    const n = await start();
    await n.exchange.submitOrder(order(n, 1, { side: 'SELL', size: TENTH }));
    await n.exchange.submitOrder(order(n, 0, { side: 'BUY', size: TENTH, timeInForce: 'IOC' }));
    expect(pos(n, 0)).to.equal(TENTH);
    await n.exchange.submitOrder(order(n, 2, { side: 'BUY', size: E8, price: P - E8 }));
    const close = await n.exchange.submitOrder(order(n, 0, { side: 'SELL', size: 5n * TENTH, price: P - E8, timeInForce: 'FOK', reduceOnly: true }));
    expect(close.record.status).to.equal('FILLED');
    expect(close.fills.map((f) => f.fill.size)).to.deep.equal([TENTH]);
    expect(pos(n, 0)).to.equal(0n);
  });

  it('defect 9: reduce-only TP/SL may be placed before the position, and stops in POST_ONLY mode (as docs/matching.md says)', async () => {
    const n = await start();
    const sl = await n.exchange.submitOrder(order(n, 0, { side: 'SELL', orderType: 'STOP_MARKET', triggerPrice: 60_000n * E8, price: 55_000n * E8, timeInForce: 'IOC', reduceOnly: true }));
    expect(sl.record.status).to.equal('UNTRIGGERED');
    await n.maintenance.setMode('POST_ONLY', 'test');
    const stop = await n.exchange.submitOrder(order(n, 1, { side: 'BUY', orderType: 'STOP_LIMIT', triggerPrice: 66_000n * E8, price: 66_000n * E8 }));
    expect(stop.record.status).to.equal('UNTRIGGERED');
    // POST_ONLY: still no taking and no MARKET orders.
    expect((await refused(n.exchange.submitOrder(order(n, 1, { orderType: 'MARKET', timeInForce: 'IOC', price: 70_000n * E8 })))).code).to.equal('MODE_POST_ONLY');
  });

  it('issue 14: the sequencer prunes the records of expired orders at its seals (fills by slot, a cancel-only word with its order), also after a restart', async () => {
    let nowMs = Date.now();
    const clock = () => nowMs;
    let n = await (node = await startTestSequencer(t.path, { clock }));
    const sec = () => BigInt(Math.floor(nowMs / 1000));
    const word = (who: number, h: bigint) => readOrderState(n.producer.readState(), dev(n, who).address, h);
    const ask = order(n, 0, { side: 'SELL', expiry: sec() + 30n });
    expect((await n.exchange.submitOrder(ask)).record.status).to.equal('OPEN');
    const bid = order(n, 2, { side: 'BUY', timeInForce: 'IOC', expiry: sec() + 30n });
    expect((await n.exchange.submitOrder(bid)).fills).to.have.length(1);
    const rest = order(n, 0, { side: 'SELL', price: P + 1000n * E8, expiry: sec() + 30n });
    expect((await n.exchange.submitOrder(rest)).record.status).to.equal('OPEN');
    await n.exchange.cancel(cancelTx(n, 0, rest.hash));
    const late = order(n, 0, { side: 'SELL', price: P + 2000n * E8, expiry: sec() + 90n });
    expect((await n.exchange.submitOrder(late)).record.status).to.equal('OPEN');
    await n.exchange.cancel(cancelTx(n, 0, late.hash));
    await n.producer.sealNow(true);
    expect(word(0, ask.hash).filled).to.equal(TENTH);
    expect(word(2, bid.hash).filled).to.equal(TENTH);
    expect(word(0, rest.hash)).to.deep.include({ cancelled: true, expiry: EXPIRY_UNKNOWN });
    // Before the expiry nothing is pruned.
    nowMs += 10_000;
    await n.producer.sealNow(true);
    expect(word(0, ask.hash).filled).to.equal(TENTH);
    // After it: the fill words go at the next seal, the cancel-only word (proved by its order) soon after.
    nowMs += 30_000;
    for (let i = 0; i < 20 && word(0, rest.hash).cancelled; i++) {
      nowMs += 1000;
      await n.producer.sealNow(true);
    }
    expect(word(0, ask.hash).expiry).to.equal(0n);
    expect(word(2, bid.hash).expiry).to.equal(0n);
    expect(word(0, rest.hash).expiry).to.equal(0n);
    // A replay of the pruned orders is refused by their expiry.
    expect((await refused(n.exchange.submitOrder(ask))).code).to.equal('ORDER_EXPIRED');
    expect((await refused(n.producer.submit({ type: 'TRADE', maker: ask, taker: bid, size: TENTH, price: P }))).code).to.equal('DUPLICATE_TX');
    const fresh = order(n, 3, { side: 'BUY', timeInForce: 'IOC' });
    expect((await refused(n.producer.submit({ type: 'TRADE', maker: ask, taker: fresh, size: TENTH, price: P }))).code).to.equal('ORDER_EXPIRED');
    // Restart before `late` expires: table O queues it again.
    await n.stop();
    n = node = await startTestSequencer(t.path, { clock });
    expect(word(0, late.hash).cancelled).to.equal(true);
    nowMs += 60_000;
    for (let i = 0; i < 20 && word(0, late.hash).cancelled; i++) {
      nowMs += 1000;
      await n.producer.sealNow(true);
    }
    expect(word(0, late.hash).expiry).to.equal(0n);
  });
});
