/**
 * Rule-by-rule tests of the exchange state transitions. Orders and messages are signed with
 * starknet.js as a wallet does. Units: sizes and prices 1e-8, collateral 1e-6 USDC.
 */
import { expect } from 'chai';
import { encodeShortString } from '../../node/crypto/index.ts';
import {
  checkInvariants,
  auditInvariants,
  executeTransaction,
  findLiquidations,
  getFundingView,
  getMarketView,
  getMode,
  getOrderState,
  getVaultView,
  makeSetModeTx,
  markPrice,
  orderTypedData,
  proposeFunding,
  txHash,
  validateOrderForBook,
  checkOrderBacking,
  withdrawHash,
  TxRevert,
  type PerpTx,
} from '../../contracts-ts/index.ts';
import { ACC, EX, mapKey, marketBase, MKT, orderKey, snKeccak } from '../../contracts-ts/layout.ts';
import { typedData as snTypedData } from 'starknet';
import { toFelt } from '../../contracts-ts/math.ts';
import { CHAIN, E8, Harness, key, user, USDC, USERS, walletSign } from './exchange-fixtures.ts';

const [alice, bob, carol, dave] = USERS as [typeof USERS[0], typeof USERS[0], typeof USERS[0], typeof USERS[0]];
const BTC = 'BTC-USD-PERP';
const P65K = 65_000n * E8;
const TENTH = E8 / 10n; // 0.1 BTC

describe('exchange: accounts', () => {
  it('DEPLOY_ACCOUNT deploys at the derived address with nonce 1; twice is refused; a foreign signature is refused', () => {
    const h = new Harness();
    const k = key('newcomer');
    const events = h.exec(h.deployTx(k));
    const v = h.view(user('newcomer'));
    expect(v.deployed).to.equal(true);
    expect(v.publicKey).to.equal(k.pub);
    expect(v.nonce).to.equal(1n);
    expect(events[0]!.keys[1]).to.equal(user('newcomer').address);
    h.expectRevert(h.deployTx(k), 'ACCOUNT_EXISTS');
    const other = key('other');
    const forged = { ...h.deployTx(other), signature: (h.deployTx(k) as any).signature };
    h.expectRevert(forged, 'BAD_SIGNATURE');
  });
});

describe('exchange: deposits, withdrawals, transfers', () => {
  it('DEPOSIT credits collateral once per deposit id, only with the bridge operator signature', () => {
    const h = new Harness();
    const tx = h.depositTx(alice, 500n * USDC, 77n);
    h.exec(tx);
    expect(h.view(alice).collateral).to.equal(10_500n * USDC);
    h.expectRevert(tx, 'DUPLICATE');
    const wrongKey = { ...(h.depositTx(alice, 9n * USDC, 79n) as any), amount: 10n * USDC };
    h.expectRevert(wrongKey, 'BAD_SIGNATURE');
    h.expectRevert(h.depositTx(user('nobody').address, 1n), 'ACCOUNT_NOT_DEPLOYED');
    h.expectRevert(h.depositTx(alice, 0n), 'INVALID_AMOUNT');
    h.expectInvariants();
  });

  it('WITHDRAW uses the nonce, refuses replays and anything beyond free collateral', () => {
    const h = new Harness();
    const w = h.withdrawTx(alice, 1_000n * USDC);
    const ev = h.exec(w);
    expect(ev[0]!.data[1]).to.equal(1_000n * USDC);
    expect(h.view(alice).collateral).to.equal(9_000n * USDC);
    expect(h.st.getNonce(alice.address)).to.equal(2n);
    h.expectRevert(w, 'INVALID_NONCE');
    h.expectRevert(h.withdrawTx(alice, 1n, 7n), 'INVALID_NONCE');
    // With a position, free collateral is equity - initial margin.
    h.open(alice, bob, E8, P65K); // 1 BTC: IM 6500, taker fee 32.5
    const free = h.view(alice).withdrawable;
    expect(free).to.equal(9_000n * USDC - 32_500_000n - 6_500n * USDC);
    h.expectRevert(h.withdrawTx(alice, free + 1n), 'INSUFFICIENT_COLLATERAL');
    h.exec(h.withdrawTx(alice, free));
    expect(h.view(alice).equity).to.equal(h.view(alice).initialMargin);
    h.expectInvariants();
  });

  it('TRANSFER moves collateral between deployed accounts under the same margin rule', () => {
    const h = new Harness();
    h.exec(h.transferTx(alice, bob.address, 2_500n * USDC));
    expect(h.view(alice).collateral).to.equal(7_500n * USDC);
    expect(h.view(bob).collateral).to.equal(12_500n * USDC);
    h.expectRevert(h.transferTx(alice, alice.address, 1n), 'INVALID_RECIPIENT');
    h.expectRevert(h.transferTx(alice, user('nobody').address, 1n), 'INVALID_RECIPIENT');
    h.expectRevert(h.transferTx(alice, bob.address, 7_500n * USDC + 1n), 'INSUFFICIENT_COLLATERAL');
    h.expectInvariants();
  });
});

describe('exchange: trades', () => {
  it('settles a fill: positions, entry, fees (maker rebate), open interest, event', () => {
    const h = new Harness();
    const mk = h.order(bob, { side: 'SELL', size: E8, price: P65K });
    const tk = h.order(alice, { side: 'BUY', size: TENTH, price: 66_000n * E8, timeInForce: 'IOC' });
    const ev = h.exec(h.trade(mk, tk, TENTH, P65K));
    // notional 0.1 x 65000 = 6500 USDC; taker fee 0.05% = 3.25; maker rebate 0.01% = 0.65
    const a = h.view(alice);
    const b = h.view(bob);
    expect(a.collateral).to.equal(10_000n * USDC - 3_250_000n);
    expect(b.collateral).to.equal(10_000n * USDC + 650_000n);
    expect(a.positions[0]).to.include({ market: BTC, size: TENTH, side: 'LONG', entryPrice: P65K, cost: 6_500n * USDC });
    expect(b.positions[0]).to.include({ size: -TENTH, side: 'SHORT', entryPrice: P65K, cost: -6_500n * USDC });
    expect(a.initialMargin).to.equal(650n * USDC);
    expect(a.maintenanceMargin).to.equal(325n * USDC);
    const mv = getMarketView(h.st, h.cfg, BTC);
    expect(mv.longOpenInterest).to.equal(TENTH);
    expect(mv.shortOpenInterest).to.equal(TENTH);
    expect(ev[0]!.keys.slice(1)).to.deep.equal([bob.address, alice.address]);
    expect(ev[0]!.data).to.deep.equal([encodeShortString(BTC), mk.hash, tk.hash, TENTH, P65K, encodeShortString('BUY'), toFelt(-650_000n), 3_250_000n]);
    expect(getOrderState(h.st, h.cfg, mk.hash, bob.address)).to.deep.equal({ account: bob.address, filled: TENTH, cancelled: false, triggered: false });
    expect(h.st.getStorage(h.cfg.exchangeAddress, EX.feeBalance)).to.equal(2_600_000n);
    h.expectInvariants();
  });

  it('realizes PnL into collateral when a position is reduced, and flips through zero', () => {
    const h = new Harness();
    h.open(alice, bob, TENTH, P65K);
    // alice sells 0.2 at 66000 to carol: closes 0.1 (+100 USDC) and opens 0.1 short
    const mk = h.order(carol, { side: 'BUY', size: 2n * TENTH, price: 66_000n * E8 });
    const tk = h.order(alice, { side: 'SELL', size: 2n * TENTH, price: 66_000n * E8, timeInForce: 'IOC' });
    const before = h.view(alice).collateral;
    h.exec(h.trade(mk, tk, 2n * TENTH, 66_000n * E8));
    const a = h.view(alice);
    // +100 realized, taker fee 0.05% of 13200 = 6.6
    expect(a.collateral - before).to.equal(100n * USDC - 6_600_000n);
    expect(a.positions[0]).to.include({ size: -TENTH, cost: -6_600n * USDC, entryPrice: 66_000n * E8 });
    h.expectInvariants();
  });

  it('never fills an order beyond its signed size (overfill), across several trades', () => {
    const h = new Harness();
    const mk = h.order(bob, { side: 'SELL', size: 3n * TENTH, price: P65K });
    h.exec(h.trade(mk, h.order(alice, { side: 'BUY', size: 2n * TENTH, price: P65K }), 2n * TENTH, P65K));
    h.exec(h.trade(mk, h.order(carol, { side: 'BUY', size: TENTH, price: P65K }), TENTH, P65K));
    expect(getOrderState(h.st, h.cfg, mk.hash, bob.address).filled).to.equal(3n * TENTH);
    h.expectRevert(h.trade(mk, h.order(dave, { side: 'BUY', size: TENTH, price: P65K }), 1_000_000n, P65K), 'OVERFILL', 'maker');
    const tk = h.order(dave, { side: 'BUY', size: TENTH, price: P65K });
    h.expectRevert(h.trade(h.order(bob, { side: 'SELL', size: E8, price: P65K }), tk, 2n * TENTH, P65K), 'OVERFILL', 'taker');
    h.expectInvariants();
  });

  it('rejects expired, cancelled, badly signed and wrong-chain orders', () => {
    const h = new Harness();
    const mk = h.order(bob, { side: 'SELL', size: E8, price: P65K, expiry: h.now + 5n });
    const tk = () => h.order(alice, { side: 'BUY', size: TENTH, price: P65K });
    h.advance(5n);
    h.expectRevert(h.trade(mk, tk(), TENTH, P65K), 'ORDER_EXPIRED', 'maker');

    const mk2 = h.order(bob, { side: 'SELL', size: E8, price: P65K });
    h.exec(h.cancelTx(bob, mk2.hash));
    h.expectRevert(h.trade(mk2, tk(), TENTH, P65K), 'ORDER_CANCELLED', 'maker');
    h.expectRevert(h.cancelTx(bob, mk2.hash), 'ORDER_CANCELLED');
    expect(getOrderState(h.st, h.cfg, mk2.hash, bob.address)).to.deep.equal({ account: bob.address, filled: 0n, cancelled: true, triggered: false });

    // Signed by someone else's key.
    const good = h.order(bob, { side: 'SELL', size: E8, price: P65K });
    const stolen = { ...good, signature: walletSign(orderTypedData(good.order, CHAIN), good.order.account, carol.priv) };
    h.expectRevert(h.trade(stolen, tk(), TENTH, P65K), 'BAD_SIGNATURE', 'maker');
    // Tampered after signing: the recomputed hash differs from the signed one.
    const tampered = { ...good, order: { ...good.order, price: 60_000n * E8 } };
    h.expectRevert(h.trade(tampered, tk(), TENTH, 60_000n * E8), 'BAD_ORDER_HASH', 'maker');
    // Signed for another chain: its hash is not this chain's order hash ...
    const other = orderTypedData(good.order, 'OTHER_CHAIN');
    const otherSig = walletSign(other, good.order.account, bob.priv);
    const otherHash = BigInt(snTypedData.getMessageHash(other, '0x' + good.order.account.toString(16)));
    h.expectRevert(h.trade({ order: good.order, hash: otherHash, signature: otherSig }, tk(), TENTH, P65K), 'BAD_ORDER_HASH', 'maker');
    // ... and that signature does not verify for this chain's hash.
    h.expectRevert(h.trade({ order: good.order, hash: good.hash, signature: otherSig }, tk(), TENTH, P65K), 'BAD_SIGNATURE', 'maker');
    h.expectInvariants();
  });

  it('enforces limits, tick and step, roles, self-trade, FOK, market band', () => {
    const h = new Harness();
    const sell = h.order(bob, { side: 'SELL', size: E8, price: P65K });
    const buy = (o: Record<string, unknown> = {}) => h.order(alice, { side: 'BUY', size: TENTH, price: P65K, ...o });
    h.expectRevert(h.trade(sell, buy({ price: 64_000n * E8 }), TENTH, P65K), 'PRICE_LIMIT', 'taker');
    h.expectRevert(h.trade(h.order(bob, { side: 'SELL', size: E8, price: 66_000n * E8 }), buy(), TENTH, P65K), 'PRICE_LIMIT', 'maker');
    h.expectRevert(h.trade(sell, buy(), TENTH, P65K + 1n), 'INVALID_TICK');
    h.expectRevert(h.trade(sell, buy(), TENTH + 1n, P65K), 'INVALID_STEP');
    h.expectRevert(h.trade(sell, buy({ size: 1_000n }), 1_000n, P65K), 'INVALID_STEP', 'taker');
    h.expectRevert(h.trade(sell, buy({ size: 10_000n }), 10_000n, P65K), 'BELOW_MIN_SIZE', 'taker');
    h.expectRevert(h.trade(h.order(bob, { side: 'SELL', size: E8, price: P65K, timeInForce: 'IOC' }), buy(), TENTH, P65K), 'INVALID_ROLE', 'maker');
    h.expectRevert(h.trade(sell, buy({ timeInForce: 'POST_ONLY' }), TENTH, P65K), 'INVALID_ROLE', 'taker');
    h.expectRevert(h.trade(sell, h.order(bob, { side: 'BUY', size: TENTH, price: P65K }), TENTH, P65K), 'SELF_TRADE');
    h.expectRevert(h.trade(sell, h.order(alice, { side: 'SELL', size: TENTH, price: P65K }), TENTH, P65K), 'INVALID_ORDER');
    // A FOK may fill against several makers, all in the block of its first fill.
    const fok = buy({ timeInForce: 'FOK', size: 3n * TENTH });
    h.exec(h.trade(sell, fok, TENTH, P65K));
    h.exec(h.trade(h.order(carol, { side: 'SELL', size: TENTH, price: P65K }), fok, TENTH, P65K));
    h.advance(1n);
    h.expectRevert(h.trade(sell, fok, TENTH, P65K), 'FOK_NOT_FILLED', 'taker');
    h.exec(h.trade(sell, buy({ timeInForce: 'FOK' }), TENTH, P65K));
    // MARKET orders fill only within mark ± 5%.
    const far = h.order(carol, { side: 'SELL', size: E8, price: 70_000n * E8 });
    h.expectRevert(h.trade(far, buy({ orderType: 'MARKET', timeInForce: 'IOC', price: 80_000n * E8 }), TENTH, 70_000n * E8), 'PRICE_BAND', 'taker');
    h.exec(h.trade(h.order(carol, { side: 'SELL', size: E8, price: 68_000n * E8 }), buy({ orderType: 'MARKET', timeInForce: 'IOC', price: 80_000n * E8 }), TENTH, 68_000n * E8));
    h.expectInvariants();
  });

  it('reduce-only orders may only shrink a position', () => {
    const h = new Harness();
    h.open(alice, bob, TENTH, P65K);
    const mk = h.order(carol, { side: 'BUY', size: E8, price: P65K });
    // alice holds +0.1: a reduce-only SELL of 0.2 cannot fill 0.2 ...
    h.expectRevert(h.trade(mk, h.order(alice, { side: 'SELL', size: 2n * TENTH, price: P65K, reduceOnly: true }), 2n * TENTH, P65K), 'REDUCE_ONLY', 'taker');
    // ... nor can a reduce-only BUY add to it.
    h.expectRevert(h.trade(h.order(carol, { side: 'SELL', size: E8, price: P65K }), h.order(alice, { side: 'BUY', size: TENTH, price: P65K, reduceOnly: true }), TENTH, P65K), 'REDUCE_ONLY', 'taker');
    h.exec(h.trade(mk, h.order(alice, { side: 'SELL', size: TENTH, price: P65K, reduceOnly: true }), TENTH, P65K));
    expect(h.view(alice).positions).to.deep.equal([]);
    h.expectInvariants();
  });

  it('requires initial margin for position-increasing fills, and respects the open-interest cap', () => {
    const h = new Harness();
    // 10000 USDC at IMF 10% supports 100000 notional: 1.5 BTC (97500) fits, 1.6 BTC (104000) does not.
    h.expectRevert(h.trade(h.order(bob, { side: 'SELL', size: 2n * E8, price: P65K }), h.order(alice, { side: 'BUY', size: 16n * TENTH, price: P65K }), 16n * TENTH, P65K), 'INSUFFICIENT_MARGIN');
    h.exec(h.trade(h.order(bob, { side: 'SELL', size: 2n * E8, price: P65K }), h.order(alice, { side: 'BUY', size: 15n * TENTH, price: P65K }), 15n * TENTH, P65K));
    const cap = new Harness({ btc: { open_interest_cap: '0.2' } });
    cap.open(alice, bob, 2n * TENTH, P65K);
    cap.expectRevert(cap.trade(cap.order(carol, { side: 'SELL', size: TENTH, price: P65K }), cap.order(dave, { side: 'BUY', size: TENTH, price: P65K }), TENTH, P65K), 'OPEN_INTEREST_CAP');
    // Reducing trades are fine at the cap.
    cap.exec(cap.trade(cap.order(carol, { side: 'BUY', size: TENTH, price: P65K }), cap.order(alice, { side: 'SELL', size: TENTH, price: P65K }), TENTH, P65K));
    cap.expectInvariants();
  });

  it('conditional orders fill only once the mark triggers them (or after an on-chain TRIGGER)', () => {
    const h = new Harness();
    h.open(alice, bob, TENTH, P65K);
    const stop = h.order(alice, { side: 'SELL', size: TENTH, price: 0n, orderType: 'STOP_MARKET', timeInForce: 'IOC', triggerPrice: 63_000n * E8, reduceOnly: true });
    const bid = h.order(carol, { side: 'BUY', size: E8, price: 62_900n * E8 });
    h.expectRevert(h.trade(bid, stop, TENTH, 62_900n * E8), 'NOT_TRIGGERED', 'taker');
    h.expectRevert({ type: 'TRIGGER', order: stop }, 'NOT_TRIGGERED');
    h.setPrice({ [BTC]: 62_950n * E8 });
    h.exec({ type: 'TRIGGER', order: stop });
    expect(getOrderState(h.st, h.cfg, stop.hash, stop.order.account).triggered).to.equal(true);
    h.setPrice({ [BTC]: 64_000n * E8 }); // back above the trigger: the on-chain flag keeps it triggered
    const bid2 = h.order(carol, { side: 'BUY', size: E8, price: 63_000n * E8 });
    h.exec(h.trade(bid2, stop, TENTH, 63_000n * E8));
    expect(h.view(alice).positions).to.deep.equal([]);
    h.expectInvariants();
  });

  it('CANCEL_ALL cancels the listed orders, uses the nonce, and validates the market', () => {
    const h = new Harness();
    const o1 = h.order(bob, { side: 'SELL', size: E8, price: P65K });
    const o2 = h.order(bob, { side: 'SELL', size: E8, price: 66_000n * E8 });
    const ev = h.exec(h.cancelAllTx(bob, 'ALL', [o1.hash, o2.hash]));
    expect(ev.at(-1)!.data[2]).to.equal(2n);
    expect(h.st.getNonce(bob.address)).to.equal(2n);
    h.expectRevert(h.trade(o2, h.order(alice, { side: 'BUY', size: TENTH, price: 66_000n * E8 }), TENTH, 66_000n * E8), 'ORDER_CANCELLED', 'maker');
    h.expectRevert(h.cancelAllTx(bob, 'DOGE-USD-PERP', []), 'UNKNOWN_MARKET');
    h.expectRevert(h.cancelAllTx(bob, 'ALL', [], 1n), 'INVALID_NONCE');
  });
});

describe('exchange: oracle', () => {
  it('accepts signed, monotonic, bounded updates and rejects the rest', () => {
    const h = new Harness();
    h.setPrice({ [BTC]: 66_000n * E8, 'ETH-USD-PERP': 3_600n * E8 });
    expect(markPrice(h.st, h.cfg, BTC)).to.equal(66_000n * E8);
    const ts = h.oracleTs;
    h.expectRevert(h.oracleTx({ [BTC]: 66_100n * E8 }, ts + 1n), 'ORACLE_TOO_FREQUENT'); // one update per market per block
    h.advance(1n);
    h.expectRevert(h.oracleTx({ [BTC]: 66_100n * E8 }, ts), 'ORACLE_TIMESTAMP');
    h.expectRevert(h.oracleTx({ [BTC]: 66_100n * E8 }, h.now + 11n), 'ORACLE_TIMESTAMP');
    h.expectRevert(h.oracleTx({ [BTC]: 99_001n * E8 }, ts + 1n), 'ORACLE_JUMP'); // > 50%
    h.expectRevert(h.oracleTx({ [BTC]: 66_100n * E8 }, ts + 1n, key('mallory')), 'ORACLE_UNKNOWN_SIGNER');
    const forged = { ...(h.oracleTx({ [BTC]: 66_100n * E8 }, ts + 1n) as any), prices: [{ market: BTC, price: 60_000n * E8 }] };
    h.expectRevert(forged, 'BAD_SIGNATURE');
    h.expectRevert(h.oracleTx({ 'DOGE-USD-PERP': 1n }, ts + 1n), 'UNKNOWN_MARKET');
    h.expectRevert(h.oracleTx({ [BTC]: 0n }, ts + 1n), 'INVALID_PRICE');
    h.exec(h.oracleTx({ [BTC]: 98_999n * E8 }, ts + 1n));
  });
});

// Funding: test/unit/exchange-funding.test.ts

describe('exchange: modes', () => {
  it('CANCEL_ONLY rejects trades and new orders; cancels and withdrawals still work', () => {
    const h = new Harness();
    const mk = h.order(bob, { side: 'SELL', size: E8, price: P65K });
    h.exec(makeSetModeTx(h.st, h.cfg, 'CANCEL_ONLY', 'maintenance'));
    expect(getMode(h.st, h.cfg)).to.equal('CANCEL_ONLY');
    h.expectRevert(h.trade(mk, h.order(alice, { side: 'BUY', size: TENTH, price: P65K }), TENTH, P65K), 'MODE_CANCEL_ONLY');
    expect(() => validateOrderForBook(mk, h.st, h.cfg, h.ctx())).to.throw(TxRevert, /CANCEL_ONLY/);
    h.exec(h.cancelTx(bob, mk.hash));
    h.exec(h.withdrawTx(alice, USDC));
    h.expectRevert({ type: 'SET_MODE', mode: 'NORMAL', reason: 'x', seq: 5n }, 'MODE_SEQUENCE');
    h.exec(makeSetModeTx(h.st, h.cfg, 'NORMAL', 'done'));
    expect(getMode(h.st, h.cfg)).to.equal('NORMAL');
  });

  it('POST_ONLY allows trades only inside the band around the oracle, and pauses liquidations', () => {
    const h = new Harness();
    h.open(alice, bob, E8, P65K);
    h.exec(makeSetModeTx(h.st, h.cfg, 'POST_ONLY', 'maintenance'));
    // band ±1%: 64350 .. 65650
    h.expectRevert(h.trade(h.order(carol, { side: 'SELL', size: E8, price: 65_700n * E8 }), h.order(dave, { side: 'BUY', size: TENTH, price: 65_700n * E8 }), TENTH, 65_700n * E8), 'MODE_POST_ONLY');
    h.exec(h.trade(h.order(carol, { side: 'SELL', size: E8, price: 65_600n * E8 }), h.order(dave, { side: 'BUY', size: TENTH, price: 65_600n * E8 }), TENTH, 65_600n * E8));
    expect(() => validateOrderForBook(h.order(carol, { side: 'SELL', size: E8, price: 66_000n * E8 }), h.st, h.cfg, h.ctx())).to.throw(TxRevert, /band/);
    expect(() => validateOrderForBook(h.order(carol, { side: 'SELL', size: E8, price: 0n, orderType: 'MARKET', timeInForce: 'IOC' }), h.st, h.cfg, h.ctx())).to.throw(TxRevert, /POST_ONLY/);
    h.setPrice({ [BTC]: 50_000n * E8 }); // alice deep under water
    expect(findLiquidations(h.st, h.cfg, { block: h.blockNumber })).to.deep.equal([]);
    h.expectRevert({ type: 'LIQUIDATE', account: alice.address, market: BTC, size: E8, positionBefore: E8, block: h.blockNumber }, 'MODE_POST_ONLY');
  });

  it('HALTED rejects everything but SET_MODE', () => {
    const h = new Harness();
    h.exec(makeSetModeTx(h.st, h.cfg, 'HALTED', 'guard'));
    h.expectRevert(h.depositTx(alice, USDC), 'MODE_HALTED');
    h.expectRevert(h.withdrawTx(alice, USDC), 'MODE_HALTED');
    h.expectRevert(h.cancelTx(alice, 1n), 'MODE_HALTED');
    h.expectRevert(h.oracleTx({ [BTC]: P65K + E8 }), 'MODE_HALTED');
    h.advance(3600n);
    expect(proposeFunding(h.st, h.cfg, h.ctx())).to.equal(null);
    h.exec(makeSetModeTx(h.st, h.cfg, 'NORMAL', 'resume'));
    h.exec(h.depositTx(alice, USDC));
  });
});

describe('exchange: refunds', () => {
  it('pays from the vault once per (incident, account), never beyond the vault', () => {
    const h = new Harness({ vault: '100' });
    const r: PerpTx = { type: 'REFUND', incidentId: 0x1c1n, account: alice.address, amount: 60n * USDC };
    h.exec(r);
    expect(h.view(alice).collateral).to.equal(10_060n * USDC);
    expect(getVaultView(h.st, h.cfg)).to.include({ balance: 40n * USDC, refundsPaid: 60n * USDC });
    h.expectRevert(r, 'DUPLICATE');
    h.expectRevert({ ...r, amount: 1n }, 'DUPLICATE');
    h.expectRevert({ type: 'REFUND', incidentId: 0x1c1n, account: bob.address, amount: 41n * USDC }, 'VAULT_INSUFFICIENT');
    h.exec({ type: 'REFUND', incidentId: 0x1c1n, account: bob.address, amount: 40n * USDC });
    h.expectRevert({ type: 'REFUND', incidentId: 0x2c1n, account: alice.address, amount: 0n }, 'INVALID_AMOUNT');
    h.expectInvariants();
  });
});

describe('exchange: ingress check and invariants', () => {
  it('validateOrderForBook names what is wrong', () => {
    const h = new Harness();
    const ok = h.order(alice, { side: 'BUY', size: TENTH, price: P65K });
    expect(validateOrderForBook(ok, h.st, h.cfg, h.ctx()).hash).to.equal(ok.hash);
    const code = (s: ReturnType<Harness['order']>) => {
      try {
        validateOrderForBook(s, h.st, h.cfg, h.ctx());
        return 'OK';
      } catch (e) {
        return (e as TxRevert).code;
      }
    };
    expect(code(h.order(alice, { side: 'BUY', size: TENTH, price: P65K + 1n }))).to.equal('INVALID_TICK');
    expect(code(h.order(alice, { side: 'BUY', size: TENTH + 1n, price: P65K }))).to.equal('INVALID_STEP');
    expect(code(h.order(alice, { side: 'BUY', size: 10_000n, price: P65K }))).to.equal('BELOW_MIN_SIZE');
    expect(code(h.order(alice, { side: 'BUY', size: TENTH, price: P65K, market: 'DOGE-USD-PERP' }))).to.equal('UNKNOWN_MARKET');
    expect(code(h.order(alice, { side: 'BUY', size: TENTH, price: P65K, expiry: h.now }))).to.equal('ORDER_EXPIRED');
    expect(code(h.order(alice, { side: 'BUY', size: TENTH, price: P65K, reduceOnly: true }))).to.equal('REDUCE_ONLY');
    expect(code(h.order(alice, { side: 'BUY', size: TENTH, price: P65K, orderType: 'STOP_LIMIT' }))).to.equal('INVALID_ORDER');
    expect(code(h.order(user('ghost'), { side: 'BUY', size: TENTH, price: P65K }))).to.equal('ACCOUNT_NOT_DEPLOYED');
    expect(code({ ...ok, signature: [ok.signature[0], ok.signature[1] + 1n] })).to.equal('BAD_SIGNATURE');
    h.exec(h.cancelTx(alice, ok.hash));
    expect(code(ok)).to.equal('ORDER_CANCELLED');
  });

  it('the audit recomputes totals: tampered collateral or a stray negative balance is reported', () => {
    const h = new Harness();
    h.open(alice, bob, TENTH, P65K);
    expect(auditInvariants(h.st, h.cfg)).to.deep.equal([]);
    h.st.setStorage(carol.address, ACC.collateral, 1n);
    const v = auditInvariants(h.st, h.cfg);
    expect(v.join('\n')).to.match(/audit: collateral sums to/);
    h.st.setStorage(carol.address, ACC.collateral, toFelt(-5n));
    expect(checkInvariants(h.st, h.cfg, [carol.address]).join()).to.match(/negative collateral -5 with no position/);
  });

  it('tx hashes of identical system transactions differ only when their content does', () => {
    const a: PerpTx = { type: 'LIQUIDATE', account: 1n, market: BTC, size: 2n, positionBefore: 4n, block: 7n };
    expect(txHash(a, 1n)).to.equal(txHash({ ...a }, 1n));
    expect(txHash(a, 1n)).to.not.equal(txHash({ ...a, positionBefore: 2n }, 1n));
    expect(txHash(a, 1n)).to.not.equal(txHash({ ...a, block: 8n }, 1n));
    const d: PerpTx = { type: 'ADL', account: 1n, market: BTC, positionBefore: 4n, block: 7n };
    expect(txHash(d, 1n)).to.not.equal(txHash({ ...d, block: 8n }, 1n));
  });

  it('executeTransaction is deterministic: the same tx on two equal states gives equal results', () => {
    const h1 = new Harness();
    const h2 = new Harness();
    const mk = h1.order(bob, { side: 'SELL', size: E8, price: P65K });
    const tk = h1.order(alice, { side: 'BUY', size: TENTH, price: P65K });
    const e1 = executeTransaction(h1.trade(mk, tk, TENTH, P65K), h1.st, h1.ctx(), h1.cfg);
    const e2 = executeTransaction(h2.trade(mk, tk, TENTH, P65K), h2.st, h2.ctx(), h2.cfg);
    expect(e1).to.deep.equal(e2);
    expect([...h1.st.storage].sort()).to.deep.equal([...h2.st.storage].sort());
  });
});

describe('exchange: views, system cancels, liquidation scan options', () => {
  it('the account view: entry price, PnL, margin ratio and a liquidation price that is the threshold', () => {
    const h = new Harness();
    h.open(alice, bob, E8, P65K);
    h.setPrice({ [BTC]: 66_000n * E8 });
    const v = h.view(alice);
    const p = v.positions[0]!;
    expect(p).to.include({ entryPrice: P65K, markPrice: 66_000n * E8, unrealizedPnl: 1_000n * USDC, notional: 66_000n * USDC, maintenanceMargin: 3_300n * USDC });
    expect(v.equity).to.equal(10_000n * USDC - 32_500_000n + 1_000n * USDC);
    expect(v.marginRatio).to.equal((3_300n * USDC * 1_000_000_000n) / v.equity);
    // equity(x) = 9967.5 + x - 65000 ; maintenance(x) = 0.05 x  ->  x = 55032.5 / 0.95 = 57928.947...
    const liq = p.liquidationPrice!;
    expect(liq).to.equal(5_792_894_736_842n);
    h.setPrice({ [BTC]: liq + 1_000n });
    expect(h.view(alice).liquidatable).to.equal(false);
    h.setPrice({ [BTC]: liq - 1_000n });
    expect(h.view(alice).liquidatable).to.equal(true);
    // bob's short has its liquidation price above the mark
    expect(h.view(bob).positions[0]!.liquidationPrice! > P65K).to.equal(true);
  });

  it('SYSTEM_CANCEL records sequencer cancellations (idempotently) with a reason', () => {
    const h = new Harness();
    const o1 = h.order(bob, { side: 'SELL', size: E8, price: P65K });
    const o2 = h.order(carol, { side: 'SELL', size: E8, price: P65K });
    h.exec(h.cancelTx(carol, o2.hash));
    const ev = h.exec({ type: 'SYSTEM_CANCEL', reason: 'rollback', orders: [{ account: bob.address, orderHash: o1.hash }, { account: carol.address, orderHash: o2.hash }] });
    expect(ev.length).to.equal(1); // o2 was already cancelled
    expect(ev[0]!.data).to.deep.equal([encodeShortString('rollback')]);
    expect(getOrderState(h.st, h.cfg, o1.hash, bob.address)!.cancelled).to.equal(true);
    h.expectRevert(h.trade(o1, h.order(alice, { side: 'BUY', size: TENTH, price: P65K }), TENTH, P65K), 'ORDER_CANCELLED', 'maker');
    h.expectRevert({ type: 'SYSTEM_CANCEL', reason: 'rollback', orders: [{ account: bob.address, orderHash: o1.hash }] }, 'ORDER_CANCELLED');
    h.expectRevert({ type: 'SYSTEM_CANCEL', reason: 'x', orders: [] }, 'INVALID_ORDER');
    h.expectRevert({ type: 'SYSTEM_CANCEL', reason: 'x', orders: [{ account: user('ghost').address, orderHash: 1n }] }, 'ACCOUNT_NOT_DEPLOYED');
  });

  it('a wallet-created account: deploy, deposit, trade', () => {
    const h = new Harness();
    const k = key('fresh');
    const fresh = user('fresh');
    h.exec(h.deployTx(k));
    h.exec(h.depositTx(fresh, 5_000n * USDC));
    h.exec(h.trade(h.order(bob, { side: 'SELL', size: E8, price: P65K }), h.order(fresh, { side: 'BUY', size: TENTH, price: P65K }), TENTH, P65K));
    expect(h.view(fresh).positions[0]!.size).to.equal(TENTH);
    expect(checkInvariants(h.st, h.cfg, [fresh.address, bob.address])).to.deep.equal([]);
    expect(auditInvariants(h.st, h.cfg)).to.deep.equal([]);
  });

  it('findLiquidations can be limited to candidate accounts; stale oracle prices block liquidations', () => {
    const h = new Harness({ extra: { oracle_max_age_seconds: 30 } });
    h.open(alice, bob, E8, P65K);
    h.open(carol, dave, E8, P65K);
    h.setPrice({ [BTC]: 57_000n * E8 });
    expect(findLiquidations(h.st, h.cfg, { block: h.blockNumber }).map((t) => t.account)).to.deep.equal([alice.address, carol.address]);
    expect(findLiquidations(h.st, h.cfg, { block: h.blockNumber, accounts: [carol.address, bob.address] }).map((t) => t.account)).to.deep.equal([carol.address]);
    h.advance(32n); // the last price is stamped one second after the block that took it
    expect(findLiquidations(h.st, h.cfg, h.now)).to.deep.equal([]);
    expect(findLiquidations(h.st, h.cfg, { now: h.now, block: h.blockNumber })).to.deep.equal([]);
    const p = findLiquidations(h.st, h.cfg, { block: h.blockNumber })[0]!;
    h.expectRevert(p, 'ORACLE_STALE');
    h.setPrice({ [BTC]: 57_000n * E8 + E8 });
    h.exec(findLiquidations(h.st, h.cfg, { now: h.now, block: h.blockNumber })[0]!);
    h.expectInvariants();
  });

  it('TRIGGER refuses non-conditional, unsigned or already-triggered orders', () => {
    const h = new Harness();
    const lim = h.order(alice, { side: 'SELL', size: TENTH, price: P65K });
    h.expectRevert({ type: 'TRIGGER', order: lim }, 'INVALID_ORDER');
    const tp = h.order(alice, { side: 'SELL', size: TENTH, price: 66_000n * E8, orderType: 'TAKE_PROFIT_LIMIT', triggerPrice: 66_000n * E8 });
    h.expectRevert({ type: 'TRIGGER', order: { ...tp, signature: [tp.signature[0], tp.signature[1] + 1n] } }, 'BAD_SIGNATURE');
    h.expectRevert({ type: 'TRIGGER', order: tp }, 'NOT_TRIGGERED');
    h.setPrice({ [BTC]: 66_000n * E8 });
    const ev = h.exec({ type: 'TRIGGER', order: tp });
    expect(ev[0]!.keys.slice(1)).to.deep.equal([alice.address, tp.hash]);
    h.expectRevert({ type: 'TRIGGER', order: tp }, 'DUPLICATE');
    h.exec(makeSetModeTx(h.st, h.cfg, 'CANCEL_ONLY', 'x'));
    const sl = h.order(alice, { side: 'SELL', size: TENTH, price: 0n, orderType: 'STOP_MARKET', timeInForce: 'IOC', triggerPrice: 67_000n * E8 });
    h.expectRevert({ type: 'TRIGGER', order: sl }, 'MODE_CANCEL_ONLY');
  });
});

describe('exchange: reducing fills below maintenance', () => {
  it('an unhealthy account may reduce at the mark but not sell equity away at an off-market price', () => {
    const h = new Harness();
    h.open(alice, bob, E8, P65K);
    h.setPrice({ [BTC]: 57_000n * E8 }); // equity 1967.5 < maintenance 2850
    expect(h.view(alice).liquidatable).to.equal(true);
    const half = E8 / 2n;
    // selling 0.5 at 55000 to a friend: equity 953.75, maintenance 1425 — the ratio falls
    const e = h.expectRevert(h.trade(h.order(carol, { side: 'BUY', size: half, price: 55_000n * E8 }), h.order(alice, { side: 'SELL', size: half, price: 55_000n * E8 }), half, 55_000n * E8), 'INSUFFICIENT_MARGIN', 'taker');
    expect(e.message).to.match(/ratio/);
    // at the mark the ratio improves
    h.exec(h.trade(h.order(carol, { side: 'BUY', size: half, price: 57_000n * E8 }), h.order(alice, { side: 'SELL', size: half, price: 57_000n * E8 }), half, 57_000n * E8));
    h.expectInvariants();
  });
});

describe('exchange: issue 11 order rules', () => {
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      return (e as TxRevert).code;
    }
    return 'ok';
  };

  it('defect 1: a hostile CANCEL or CANCEL_ALL marks only its signer\'s storage (no owner index on chain); the order keeps trading', () => {
    const h = new Harness();
    const ask = h.order(alice, { side: 'SELL', size: 3n * TENTH, price: P65K });
    h.exec(h.trade(ask, h.order(bob, { side: 'BUY', size: TENTH, price: P65K, timeInForce: 'IOC' }), TENTH, P65K));
    // Bob signs cancels of alice's order: they execute, but only ever write bob's own account.
    const aliceRoot = () => h.st.getStorage(alice.address, orderKey(ask.hash));
    const before = aliceRoot();
    h.exec(h.cancelTx(bob, ask.hash));
    h.exec(h.cancelAllTx(bob, 'ALL', [ask.hash]));
    expect(aliceRoot()).to.equal(before);
    expect(getOrderState(h.st, h.cfg, ask.hash, alice.address).cancelled).to.equal(false);
    expect(getOrderState(h.st, h.cfg, ask.hash, bob.address).cancelled).to.equal(true);
    expect(h.st.getStorage(h.cfg.exchangeAddress, mapKey(snKeccak('order_owner'), ask.hash))).to.equal(0n); // no owner index
    h.exec(h.trade(ask, h.order(carol, { side: 'BUY', size: TENTH, price: P65K, timeInForce: 'IOC' }), TENTH, P65K));
    h.exec(h.cancelTx(alice, ask.hash));
    expect(getOrderState(h.st, h.cfg, ask.hash, alice.address).cancelled).to.equal(true);
    h.expectRevert(h.trade(ask, h.order(carol, { side: 'BUY', size: TENTH, price: P65K, timeInForce: 'IOC' }), TENTH, P65K), 'ORDER_CANCELLED', 'maker');
    h.expectInvariants();
  });

  it('defect 8: collateral backs open orders (INSUFFICIENT_MARGIN), netted against the position; max_open_orders; the aggressive-limit band', () => {
    const h = new Harness({ extra: { max_open_orders: 3, limit_price_band_bps: 500 } });
    // alice: 10,000 USDC, IMF 10%: 1 BTC at 65,000 needs 6,500.
    const bid = h.order(alice, { side: 'BUY', size: E8, price: P65K });
    expect(code(() => checkOrderBacking(h.st, h.cfg, bid.order, []))).to.equal('ok');
    const open = [{ order: bid.order, remaining: E8 }];
    expect(code(() => checkOrderBacking(h.st, h.cfg, h.order(alice, { side: 'BUY', size: E8, price: P65K }).order, open))).to.equal('INSUFFICIENT_MARGIN');
    // Only the worse side counts: 1 BTC of asks beside 1 BTC of bids still fits.
    expect(code(() => checkOrderBacking(h.st, h.cfg, h.order(alice, { side: 'SELL', size: E8, price: P65K }).order, open))).to.equal('ok');
    // Reduce-only orders need none; a zero-collateral account cannot rest even a tiny bid.
    expect(code(() => checkOrderBacking(h.st, h.cfg, h.order(alice, { side: 'BUY', size: 10n * E8, price: P65K, reduceOnly: true }).order, open))).to.equal('ok');
    const poor = new Harness({ balances: ['10000', '10000', '10000', '0'] });
    expect(code(() => checkOrderBacking(poor.st, poor.cfg, poor.order(dave, { side: 'BUY', size: E8 / 1000n, price: P65K }).order, []))).to.equal('INSUFFICIENT_MARGIN');
    // Netting: with a 1 BTC short, 1 BTC of bids only closes it (no margin); 2 BTC open 1 BTC more.
    h.open(bob, alice, E8, P65K);
    expect(code(() => checkOrderBacking(h.st, h.cfg, h.order(alice, { side: 'BUY', size: E8, price: P65K }).order, []))).to.equal('ok');
    expect(code(() => checkOrderBacking(h.st, h.cfg, h.order(alice, { side: 'BUY', size: 2n * E8, price: P65K }).order, []))).to.equal('INSUFFICIENT_MARGIN');
    // max_open_orders per account per market (here 3): the fourth is refused.
    const small = () => ({ order: h.order(carol, { side: 'BUY', size: E8 / 1000n, price: 60_000n * E8 }).order, remaining: E8 / 1000n });
    const three = [small(), small(), small()];
    expect(code(() => checkOrderBacking(h.st, h.cfg, small().order, three))).to.equal('TOO_MANY');
    expect(code(() => checkOrderBacking(h.st, h.cfg, small().order, three.slice(1)))).to.equal('ok');
    // Aggressive limits within 5% of the mark; a passive bid far below is fine.
    expect(code(() => validateOrderForBook(h.order(carol, { side: 'BUY', size: TENTH, price: 68_260n * E8 }), h.st, h.cfg, h.ctx()))).to.equal('PRICE_BAND');
    expect(code(() => validateOrderForBook(h.order(carol, { side: 'BUY', size: TENTH, price: 68_250n * E8 }), h.st, h.cfg, h.ctx()))).to.equal('ok');
    expect(code(() => validateOrderForBook(h.order(carol, { side: 'SELL', size: TENTH, price: 61_740n * E8 }), h.st, h.cfg, h.ctx()))).to.equal('PRICE_BAND');
    expect(code(() => validateOrderForBook(h.order(carol, { side: 'BUY', size: TENTH, price: 1_000n * E8 }), h.st, h.cfg, h.ctx()))).to.equal('ok');
    // Below initial margin (the mark rose 40%: equity < IM), a plain closing bid is still accepted.
    h.setPrice({ [BTC]: 91_000n * E8 });
    expect(code(() => checkOrderBacking(h.st, h.cfg, h.order(alice, { side: 'BUY', size: E8, price: 91_000n * E8 }).order, []))).to.equal('ok');
    expect(code(() => checkOrderBacking(h.st, h.cfg, h.order(alice, { side: 'SELL', size: E8 / 1000n, price: 91_000n * E8 }).order, []))).to.equal('INSUFFICIENT_MARGIN');
  });

  it('defect 9: ingress accepts reduce-only TP/SL before the position and stops in POST_ONLY mode; a FOK that filled once is done', () => {
    const h = new Harness();
    const sl = h.order(alice, { side: 'SELL', orderType: 'STOP_MARKET', triggerPrice: 60_000n * E8, price: 0n, size: TENTH, timeInForce: 'IOC', reduceOnly: true });
    expect(code(() => validateOrderForBook(sl, h.st, h.cfg, h.ctx()))).to.equal('ok');
    expect(code(() => validateOrderForBook(h.order(alice, { side: 'SELL', size: TENTH, price: P65K, reduceOnly: true }), h.st, h.cfg, h.ctx()))).to.equal('REDUCE_ONLY');
    h.exec(makeSetModeTx(h.st, h.cfg, 'POST_ONLY', 'test'));
    expect(code(() => validateOrderForBook(h.order(bob, { side: 'BUY', orderType: 'STOP_MARKET', triggerPrice: 66_000n * E8, price: 70_000n * E8, size: TENTH, timeInForce: 'IOC' }), h.st, h.cfg, h.ctx()))).to.equal('ok');
    expect(code(() => validateOrderForBook(h.order(bob, { side: 'BUY', orderType: 'MARKET', price: 70_000n * E8, size: TENTH, timeInForce: 'IOC' }), h.st, h.cfg, h.ctx()))).to.equal('MODE_POST_ONLY');
    h.exec(makeSetModeTx(h.st, h.cfg, 'NORMAL', 'test'));
    const fok = h.order(bob, { side: 'BUY', size: 2n * TENTH, price: P65K, timeInForce: 'FOK' });
    h.exec(h.trade(h.order(carol, { side: 'SELL', size: TENTH, price: P65K }), fok, TENTH, P65K));
    expect(code(() => validateOrderForBook(fok, h.st, h.cfg, h.ctx()))).to.equal('ORDER_FILLED');
  });

  it('defect 10: VOID_SIGNED voids orphaned messages and raises nonces; replays revert ORPHANED_MESSAGE, fresh signatures work', () => {
    const h = new Harness();
    const n0 = h.st.getNonce(alice.address);
    const w = h.withdrawTx(alice, 100n * USDC);
    const order = h.order(bob, { side: 'BUY', size: TENTH, price: P65K, timeInForce: 'IOC' });
    const wh = withdrawHash({ account: alice.address, amount: 100n * USDC, recipient: 0xabcn, nonce: n0 }, h.ctx().block.chainId);
    h.exec({ type: 'VOID_SIGNED', hashes: [wh, order.hash], nonces: [{ account: alice.address, nonce: n0 + 1n }] });
    expect(h.st.getNonce(alice.address)).to.equal(n0 + 1n);
    h.expectRevert(w, 'ORPHANED_MESSAGE');
    h.expectRevert(h.trade(h.order(carol, { side: 'SELL', size: TENTH, price: P65K }), order, TENTH, P65K), 'ORPHANED_MESSAGE', 'taker');
    expect(code(() => validateOrderForBook(order, h.st, h.cfg, h.ctx()))).to.equal('ORPHANED_MESSAGE');
    h.exec(h.withdrawTx(alice, 100n * USDC)); // signed anew with the raised nonce
    expect(h.st.getNonce(alice.address)).to.equal(n0 + 2n);
    // Nothing new to void or raise: the transaction reverts (it would only repeat an earlier one).
    h.expectRevert({ type: 'VOID_SIGNED', hashes: [wh], nonces: [{ account: alice.address, nonce: n0 + 1n }] }, 'DUPLICATE');
    h.expectInvariants();
  });
});
