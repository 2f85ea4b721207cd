/**
 * The compact order layout (issue 14): an order's on-chain record is one word in its owner's
 * account at key = order hash mod 2^251 - 256, written at its first on-chain touch and deleted by
 * PRUNE_ORDERS once the order expired; no owner index in the exchange. Replay protection: until
 * the expiry the word refuses a filled or cancelled order; afterwards its expiry does.
 */
import { expect } from 'chai';
import { getOrderState, parseTx, txToJson, validateOrderForBook, TxRevert, type PerpTx, type SignedOrder } from '../../contracts-ts/index.ts';
import { orderKey } from '../../contracts-ts/layout.ts';
import { ADDR_BOUND } from '../../contracts-ts/math.ts';
import { EXPIRY_UNKNOWN, readOrderState } from '../../contracts-ts/exchange/orders.ts';
import { E8, Harness, USERS } from './exchange-fixtures.ts';

const [alice, bob, carol] = USERS as [(typeof USERS)[0], (typeof USERS)[0], (typeof USERS)[0]];
const TENTH = E8 / 10n;
const P65K = 65_000n * E8;

const prune = (slots: SignedOrder[], orders: SignedOrder[] = []): PerpTx => ({ type: 'PRUNE_ORDERS', slots: slots.map((s) => ({ account: s.order.account, orderHash: s.hash })), orders });
const slotsOf = (h: Harness, a: bigint) => [...h.st.storage.keys()].filter((k) => k.startsWith(a.toString(16) + ':')).length;
const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as TxRevert).code;
  }
  return 'ok';
};

describe('compact order layout: order records live until expiry, then are pruned', () => {
  it('the fill word sits at the order hash mod 2^251 - 256 in the owner\'s account, and carries the expiry', () => {
    const h = new Harness();
    const mk = h.order(bob, { side: 'SELL', size: 2n * TENTH, price: P65K });
    const tk = h.order(alice, { side: 'BUY', size: TENTH, price: P65K, timeInForce: 'IOC' });
    h.exec(h.trade(mk, tk, TENTH, P65K));
    expect(orderKey(mk.hash)).to.equal(mk.hash % ADDR_BOUND);
    expect(h.st.getStorage(bob.address, mk.hash % ADDR_BOUND) & ((1n << 128n) - 1n)).to.equal(TENTH);
    expect(readOrderState(h.st, bob.address, mk.hash)).to.deep.include({ filled: TENTH, expiry: mk.order.expiry });
    expect(readOrderState(h.st, alice.address, tk.hash)).to.deep.include({ filled: TENTH, expiry: tk.order.expiry });
  });

  it('slot deletion on fill: both fully filled orders are pruned after their expiry; the trade\'s net storage slots go to <= 0', () => {
    const h = new Harness();
    // Positions exist already: the trade below only changes them.
    const first = [h.order(bob, { side: 'SELL', size: TENTH, price: P65K }), h.order(alice, { side: 'BUY', size: TENTH, price: P65K, timeInForce: 'IOC' })] as const;
    h.exec(h.trade(first[0], first[1], TENTH, P65K));
    h.advance(3601n);
    h.exec(prune([...first]));
    const before = h.st.storage.size;
    const mk = h.order(bob, { side: 'SELL', size: TENTH, price: P65K, expiry: h.now + 100n });
    const tk = h.order(alice, { side: 'BUY', size: TENTH, price: P65K, timeInForce: 'IOC', expiry: h.now + 100n });
    h.exec(h.trade(mk, tk, TENTH, P65K));
    expect(h.st.storage.size - before).to.equal(2); // the two order words (done: fully filled)
    // Not yet expired: the words are the replay protection, PRUNE_ORDERS refuses.
    h.expectRevert(prune([mk]), 'ORDER_NOT_EXPIRED');
    h.expectRevert(h.trade(mk, h.order(carol, { side: 'BUY', size: TENTH, price: P65K }), TENTH, P65K), 'OVERFILL', 'maker');
    h.advance(100n);
    h.exec(prune([mk, tk]));
    expect(h.st.getStorage(bob.address, orderKey(mk.hash))).to.equal(0n);
    expect(h.st.getStorage(alice.address, orderKey(tk.hash))).to.equal(0n);
    expect(h.st.storage.size - before).to.be.at.most(0);
    h.expectInvariants();
  });

  it('replay after deletion: a filled order whose word was pruned is refused by its expiry (TRADE, either role, TRIGGER, ingress)', () => {
    const h = new Harness();
    const mk = h.order(bob, { side: 'SELL', size: TENTH, price: P65K, expiry: h.now + 50n });
    const tk = h.order(alice, { side: 'BUY', size: TENTH, price: P65K, timeInForce: 'IOC', expiry: h.now + 50n });
    const trade = h.trade(mk, tk, TENTH, P65K);
    h.exec(trade);
    h.advance(50n);
    h.exec(prune([mk, tk]));
    expect(readOrderState(h.st, bob.address, mk.hash).filled).to.equal(0n);
    // The very same signed transaction, and each order against a fresh counterparty.
    h.expectRevert(trade, 'ORDER_EXPIRED', 'maker');
    h.expectRevert(h.trade(mk, h.order(carol, { side: 'BUY', size: TENTH, price: P65K }), TENTH, P65K), 'ORDER_EXPIRED', 'maker');
    h.expectRevert(h.trade(h.order(carol, { side: 'SELL', size: TENTH, price: P65K }), tk, TENTH, P65K), 'ORDER_EXPIRED', 'taker');
    expect(code(() => validateOrderForBook(mk, h.st, h.cfg, h.ctx()))).to.equal('ORDER_EXPIRED');
    const stop = h.order(bob, { side: 'SELL', size: TENTH, price: P65K, orderType: 'STOP_LIMIT', triggerPrice: 70_000n * E8, expiry: h.now + 10n });
    h.exec({ type: 'TRIGGER', order: stop });
    h.advance(10n);
    h.exec(prune([stop]));
    h.expectRevert({ type: 'TRIGGER', order: stop }, 'ORDER_EXPIRED');
    // Pruning twice, or a slot that never existed, reverts (a proposal is exact).
    h.expectRevert(prune([mk]), 'INVALID_ORDER');
    h.expectInvariants();
  });

  it('slot deletion on cancel: a cancel of a partly filled order keeps the learnt expiry; a cancel-only word is pruned with its order as proof', () => {
    const h = new Harness();
    const part = h.order(bob, { side: 'SELL', size: 2n * TENTH, price: P65K, expiry: h.now + 30n });
    h.exec(h.trade(part, h.order(alice, { side: 'BUY', size: TENTH, price: P65K, timeInForce: 'IOC', expiry: h.now + 30n }), TENTH, P65K));
    h.exec(h.cancelTx(bob, part.hash));
    expect(readOrderState(h.st, bob.address, part.hash)).to.deep.include({ cancelled: true, filled: TENTH, expiry: part.order.expiry });
    const rest = h.order(bob, { side: 'SELL', size: TENTH, price: P65K, expiry: h.now + 30n });
    h.exec(h.cancelTx(bob, rest.hash)); // never touched on chain: the CANCEL names only its hash
    expect(readOrderState(h.st, bob.address, rest.hash)).to.deep.include({ cancelled: true, expiry: EXPIRY_UNKNOWN });
    // Until the expiry the cancelled words refuse the orders.
    h.expectRevert(h.trade(rest, h.order(carol, { side: 'BUY', size: TENTH, price: P65K }), TENTH, P65K), 'ORDER_CANCELLED', 'maker');
    h.expectRevert(prune([], [rest]), 'ORDER_NOT_EXPIRED');
    h.advance(30n);
    h.expectRevert(prune([rest]), 'ORDER_NOT_EXPIRED'); // its slot does not know the expiry
    // A forged order (an earlier expiry under the real hash) is refused.
    h.expectRevert(prune([], [{ ...rest, order: { ...rest.order, expiry: 1n } }]), 'BAD_ORDER_HASH');
    h.exec(prune([part], [rest]));
    expect(h.st.getStorage(bob.address, orderKey(part.hash))).to.equal(0n);
    expect(h.st.getStorage(bob.address, orderKey(rest.hash))).to.equal(0n);
    h.expectRevert(h.trade(rest, h.order(carol, { side: 'BUY', size: TENTH, price: P65K }), TENTH, P65K), 'ORDER_EXPIRED', 'maker');
    h.expectInvariants();
  });

  it('hostile cancel: a CANCEL signed by another account writes only that account\'s storage; the order fills and is pruned as usual', () => {
    const h = new Harness();
    const ask = h.order(alice, { side: 'SELL', size: TENTH, price: P65K, expiry: h.now + 20n });
    const aliceSlots = slotsOf(h, alice.address);
    h.exec(h.cancelTx(bob, ask.hash));
    h.exec(h.cancelAllTx(bob, 'ALL', [ask.hash]));
    expect(slotsOf(h, alice.address)).to.equal(aliceSlots);
    expect(getOrderState(h.st, h.cfg, ask.hash, alice.address).cancelled).to.equal(false);
    h.exec(h.trade(ask, h.order(carol, { side: 'BUY', size: TENTH, price: P65K, timeInForce: 'IOC' }), TENTH, P65K));
    expect(getOrderState(h.st, h.cfg, ask.hash, alice.address).filled).to.equal(TENTH);
    h.advance(20n);
    h.exec(prune([ask]));
    expect(h.st.getStorage(alice.address, orderKey(ask.hash))).to.equal(0n);
    // Bob's own word under alice's hash proves nothing about alice's order: an order with that
    // hash is alice's, so bob's slot can only be pruned with alice's order, which does not match.
    h.expectRevert(prune([], [{ ...ask }].map((s) => ({ ...s, order: { ...s.order, account: bob.address } }))), 'BAD_ORDER_HASH');
    h.expectInvariants();
  });

  it('PRUNE_ORDERS is a system transaction with a strict JSON form and a bounded size', () => {
    const h = new Harness({ extra: { limits: { max_system_cancel_orders: 2 } } });
    const o = [0, 1, 2].map(() => h.order(bob, { side: 'SELL', size: TENTH, price: P65K }));
    h.expectRevert(prune(o), 'TOO_MANY');
    h.expectRevert(prune([]), 'INVALID_ORDER');
    const tx = prune(o.slice(0, 1), o.slice(1));
    expect(parseTx(JSON.parse(JSON.stringify(txToJson(tx))))).to.deep.equal(tx);
    expect(() => parseTx({ ...txToJson(tx), extra: 1 })).to.throw(/unknown field/);
  });
});
