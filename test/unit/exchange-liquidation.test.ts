/**
 * Liquidation scenarios: a long hit by a price drop is liquidated in steps, then fully; the
 * Liquidator Vault pays a shortfall; ADL of the most profitable opposite positions when the
 * vault is empty. Every step is proposed by findLiquidations and re-checked by the contract.
 */
import { expect } from 'chai';
import { findLiquidations, getAccountView, getMarketView, getVaultView, parseTx, txHash, txToJson, type PerpTx } from '../../contracts-ts/index.ts';
import { CHAIN_ID, E8, Harness, USDC, USERS } from './exchange-fixtures.ts';

const [alice, bob, carol, dave, erin] = USERS as [typeof USERS[0], typeof USERS[0], typeof USERS[0], typeof USERS[0], typeof USERS[0]];
const BTC = 'BTC-USD-PERP';
const px = (usd: bigint) => usd * E8;
const sz = (tenThousandths: bigint) => tenThousandths * 10_000n; // size in 0.0001 BTC

describe('exchange liquidation: steps to the vault, then full', () => {
  it('a long hit by a price drop is liquidated in steps until healthy, then fully, and the vault pays the shortfall', () => {
    const h = new Harness();
    h.open(alice, bob, sz(15_000n), px(65_000n)); // 1.5 BTC long
    expect(h.view(alice).collateral).to.equal(10_000n * USDC - 48_750_000n);
    const vault0 = getVaultView(h.st, h.cfg).balance;

    h.setPrice({ [BTC]: px(62_000n) });
    expect(findLiquidations(h.st, h.cfg, { block: h.blockNumber })).to.deep.equal([]);
    h.expectRevert({ type: 'LIQUIDATE', account: alice.address, market: BTC, size: sz(7_500n), positionBefore: sz(15_000n), block: h.blockNumber }, 'NOT_LIQUIDATABLE');

    // 61000: equity 3951.25 < maintenance 4575
    h.setPrice({ [BTC]: px(61_000n) });
    let props = findLiquidations(h.st, h.cfg, { block: h.blockNumber });
    expect(props).to.deep.equal([{ type: 'LIQUIDATE', account: alice.address, market: BTC, size: sz(7_500n), positionBefore: sz(15_000n), block: h.blockNumber }]);
    h.expectRevert({ ...(props[0] as any), size: sz(7_501n) }, 'LIQUIDATION_SIZE');
    h.expectRevert({ ...(props[0] as any), positionBefore: sz(14_000n) }, 'STALE_PROPOSAL');
    const ev = h.exec(props[0]!);
    expect(ev[0]!.data.slice(1)).to.deep.equal([-sz(7_500n) + (2n ** 251n + 17n * 2n ** 192n + 1n), px(61_000n), 45_750n * USDC, 457_500_000n]);
    let a = h.view(alice);
    // realized -3000, penalty 457.5: collateral 6493.75; 0.75 BTC left, healthy again
    expect(a.collateral).to.equal(6_493_750_000n);
    expect(a.positions[0]!.size).to.equal(sz(7_500n));
    expect(a.liquidatable).to.equal(false);
    expect(findLiquidations(h.st, h.cfg, { block: h.blockNumber })).to.deep.equal([]);
    expect(getVaultView(h.st, h.cfg)).to.deep.include({ balance: vault0 + 457_500_000n });
    expect(getVaultView(h.st, h.cfg).positions[0]!.size).to.equal(sz(7_500n));
    h.expectInvariants();

    // 57500: two more steps (0.375, then 0.1875) until healthy
    h.setPrice({ [BTC]: px(57_500n) });
    const sizes: bigint[] = [];
    for (;;) {
      props = findLiquidations(h.st, h.cfg, { block: h.blockNumber });
      if (props.length === 0) break;
      sizes.push((props[0] as any).size);
      h.exec(props[0]!);
      h.expectInvariants();
    }
    expect(sizes).to.deep.equal([sz(3_750n), sz(1_875n)]);
    a = h.view(alice);
    expect(a.positions[0]!.size).to.equal(sz(1_875n));
    expect(a.equity >= a.maintenanceMargin).to.equal(true);
    expect(a.equity).to.equal(545_312_500n);

    // 50000: bankrupt (equity < 0): the whole remainder goes at once, the vault covers the deficit
    h.setPrice({ [BTC]: px(50_000n) });
    a = h.view(alice);
    expect(a.equity).to.equal(545_312_500n - 1_406_250_000n);
    const vaultBefore = getVaultView(h.st, h.cfg).balance;
    props = findLiquidations(h.st, h.cfg, { block: h.blockNumber });
    expect(props).to.deep.equal([{ type: 'LIQUIDATE', account: alice.address, market: BTC, size: sz(1_875n), positionBefore: sz(1_875n), block: h.blockNumber }]);
    const ev2 = h.exec(props[0]!);
    const shortfall = ev2.find((e) => e.keys[1] === alice.address && e.data.length === 1)!;
    expect(shortfall.data[0]).to.equal(860_937_500n);
    a = h.view(alice);
    expect(a.positions).to.deep.equal([]);
    expect(a.collateral).to.equal(0n);
    expect(getVaultView(h.st, h.cfg).balance).to.equal(vaultBefore - 860_937_500n);
    // the vault now holds the whole 1.5 BTC long; open interest stays symmetric
    expect(getVaultView(h.st, h.cfg).positions[0]!.size).to.equal(sz(15_000n));
    const mv = getMarketView(h.st, h.cfg, BTC);
    expect(mv.longOpenInterest).to.equal(mv.shortOpenInterest);
    h.expectInvariants();
  });

  it('the vault pays a gap shortfall in one step; with too little in the vault the step reverts', () => {
    const rich = new Harness({ vault: '5000' });
    rich.open(alice, bob, E8, px(65_000n));
    rich.setPrice({ [BTC]: px(54_000n) }); // equity = 10000 - 32.5 - 11000 = -1032.5
    expect(rich.view(alice).equity).to.equal(-1_032_500_000n);
    const props = findLiquidations(rich.st, rich.cfg, { block: rich.blockNumber });
    expect(props).to.deep.equal([{ type: 'LIQUIDATE', account: alice.address, market: BTC, size: E8, positionBefore: E8, block: rich.blockNumber }]);
    rich.exec(props[0]!);
    expect(rich.view(alice).collateral).to.equal(0n);
    expect(getVaultView(rich.st, rich.cfg).balance).to.equal(5_000n * USDC - 1_032_500_000n);
    rich.expectInvariants();

    const poor = new Harness({ vault: '1000' });
    poor.open(alice, bob, E8, px(65_000n));
    poor.setPrice({ [BTC]: px(54_000n) });
    poor.expectRevert({ type: 'LIQUIDATE', account: alice.address, market: BTC, size: E8, positionBefore: E8, block: poor.blockNumber }, 'VAULT_INSUFFICIENT');
    // the sequencer proposes ADL instead
    expect(findLiquidations(poor.st, poor.cfg, { block: poor.blockNumber })).to.deep.equal([{ type: 'ADL', account: alice.address, market: BTC, positionBefore: E8, block: poor.blockNumber }]);
  });
});

describe('exchange ADL when the vault is empty', () => {
  function setup(vault = '0'): Harness {
    const h = new Harness({ vault, users: [alice, bob, carol, dave, erin] });
    // alice long 1.0 against bob (0.6 @ 65000) and carol (0.4 @ 64000); dave long / erin short 0.3 @ 62000
    h.open(alice, bob, sz(6_000n), px(65_000n));
    h.open(alice, carol, sz(4_000n), px(64_000n));
    h.open(dave, erin, sz(3_000n), px(62_000n));
    return h;
  }

  it('closes the bankrupt position at its bankruptcy price against the most profitable shorts, in rank order', () => {
    const h = setup();
    h.setPrice({ [BTC]: px(50_000n) });
    const a0 = h.view(alice);
    expect(a0.equity < 0n).to.equal(true);
    const props = findLiquidations(h.st, h.cfg, { block: h.blockNumber });
    expect(props).to.deep.equal([{ type: 'ADL', account: alice.address, market: BTC, positionBefore: E8, block: h.blockNumber }]);
    h.expectRevert({ type: 'LIQUIDATE', account: alice.address, market: BTC, size: E8, positionBefore: E8, block: h.blockNumber }, 'VAULT_INSUFFICIENT');
    const bobBefore = h.view(bob);
    const carolBefore = h.view(carol);
    const erinBefore = h.view(erin);
    const ev = h.exec(props[0]!);
    // rank: bob (+9000 on 39000 cost, 23.1%) > carol (+5600 on 25600, 21.9%) > erin (+3600 on 18600, 19.4%)
    expect(ev.map((e) => e.keys[2])).to.deep.equal([bob.address, carol.address]);
    const a = h.view(alice);
    expect(a.positions).to.deep.equal([]);
    expect(a.collateral).to.equal(0n); // equity brought to exactly zero
    expect(h.view(bob).positions).to.deep.equal([]);
    expect(h.view(carol).positions).to.deep.equal([]);
    expect(h.view(erin)).to.deep.equal(erinBefore);
    // the bankruptcy price (cash 64600 - 9967.7 = 54632.3 for 1 BTC) is above the mark: shorts gain less than at mark
    const cash = 64_600n * USDC - a0.collateral;
    expect(ev[0]!.data[2] + ev[1]!.data[2]).to.equal(cash);
    expect(ev[0]!.data[2]).to.equal((cash * 6n) / 10n);
    const bobGain = h.view(bob).collateral - bobBefore.collateral;
    expect(bobGain).to.equal(39_000n * USDC - (cash * 6n) / 10n);
    expect(bobGain < bobBefore.unrealizedPnl).to.equal(true);
    expect(h.view(carol).collateral - carolBefore.collateral).to.equal(25_600n * USDC - (cash - (cash * 6n) / 10n));
    expect(getVaultView(h.st, h.cfg).balance).to.equal(0n);
    const mv = getMarketView(h.st, h.cfg, BTC);
    expect([mv.longOpenInterest, mv.shortOpenInterest]).to.deep.equal([sz(3_000n), sz(3_000n)]);
    h.expectInvariants();
  });

  it('refuses ADL while the vault can pay, or while the account is not bankrupt', () => {
    const rich = setup('100000');
    rich.setPrice({ [BTC]: px(50_000n) });
    rich.expectRevert({ type: 'ADL', account: alice.address, market: BTC, positionBefore: E8, block: rich.blockNumber }, 'ADL_NOT_ALLOWED');
    expect(findLiquidations(rich.st, rich.cfg, { block: rich.blockNumber })[0]!.type).to.equal('LIQUIDATE');

    const h = setup();
    h.setPrice({ [BTC]: px(56_000n) }); // below maintenance, equity still positive
    const v = getAccountView(h.st, h.cfg, alice.address);
    expect(v.liquidatable && v.equity > 0n).to.equal(true);
    h.expectRevert({ type: 'ADL', account: alice.address, market: BTC, positionBefore: E8, block: h.blockNumber } as PerpTx, 'ADL_NOT_ALLOWED');
    // an empty vault can still take a non-bankrupt position over (no money needed)
    expect(findLiquidations(h.st, h.cfg, { block: h.blockNumber })[0]!.type).to.equal('LIQUIDATE');
    h.exec(findLiquidations(h.st, h.cfg, { block: h.blockNumber })[0]!);
    h.expectInvariants();
  });
});

describe('exchange liquidation proposals are bound to their block', () => {
  it('the same position liquidated again in a later block gives a proposal with a different hash', () => {
    const h = new Harness();
    h.open(alice, bob, sz(15_000n), px(65_000n)); // 1.5 BTC long
    h.setPrice({ [BTC]: px(61_000n) });
    const first = findLiquidations(h.st, h.cfg, { now: h.now, block: h.blockNumber });
    expect(first).to.deep.equal([{ type: 'LIQUIDATE', account: alice.address, market: BTC, size: sz(7_500n), positionBefore: sz(15_000n), block: 1n }]);
    h.exec(first[0]!);
    expect(h.view(alice).positions[0]!.size).to.equal(sz(7_500n));

    // Next block: alice tops up and buys the 0.75 back, so her position is 1.5 BTC again.
    h.advance(1n);
    h.exec(h.depositTx(alice, 8_000n * USDC));
    h.open(alice, bob, sz(7_500n), px(61_000n));
    expect(h.view(alice).positions[0]!.size).to.equal(sz(15_000n));
    h.setPrice({ [BTC]: px(55_000n) });
    const second = findLiquidations(h.st, h.cfg, { now: h.now, block: h.blockNumber });
    expect(second).to.have.length(1);
    // Every field but the block is what it was in block 1 ...
    expect({ ...second[0]!, block: 1n }).to.deep.equal(first[0]);
    expect(second[0]!.block).to.equal(2n);
    // ... and the block keeps the hashes apart (a chain refuses a duplicate hash).
    expect(txHash(second[0]!, CHAIN_ID)).to.not.equal(txHash(first[0]!, CHAIN_ID));
    // The block survives the JSON codec and is part of the hash.
    const back = parseTx(JSON.parse(JSON.stringify(txToJson(second[0]!))));
    expect(back).to.deep.equal(second[0]);
    expect(txToJson(second[0]!).block).to.equal('0x2');
    h.exec(second[0]!);
    expect(h.view(alice).positions[0]!.size).to.equal(sz(7_500n));
    h.expectInvariants();
  });

  it('a LIQUIDATE or ADL proposed for another block is refused as STALE_PROPOSAL', () => {
    const h = new Harness();
    h.advance(1n); // block 2
    h.open(alice, bob, sz(15_000n), px(65_000n));
    h.setPrice({ [BTC]: px(61_000n) });
    const p = findLiquidations(h.st, h.cfg, { block: h.blockNumber })[0]!;
    expect(p.block).to.equal(2n);
    h.expectRevert({ ...p, block: 3n }, 'STALE_PROPOSAL'); // a future block
    h.expectRevert({ ...p, block: 1n }, 'STALE_PROPOSAL'); // a past block
    // Without `block`, findLiquidations proposes for block 0: useless outside block 0.
    const noBlock = findLiquidations(h.st, h.cfg)[0]!;
    expect(noBlock).to.deep.equal({ ...p, block: 0n });
    h.expectRevert(noBlock, 'STALE_PROPOSAL');
    // Held over to the next block, the proposal no longer executes; a fresh one does.
    h.advance(1n);
    h.expectRevert(p, 'STALE_PROPOSAL');
    h.exec(findLiquidations(h.st, h.cfg, { block: h.blockNumber })[0]!);
    expect(h.view(alice).positions[0]!.size).to.equal(sz(7_500n));

    const poor = new Harness({ vault: '0', users: [alice, bob, carol, dave, erin] });
    poor.open(alice, bob, E8, px(65_000n));
    poor.setPrice({ [BTC]: px(54_000n) });
    const [adl] = findLiquidations(poor.st, poor.cfg, { block: poor.blockNumber });
    expect(adl).to.deep.equal({ type: 'ADL', account: alice.address, market: BTC, positionBefore: E8, block: 1n });
    poor.expectRevert({ ...adl!, block: 2n }, 'STALE_PROPOSAL');
    poor.exec(adl!);
    expect(poor.view(alice).positions).to.deep.equal([]);
    poor.expectInvariants();
  });
});
