import { expect } from 'chai';
import type { RunningNode } from '../../node/node.ts';
import { startTestSequencer } from '../helpers/sequencer.ts';
import { cancelHash, orderHash, getAccountView, type CancelTx, type Order, type SignedOrder } from '../../contracts-ts/index.ts';
import { EXPIRY_UNKNOWN, readOrderState } from '../../contracts-ts/exchange/orders.ts';
import { TxRevert } from '../../contracts-ts/state.ts';
import { loadGenesis } from '../../node/chain/genesis.ts';
import { DEVNET_GENESIS } from '../helpers/sequencer.ts';
import { sign } from '../../node/crypto/index.ts';
import { tempDir } from '../helpers/tmp.ts';

const E8 = 10n ** 8n;

describe('exchange service (matcher wired to the chain)', function () {
  this.timeout(60_000);
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
  function order(n: RunningNode, who: number, f: Partial<Order>): SignedOrder {
    const acct = n.chain.genesis.exchange.devAccounts[who]!;
    const o: Order = { account: acct.address, market: 'BTC-USD-PERP', side: 'BUY', orderType: 'LIMIT', timeInForce: 'GTC', size: E8 / 10n, price: 65_000n * E8, triggerPrice: 0n, reduceOnly: false, expiry: 4_000_000_000n, salt: salt++, ...f };
    const hash = orderHash(o, n.chain.genesis.chainId);
    const s = sign(hash, acct.privateKey!);
    return { order: o, hash, signature: [s.r, s.s] };
  }

  it('fills settle on-chain at once, the book survives a restart, and STP cancels the incoming order', async () => {
    let n = await start();
    const ask = order(n, 0, { side: 'SELL', size: E8 / 5n });
    const stop = order(n, 0, { side: 'SELL', orderType: 'STOP_MARKET', triggerPrice: 50_000n * E8, price: 45_000n * E8, timeInForce: 'IOC' });
    expect((await n.exchange.submitOrder(ask)).record.status).to.equal('OPEN');
    expect((await n.exchange.submitOrder(stop)).record.status).to.equal('UNTRIGGERED');
    const buy = await n.exchange.submitOrder(order(n, 1, { side: 'BUY', timeInForce: 'IOC' }));
    expect(buy.record.status).to.equal('FILLED');
    expect(buy.fills).to.have.length(1);
    const pos = (who: number) => getAccountView(n.producer.readState(), n.chain.genesis.exchange, n.chain.genesis.exchange.devAccounts[who]!.address).positions[0]?.size;
    expect(pos(1)).to.equal(E8 / 10n); // visible in the open block before it is sealed
    await n.producer.sealNow();
    await n.stop();

    n = await start();
    expect((await n.exchange.getOrder(ask.hash))?.status).to.equal('PARTIALLY_FILLED');
    expect((await n.exchange.getOrder(ask.hash))?.remaining).to.equal(E8 / 10n);
    expect((await n.exchange.getOrder(stop.hash))?.status).to.equal('UNTRIGGERED');
    expect((await n.exchange.getOrder(buy.record.signed.hash))?.status).to.equal('FILLED');
    // self-trade: account 0 crossing its own resting ask is cancelled, the ask stays
    const self = await n.exchange.submitOrder(order(n, 0, { side: 'BUY', timeInForce: 'GTC' }));
    expect(self.record.status).to.equal('CANCELLED');
    expect(self.fills).to.have.length(0);
    expect((await n.exchange.getOrder(ask.hash))?.remaining).to.equal(E8 / 10n);
    // and the restored resting order still trades
    const buy2 = await n.exchange.submitOrder(order(n, 2, { side: 'BUY', timeInForce: 'IOC' }));
    expect(buy2.record.status).to.equal('FILLED');
    expect((await n.exchange.getOrder(ask.hash))?.status).to.equal('FILLED');
    // an account's order history: its own orders only, open first then closed, across restarts
    await n.producer.sealNow();
    await n.stop();
    n = await start();
    const mine = await n.exchange.ordersOf(n.chain.genesis.exchange.devAccounts[0]!.address);
    expect(mine.map((r) => r.signed.hash)).to.include.members([ask.hash, stop.hash, self.record.signed.hash]);
    expect(mine.every((r) => r.signed.order.account === n.chain.genesis.exchange.devAccounts[0]!.address)).to.equal(true);
    expect(mine[0]!.status).to.equal('UNTRIGGERED');
  });

  it('a CANCEL that reached the chain before its order: the refused order is recorded, and its cancel-only word is pruned after the expiry', async () => {
    const g0 = loadGenesis(DEVNET_GENESIS);
    const clock = { ms: Number(g0.timestamp + 10n) * 1000 };
    const n = (node = await startTestSequencer(t.path, { clock: () => clock.ms, verifyWorkers: 0 }));
    const dev = n.chain.genesis.exchange.devAccounts[0]!;
    const cancelOf = (h: bigint): CancelTx => {
      const sg = sign(cancelHash({ account: dev.address, orderHash: h }, n.chain.genesis.chainId), dev.privateKey!);
      return { type: 'CANCEL', account: dev.address, orderHash: h, signature: [sg.r, sg.s] } as CancelTx;
    };
    const expiry = BigInt(Math.floor(clock.ms / 1000)) + 100n;
    const late = order(n, 0, { price: 60_000n * E8, expiry }); // cancelled before it is submitted
    const never = order(n, 0, { price: 60_000n * E8, expiry }); // cancelled, never submitted
    await n.exchange.cancel(cancelOf(late.hash));
    await n.exchange.cancel(cancelOf(never.hash));
    await n.producer.sealNow();
    const word = (h: bigint) => readOrderState(n.exchange.readState(), dev.address, h);
    expect(word(late.hash).cancelled).to.equal(true);
    expect(word(late.hash).expiry, 'a cancel-only word does not know the expiry').to.equal(EXPIRY_UNKNOWN);

    let refused: unknown;
    await n.exchange.submitOrder(late).catch((e) => (refused = e));
    expect(refused).to.be.instanceOf(TxRevert);
    expect((refused as TxRevert).code).to.equal('ORDER_CANCELLED');
    const rec = await n.exchange.getOrder(late.hash);
    expect(rec?.status).to.equal('CANCELLED');
    expect(rec?.reason).to.equal('cancelled_before_entry');
    expect(await n.exchange.getOrder(never.hash)).to.equal(undefined);
    await n.producer.sealNow(true);

    clock.ms += 200_000; // past the expiry
    const now = () => BigInt(Math.floor(clock.ms / 1000));
    for (let i = 0; i < 20 && (n.exchange.pruneDue(now()) || i === 0); i++) await n.producer.sealNow(true);
    await n.producer.sealNow(true);
    expect(word(late.hash).expiry, 'the proven word is deleted').to.equal(0n);
    expect(word(late.hash).cancelled).to.equal(false);
    // The documented limit: a cancel of a hash the node never saw keeps its word (nothing proves its expiry).
    expect(word(never.hash).expiry).to.equal(EXPIRY_UNKNOWN);
  });

  it('a bad signature or unknown market is refused and changes nothing', async () => {
    const n = await start();
    const good = order(n, 0, { side: 'SELL' });
    const bad: SignedOrder = { ...good, signature: [good.signature[0], good.signature[1] + 1n] };
    let err: any;
    try {
      await n.exchange.submitOrder(bad);
    } catch (e) {
      err = e;
    }
    expect(err?.code).to.be.a('string');
    expect(n.exchange.matcher.openCount).to.equal(0);
    const unknown = order(n, 0, { market: 'DOGE-USD-PERP' });
    err = undefined;
    try {
      await n.exchange.submitOrder(unknown);
    } catch (e) {
      err = e;
    }
    expect(err?.code).to.be.a('string');
    expect(n.producer.openBlock?.txs.length ?? 0).to.equal(0);
  });
});
