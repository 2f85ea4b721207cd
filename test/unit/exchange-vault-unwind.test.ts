/**
 * The Liquidator Vault unwinds what it took over through the book (VAULT_UNWIND, issue 11): after
 * a takeover it sells its long against a resting, signed bid, in per-block steps, at the maker's
 * price inside the band; its realised PnL lands in its balance, conservation stays exact, and
 * every forged or unbacked unwind reverts without a trace.
 */
import { expect } from 'chai';
import { applyGenesis, executeTransaction, findLiquidations, getVaultView, MemoryState, parseTx, txToJson, vaultUnwindTargets, type PerpTx, type SignedOrder } from '../../contracts-ts/index.ts';
import { CHAIN_ID, cachedVerify, E8, Harness, stateFingerprint, T0, USDC, USERS } from './exchange-fixtures.ts';

const [alice, bob, carol, dave] = USERS as [typeof USERS[0], typeof USERS[0], typeof USERS[0], typeof USERS[0]];
const BTC = 'BTC-USD-PERP';
const px = (usd: bigint) => usd * E8;
const sz = (tenThousandths: bigint) => tenThousandths * 10_000n; // size in 0.0001 BTC

/** alice's 1.5 BTC long (bought from bob at 65,000) is liquidated at 61,000: the vault takes 0.75 BTC over. */
function afterTakeover(vault = '20000', balances?: string[]): Harness {
  const h = new Harness({ vault, ...(balances ? { balances } : {}) });
  h.open(alice, bob, sz(15_000n), px(65_000n));
  h.setPrice({ [BTC]: px(61_000n) });
  const props = findLiquidations(h.st, h.cfg, { block: h.blockNumber });
  expect(props).to.have.length(1);
  expect(props[0]!.type).to.equal('LIQUIDATE');
  h.exec(props[0]!);
  expect(getVaultView(h.st, h.cfg).positions[0]!.size).to.equal(sz(7_500n));
  return h;
}

function unwind(h: Harness, maker: SignedOrder, size: bigint, price = maker.order.price, over: Partial<PerpTx> = {}): PerpTx {
  const positionBefore = getVaultView(h.st, h.cfg).positions[0]?.size ?? 0n;
  return { type: 'VAULT_UNWIND', account: h.cfg.vaultAddress, market: BTC, maker, size, price, positionBefore: positionBefore, block: h.blockNumber, ...over } as PerpTx;
}

function replay(h: Harness): MemoryState {
  const st = new MemoryState();
  const verify = cachedVerify();
  const ctx = (blockNumber: bigint, timestamp: bigint) => ({ block: { blockNumber, timestamp, chainId: CHAIN_ID, sequencerAddress: 0x5345n }, verify });
  applyGenesis(st, h.cfg, ctx(0n, T0));
  for (const e of h.log) executeTransaction(e.tx, st, ctx(e.blockNumber, e.now), h.cfg);
  return st;
}

describe('exchange: the Liquidator Vault unwinds through the book (VAULT_UNWIND)', () => {
  it('reduces the vault against a resting bid in per-block steps to zero; PnL in its balance, conservation exact, a replay is identical', () => {
    const h = afterTakeover();
    h.setPrice({ [BTC]: px(61_500n) });
    const bid = h.order(carol, { side: 'BUY', size: sz(10_000n), price: px(61_400n) });
    const vault0 = getVaultView(h.st, h.cfg).balance;
    const carol0 = h.view(carol).collateral;
    // the proposer's view: a BUY maker, the band, the first step of the block (0.75 x 0.5)
    expect(vaultUnwindTargets(h.st, h.cfg, { now: h.now, block: h.blockNumber })).to.deep.equal([
      { market: BTC, position: sz(7_500n), makerSide: 'BUY', mark: px(61_500n), bandBps: 500n, allowance: sz(3_750n) },
    ]);
    const ev = h.exec(unwind(h, bid, sz(3_750n)));
    // 0.375 BTC at 61,400 = 23,025 against a cost of 22,875: +150 realised into the vault
    expect(ev).to.have.length(1);
    expect(ev[0]!.keys[1]).to.equal(carol.address);
    expect(ev[0]!.data.slice(2, 4)).to.deep.equal([sz(3_750n), px(61_400n)]);
    expect(ev[0]!.data[6]).to.equal(150n * USDC);
    expect(getVaultView(h.st, h.cfg).balance).to.equal(vault0 + 150n * USDC);
    expect(getVaultView(h.st, h.cfg).positions[0]!.size).to.equal(sz(3_750n));
    expect(h.view(carol).positions[0]!.size).to.equal(sz(3_750n));
    expect(h.view(carol).collateral).to.equal(carol0); // a maker rebate is not paid (no taker fee funds it)
    h.expectInvariants();
    // the allowance of this block is used up
    expect(vaultUnwindTargets(h.st, h.cfg, { now: h.now, block: h.blockNumber })).to.deep.equal([]);
    h.expectRevert(unwind(h, bid, sz(1n)), 'UNWIND_SIZE');

    // later blocks: half of what is left each block, the whole rest once it would fall below min_size
    const steps: bigint[] = [];
    while (getVaultView(h.st, h.cfg).positions.length) {
      h.advance(1n);
      const [t] = vaultUnwindTargets(h.st, h.cfg, { now: h.now, block: h.blockNumber });
      h.exec(unwind(h, bid, t!.allowance));
      steps.push(t!.allowance);
      h.expectInvariants();
    }
    expect(steps).to.deep.equal([sz(1_875n), sz(938n), sz(469n), sz(234n), sz(117n), sz(59n), sz(29n), sz(15n), sz(14n)]);
    expect(h.view(carol).positions[0]!.size).to.equal(sz(7_500n));
    // every unwind at 61,400 against an average cost of 61,000: exactly 0.75 x 400 = 300 USDC (the cost shares divide exactly here)
    expect(getVaultView(h.st, h.cfg).balance - vault0).to.equal(300n * USDC);
    expect(vaultUnwindTargets(h.st, h.cfg, { now: h.now, block: h.blockNumber })).to.deep.equal([]);
    h.expectRevert(unwind(h, bid, sz(1n), undefined, { positionBefore: 0n }), 'STALE_PROPOSAL');
    expect(stateFingerprint(replay(h))).to.equal(stateFingerprint(h.st));
  });

  it('refuses a maker outside the band, a maker without margin, and forged proposals; the state is untouched', () => {
    const h = afterTakeover('20000', ['10000', '10000', '10000', '0']);
    h.setPrice({ [BTC]: px(61_500n) });
    const bid = h.order(carol, { side: 'BUY', size: sz(10_000n), price: px(61_400n) });
    const q = sz(1_000n);
    // outside mark ± 5 %: 61,500 x 0.95 = 58,425
    h.expectRevert(unwind(h, h.order(carol, { side: 'BUY', size: q, price: px(58_400n) }), q), 'PRICE_BAND');
    h.exec(unwind(h, h.order(carol, { side: 'BUY', size: q, price: px(58_425n) }), q)); // the band edge is inside
    // a maker with no collateral cannot take the vault's long
    h.expectRevert(unwind(h, h.order(dave, { side: 'BUY', size: q, price: px(61_400n) }), q), 'INSUFFICIENT_MARGIN', 'maker');
    // forged: not the vault, a price worse than the maker's limit, a price below it, sizes, block, position, side, signature
    h.expectRevert(unwind(h, bid, q, undefined, { account: alice.address }), 'INVALID_ROLE');
    h.expectRevert(unwind(h, bid, q, px(61_500n)), 'PRICE_LIMIT', 'maker');
    h.expectRevert(unwind(h, bid, q, px(61_300n)), 'INVALID_PRICE');
    h.expectRevert(unwind(h, bid, sz(2_751n)), 'UNWIND_SIZE'); // 0.375 allowance - 0.1 used = 0.275 left
    h.expectRevert(unwind(h, bid, 1n), 'UNWIND_SIZE'); // off the step grid
    h.expectRevert(unwind(h, bid, q, undefined, { block: h.blockNumber + 1n }), 'STALE_PROPOSAL');
    h.expectRevert(unwind(h, bid, q, undefined, { positionBefore: sz(7_500n) }), 'STALE_PROPOSAL');
    h.expectRevert(unwind(h, h.order(carol, { side: 'SELL', size: q, price: px(61_600n) }), q), 'INVALID_ORDER', 'maker');
    h.expectRevert(unwind(h, h.order(carol, { side: 'BUY', size: q, price: px(61_400n), timeInForce: 'IOC' }), q), 'INVALID_ROLE', 'maker');
    h.expectRevert(unwind(h, { ...bid, signature: [bid.signature[0], bid.signature[1] + 1n] }, q), 'BAD_SIGNATURE', 'maker');
    const small = h.order(carol, { side: 'BUY', size: q, price: px(61_400n) });
    h.expectRevert(unwind(h, small, q + sz(1n)), 'OVERFILL', 'maker');
    h.exec(h.cancelTx(carol, small.hash));
    h.expectRevert(unwind(h, small, q), 'ORDER_CANCELLED', 'maker');
    // the real one still goes through, and the codec round-trips it
    const ok = unwind(h, bid, sz(2_750n));
    expect(parseTx(txToJson(ok))).to.deep.equal(ok);
    h.exec(ok);
    expect(getVaultView(h.st, h.cfg).positions[0]!.size).to.equal(sz(3_750n));
    h.expectInvariants();
  });

  it("never realises a loss beyond the vault's balance: the unwind reverts VAULT_INSUFFICIENT and the balance stays >= 0", () => {
    // An empty vault: after the takeover it holds only alice's penalty (457.5) and her 0.75 BTC long.
    const h = afterTakeover('0');
    expect(getVaultView(h.st, h.cfg).balance).to.equal(457_500_000n);
    h.setPrice({ [BTC]: px(59_000n) }); // the long is now 1,500 under water
    const bid = h.order(carol, { side: 'BUY', size: sz(7_500n), price: px(59_000n) });
    // 0.375 at 59,000 realises -750: balance 457.5 - 750 < 0
    h.expectRevert(unwind(h, bid, sz(3_750n)), 'VAULT_INSUFFICIENT');
    // a step the balance covers: 0.05 BTC realises -100
    h.exec(unwind(h, bid, sz(500n)));
    expect(getVaultView(h.st, h.cfg).balance).to.equal(357_500_000n);
    h.expectInvariants();
  });

  it('is refused in CANCEL_ONLY and POST_ONLY (like LIQUIDATE)', () => {
    const h = afterTakeover();
    const bid = h.order(carol, { side: 'BUY', size: sz(7_500n), price: px(61_000n) });
    h.exec({ type: 'SET_MODE', mode: 'CANCEL_ONLY', reason: 'test', seq: 1n });
    expect(vaultUnwindTargets(h.st, h.cfg, { now: h.now, block: h.blockNumber })).to.deep.equal([]);
    h.expectRevert(unwind(h, bid, sz(100n)), 'MODE_CANCEL_ONLY');
    h.exec({ type: 'SET_MODE', mode: 'POST_ONLY', reason: 'test', seq: 2n });
    h.expectRevert(unwind(h, bid, sz(100n)), 'MODE_POST_ONLY');
  });
});
