/**
 * Funding, oracle quorum and the withdrawal gate (issue 11, defects 6 and 7). Each "old failure"
 * test replays the scenario that once went wrong, with the number it produced, and asserts the
 * bound that holds now.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  applyGenesis,
  checkInvariants,
  ConfigError,
  executeTransaction,
  findLiquidations,
  getFundingView,
  makeSetModeTx,
  markPrice,
  MemoryState,
  parseExchangeGenesis,
  proposeFunding,
  TxRevert,
  type FundingTx,
  type PerpTx,
} from '../../contracts-ts/index.ts';
import { fundingBound, fundingTickAt, impactPrice, pendingAccrual, premiumRate } from '../../contracts-ts/exchange/funding.ts';
import { withdrawalGate } from '../../contracts-ts/exchange/collateral.ts';
import { marketBase, MKT } from '../../contracts-ts/layout.ts';
import { toHex } from '../../node/crypto/index.ts';
import { CHAIN_ID, cachedVerify, E8, Harness, key, stateFingerprint, T0, testGenesisJson, USDC, USERS } from './exchange-fixtures.ts';

const [alice, bob, carol] = USERS as [(typeof USERS)[0], (typeof USERS)[0], (typeof USERS)[0]];
const BTC = 'BTC-USD-PERP';
const P65K = 65_000n * E8;
const CLAMP = 10_000_000n; // 1 % per 8 h period in the test genesis
const PERIOD = 28_800n;
const INTERVAL = 60n;
/** Funding one interval can charge a 1 BTC position at 65,000 at the clamp: ceil(0.01 x 65000 x 60 / 28800) USDC. */
const ONE_INTERVAL_MAX = 1_354_167n;

function tick(h: Harness): FundingTx | null {
  const f = proposeFunding(h.st, h.cfg, h.ctx());
  if (f) h.exec(f);
  return f;
}

/** A 1 BTC long (alice) against a short (bob), the funding clock started, a premium at the clamp. */
function running(extra: Record<string, unknown> = {}): Harness {
  const h = new Harness({ extra });
  h.open(alice, bob, E8, P65K);
  h.setPrice({ [BTC]: P65K }); // the first accrual starts the clock
  h.sample({ [BTC]: { bid: 66_000n * E8 } }); // impact bid 1.5 % over the mark: premium clamped to 1 %
  return h;
}

function btcTick(f: FundingTx | null) {
  return f?.markets.find((m) => m.market === BTC);
}

describe('funding cannot jump (defect 6)', () => {
  it('old failure: the first funding after genesis covered 28,955,114 s; now at most one interval', () => {
    const h = new Harness();
    h.open(alice, bob, E8, P65K);
    h.sample({ [BTC]: { bid: 66_000n * E8 } });
    // The devnet starts 28,955,114 s after its genesis timestamp (the reproduced incident).
    h.advance(28_955_114n);
    h.setPrice({ [BTC]: P65K });
    const f = btcTick(tick(h));
    expect(f, 'a tick is due: the sample started the clock at genesis').to.not.equal(undefined);
    expect(f!.seconds).to.equal(INTERVAL);
    expect(f!.index).to.equal((CLAMP * P65K * INTERVAL) / PERIOD);
    // The old code charged the whole gap: 1,005 periods at the clamp wiped out the long.
    expect(h.view(alice).pendingFunding).to.equal(ONE_INTERVAL_MAX);
    h.expectInvariants();
  });

  it('before any sample or price the clock has not started: nothing is due at all', () => {
    const h = new Harness({ extra: { oracle_max_age_seconds: 0 } });
    h.open(alice, bob, E8, P65K);
    h.advance(28_955_114n);
    expect(proposeFunding(h.st, h.cfg, h.ctx())).to.equal(null);
    h.expectRevert({ type: 'FUNDING', timestamp: h.now, markets: [{ market: BTC, premium: 0n, seconds: 0n, rate: 0n, index: 0n }] }, 'FUNDING_TIMESTAMP');
  });

  for (const maxAge of [undefined, 0]) {
    const extra = maxAge === undefined ? {} : { oracle_max_age_seconds: maxAge };
    const label = maxAge === undefined ? 'default oracle_max_age' : 'no oracle age limit';

    it(`old failure: after a 24 h halt one tick charged 1,950 USDC per BTC; now at most one interval (${label})`, () => {
      const h = running(extra);
      h.advance(INTERVAL);
      h.setPrice({ [BTC]: P65K });
      expect(btcTick(tick(h))!.seconds).to.equal(INTERVAL);
      const owed0 = h.view(alice).pendingFunding;
      h.exec(makeSetModeTx(h.st, h.cfg, 'HALTED', 'guard'));
      h.advance(86_400n);
      h.exec(makeSetModeTx(h.st, h.cfg, 'NORMAL', 'resume'));
      expect(proposeFunding(h.st, h.cfg, h.ctx()), 'halted time is not live').to.equal(null);
      h.setPrice({ [BTC]: P65K });
      h.advance(INTERVAL);
      h.setPrice({ [BTC]: P65K });
      const f = btcTick(tick(h))!;
      expect(f.seconds).to.equal(INTERVAL);
      expect(h.view(alice).pendingFunding - owed0 <= ONE_INTERVAL_MAX).to.equal(true);
      h.expectInvariants();
    });

    it(`old failure: after 2 days of downtime a 1 BTC long owed 1,800 USDC at once; now at most one interval (${label})`, () => {
      const h = running(extra);
      h.advance(INTERVAL);
      h.setPrice({ [BTC]: P65K });
      tick(h);
      const owed0 = h.view(alice).pendingFunding;
      h.advance(2n * 86_400n); // no block at all for two days
      h.setPrice({ [BTC]: P65K });
      const f = btcTick(tick(h))!;
      expect(f.seconds <= INTERVAL).to.equal(true);
      expect(h.view(alice).pendingFunding - owed0 <= ONE_INTERVAL_MAX).to.equal(true);
      const bound = fundingBound(h.market(), P65K, INTERVAL);
      expect(f.index - getFundingView(h.st, h.cfg, BTC).previousIndex <= bound).to.equal(true);
      h.expectInvariants();
    });
  }

  it('with the default oracle_max_age a stale mark stops the clock: downtime accrues only the freshness tail', () => {
    const h = running();
    h.advance(INTERVAL);
    h.setPrice({ [BTC]: P65K });
    tick(h);
    h.advance(2n * 86_400n);
    // the mark was fresh for 61 s after the last tick (timestamp now+1, max age 60)
    expect(pendingAccrual(h.st, h.cfg, h.market(), h.now).secs).to.equal(61n);
  });

  for (const mode of ['CANCEL_ONLY', 'POST_ONLY', 'HALTED'] as const) {
    it(`no funding in ${mode}, and its time never accrues afterwards`, () => {
      const h = running({ oracle_max_age_seconds: 0 });
      h.advance(30n);
      h.exec(makeSetModeTx(h.st, h.cfg, mode, 'maintenance'));
      h.advance(3600n);
      expect(proposeFunding(h.st, h.cfg, h.ctx())).to.equal(null);
      const forged: PerpTx = { type: 'FUNDING', timestamp: h.now, markets: [{ market: BTC, premium: CLAMP, seconds: INTERVAL, rate: CLAMP, index: (CLAMP * P65K * INTERVAL) / PERIOD }] };
      h.expectRevert(forged, mode === 'HALTED' ? 'MODE_HALTED' : mode === 'CANCEL_ONLY' ? 'MODE_CANCEL_ONLY' : 'MODE_POST_ONLY');
      h.exec(makeSetModeTx(h.st, h.cfg, 'NORMAL', 'done'));
      // Only the 30 NORMAL seconds before the mode change count.
      expect(pendingAccrual(h.st, h.cfg, h.market(), h.now).secs).to.equal(30n);
      expect(proposeFunding(h.st, h.cfg, h.ctx())).to.equal(null);
      h.advance(30n);
      const f = btcTick(tick(h))!;
      expect(f.seconds).to.equal(INTERVAL);
      h.expectInvariants();
    });
  }

  it('a tick accrues at most one interval even when more live time was sampled', () => {
    const h = running({ oracle_max_age_seconds: 0 });
    h.advance(95n);
    const f = btcTick(tick(h))!;
    expect(f.seconds).to.equal(INTERVAL);
    expect(pendingAccrual(h.st, h.cfg, h.market(), h.now).secs, 'the accumulator restarts at each tick').to.equal(0n);
  });

  it('invariants catch a tampered index and a tampered accrual time', () => {
    const h = running();
    h.advance(INTERVAL);
    h.setPrice({ [BTC]: P65K });
    tick(h);
    expect(checkInvariants(h.st, h.cfg)).to.deep.equal([]);
    const base = marketBase(h.market().id);
    h.st.setStorage(h.cfg.exchangeAddress, base + MKT.fundingSeconds, 86_400n);
    expect(checkInvariants(h.st, h.cfg).join()).to.match(/BTC-USD-PERP: funding tick accrued 86400s/);
    h.st.setStorage(h.cfg.exchangeAddress, base + MKT.fundingSeconds, INTERVAL);
    h.st.setStorage(h.cfg.exchangeAddress, base + MKT.fundingIndex, 0n);
    expect(checkInvariants(h.st, h.cfg).join()).to.match(/BTC-USD-PERP: funding index moved .* \(reset or corruption\)/);
  });
});

describe('funding rate from impact prices (defect 7)', () => {
  it('impact price: the average fill price for impact_notional, 0 when the side cannot fill it', () => {
    const notional = 10_000n * USDC;
    // old failure: one 0.001 BTC bid 0.5 % above the mark set the rate; it is 65 USDC of a 10,000 notional
    expect(impactPrice([[65_325n * E8, 100_000n]], notional, 'bid')).to.equal(0n);
    const withDepth = impactPrice([[65_325n * E8, 100_000n], [64_900n * E8, E8]], notional, 'bid');
    expect(withDepth > 64_900n * E8 && withDepth < 64_910n * E8).to.equal(true);
    expect(premiumRate(parseExchangeGenesis(testGenesisJson()).markets[0]!, P65K, { bid: withDepth })).to.equal(0n);
    expect(impactPrice([[65_325n * E8, E8]], notional, 'bid')).to.equal(65_325n * E8);
    // 5,000 USD at 100 then 5,000 at 80: 112.5 units, average 88.888…: bids round down, asks up
    const levels: [bigint, bigint][] = [[100n * E8, 50n * E8], [80n * E8, 1_000n * E8]];
    expect(impactPrice(levels, notional, 'bid')).to.equal(8_888_888_888n);
    expect(impactPrice(levels, notional, 'ask')).to.equal(8_888_888_889n);
    expect(impactPrice([], notional, 'ask')).to.equal(0n);
  });

  it('premium: bid side above the mark pays longs→shorts, ask side below the reverse, truncated and clamped', () => {
    const m = parseExchangeGenesis(testGenesisJson()).markets[0]!;
    expect(premiumRate(m, P65K, { bid: 65_065n * E8, ask: 65_100n * E8 })).to.equal(1_000_000n); // +0.1 %
    expect(premiumRate(m, P65K, { bid: 64_900n * E8, ask: 64_935n * E8 })).to.equal(-1_000_000n);
    expect(premiumRate(m, P65K, { bid: 64_990n * E8, ask: 65_010n * E8 })).to.equal(0n);
    expect(premiumRate(m, P65K, { bid: 70_000n * E8 })).to.equal(CLAMP);
    expect(premiumRate(m, P65K, { bid: 0n, ask: 0n })).to.equal(0n);
  });

  it('the rate is the time-weighted premium of the samples plus the genesis baseline rate', () => {
    const h = new Harness({ btc: { funding_baseline_rate: '0.0001' }, extra: { oracle_max_age_seconds: 0 } });
    h.open(alice, bob, E8, P65K);
    h.sample({ [BTC]: { bid: 65_065n * E8, ask: 65_100n * E8 } }); // +0.1 %, starts the clock
    h.advance(20n);
    h.sample({ [BTC]: {} }); // book emptied: no premium (dust cannot fill the notional either)
    h.advance(40n);
    const f = btcTick(tick(h))!;
    // (1,000,000 x 20 + 0 x 40) / 60 = 333,333 (toward zero), + baseline 100,000
    expect(f).to.deep.include({ premium: 333_333n, seconds: 60n, rate: 433_333n });
    expect(f.index).to.equal((433_333n * P65K * 60n) / PERIOD);
  });

  it('a dust-only book leaves the rate at the baseline', () => {
    const h = new Harness({ extra: { oracle_max_age_seconds: 0 } });
    h.open(alice, bob, E8, P65K);
    const dust = impactPrice([[65_325n * E8, 100_000n]], h.market().impactNotional, 'bid');
    h.sample({ [BTC]: { bid: dust } });
    h.advance(60n);
    expect(btcTick(tick(h))).to.deep.include({ premium: 0n, rate: 0n, index: 0n });
  });

  it('a follower re-derives every tick from the chain: forged premiums, seconds or rates are refused', () => {
    const h = running();
    h.advance(INTERVAL);
    h.setPrice({ [BTC]: P65K });
    const f = proposeFunding(h.st, h.cfg, h.ctx())!;
    const e = btcTick(f)!;
    expect(fundingTickAt(h.st, h.cfg, h.market(), h.now)).to.deep.equal({ premium: e.premium, seconds: e.seconds, rate: e.rate, index: e.index });
    const forge = (x: Partial<FundingTx['markets'][0]>): PerpTx => ({ ...f, markets: f.markets.map((m) => (m.market === BTC ? { ...m, ...x } : m)) });
    h.expectRevert(forge({ premium: e.premium - 1n }), 'FUNDING_MISMATCH');
    h.expectRevert(forge({ seconds: 3600n }), 'FUNDING_MISMATCH');
    h.expectRevert(forge({ rate: -e.rate }), 'FUNDING_MISMATCH');
    h.expectRevert(forge({ index: 0n, rate: 0n, premium: 0n }), 'FUNDING_MISMATCH');
    h.expectRevert(forge({ index: e.index * 100n }), 'FUNDING_BOUND');
    h.expectRevert({ type: 'FUNDING_SAMPLE', markets: [{ market: BTC, impactBid: 66_000n * E8, impactAsk: 65_000n * E8 }] }, 'INVALID_PRICE');
    h.exec(f);
    // Replaying the chain's transactions (samples included) reproduces the state exactly.
    const st = new MemoryState();
    const verify = cachedVerify();
    applyGenesis(st, h.cfg, { block: { blockNumber: 0n, timestamp: T0, chainId: CHAIN_ID, sequencerAddress: 0x5345n }, verify });
    for (const l of h.log) executeTransaction(l.tx, st, { block: { blockNumber: l.blockNumber, timestamp: l.now, chainId: CHAIN_ID, sequencerAddress: 0x5345n }, verify }, h.cfg);
    expect(stateFingerprint(st)).to.equal(stateFingerprint(h.st));
  });
});

describe('funding properties: long gaps between blocks, mode changes, random samples', () => {
  it('no tick ever accrues more than one interval or moves the index beyond the clamp bound for one interval', function () {
    this.timeout(120_000);
    let ticks = 0;
    const step = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('wait' as const), s: fc.integer({ min: 1, max: 120 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('gap' as const), s: fc.integer({ min: 121, max: 3 * 86_400 }) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('price' as const), bps: fc.integer({ min: -200, max: 200 }) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('sample' as const), bidBps: fc.integer({ min: -300, max: 300 }), askBps: fc.integer({ min: -300, max: 300 }), none: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('mode' as const), mode: fc.constantFrom('NORMAL' as const, 'CANCEL_ONLY' as const, 'POST_ONLY' as const, 'HALTED' as const) }) },
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 10, maxLength: 60 }), fc.constantFrom(0, 60), (steps, maxAge) => {
        const h = new Harness({ extra: { oracle_max_age_seconds: maxAge } });
        h.open(alice, bob, E8, P65K);
        const m = h.market();
        for (const s of steps) {
          const mark = markPrice(h.st, h.cfg, BTC);
          try {
            if (s.kind === 'wait' || s.kind === 'gap') h.advance(BigInt(s.s));
            else if (s.kind === 'price') h.setPrice({ [BTC]: ((mark + (mark * BigInt(s.bps)) / 10_000n) / m.tickSize) * m.tickSize });
            else if (s.kind === 'sample') {
              const lo = s.bidBps < s.askBps ? s.bidBps : s.askBps;
              const hi = s.bidBps < s.askBps ? s.askBps : s.bidBps;
              h.sample({ [BTC]: s.none ? {} : { bid: mark + (mark * BigInt(lo)) / 10_000n, ask: mark + (mark * BigInt(hi)) / 10_000n } });
            } else h.exec(makeSetModeTx(h.st, h.cfg, s.mode, 'prop'));
          } catch (e) {
            if (!(e instanceof TxRevert)) throw e;
          }
          const before = getFundingView(h.st, h.cfg, BTC).index;
          const owed = h.view(alice).pendingFunding;
          const f = btcTick(tick(h));
          if (f) {
            ticks++;
            expect(f.seconds <= INTERVAL && f.seconds > 0n).to.equal(true);
            const price = markPrice(h.st, h.cfg, BTC);
            const d = f.index - before;
            expect(d <= fundingBound(m, price, INTERVAL) && -d <= fundingBound(m, price, INTERVAL)).to.equal(true);
            const paid = h.view(alice).pendingFunding - owed;
            expect(paid <= (CLAMP * price * INTERVAL) / PERIOD / 10n ** 11n + 1n && -paid <= (CLAMP * price * INTERVAL) / PERIOD / 10n ** 11n + 1n).to.equal(true);
          }
          expect(checkInvariants(h.st, h.cfg, h.allAccounts())).to.deep.equal([]);
        }
      }),
      { numRuns: 40 },
    );
    expect(ticks).to.be.greaterThan(10);
  });
});

describe('oracle: quorum median, max age, one update per market per block', () => {
  const A = key('oracle a');
  const B = key('oracle b');
  const C = key('oracle c');
  const three = { oracles: [A, B, C].map((k) => ({ public_key: toHex(k.pub) })), oracle_quorum: 2 };

  it('genesis: oracle_quorum defaults to a majority and may not exceed the keys; oracle_max_age is on by default', () => {
    const cfg = parseExchangeGenesis(testGenesisJson({ extra: { oracles: three.oracles } }));
    expect(cfg.oracleQuorum).to.equal(2);
    expect(cfg.oracleMaxAge).to.equal(60n);
    expect(() => parseExchangeGenesis(testGenesisJson({ extra: { ...three, oracle_quorum: 4 } }))).to.throw(ConfigError, /oracle_quorum/);
    expect(() => parseExchangeGenesis(testGenesisJson({ btc: { impact_notional: '0' } }))).to.throw(ConfigError, /impact_notional/);
    expect(() => parseExchangeGenesis(testGenesisJson({ btc: { funding_baseline_rate: '0.5' } }))).to.throw(ConfigError, /funding_baseline_rate/);
  });

  it('the mark is the median of the fresh reports: one lying oracle of three cannot move it outside the honest ones', () => {
    const h = new Harness({ extra: three });
    const ts = () => h.now;
    h.exec(h.oracleTx({ [BTC]: 65_100n * E8 }, ts(), A));
    expect(markPrice(h.st, h.cfg, BTC), 'one report is below the quorum').to.equal(P65K);
    h.advance(1n);
    h.exec(h.oracleTx({ [BTC]: 65_200n * E8 }, ts(), B));
    expect(markPrice(h.st, h.cfg, BTC)).to.equal(65_100n * E8);
    for (const lie of [90_000n, 40_000n, 97_000n]) {
      h.advance(1n);
      h.exec(h.oracleTx({ [BTC]: lie * E8 }, ts(), C));
      const mark = markPrice(h.st, h.cfg, BTC);
      expect(mark >= 65_100n * E8 && mark <= 65_200n * E8, `liar at ${lie}: mark ${mark}`).to.equal(true);
    }
    // The honest reports age out: the liar alone is below the quorum and the mark stays.
    h.advance(61n);
    h.exec(h.oracleTx({ [BTC]: 97_000n * E8 }, ts(), C));
    expect(markPrice(h.st, h.cfg, BTC) <= 65_200n * E8).to.equal(true);
    h.expectInvariants();
  });

  it('a stale signed price is refused (oracle_max_age_seconds on by default)', () => {
    const h = new Harness();
    h.advance(1000n);
    h.expectRevert(h.oracleTx({ [BTC]: P65K }, h.now - 61n), 'ORACLE_STALE');
    h.exec(h.oracleTx({ [BTC]: P65K }, h.now - 60n));
    // A stale mark stops liquidations and funding: the next tick is refused.
    h.advance(120n);
    h.expectRevert({ type: 'FUNDING', timestamp: h.now, markets: [{ market: BTC, premium: 0n, seconds: INTERVAL, rate: 0n, index: 0n }] }, 'ORACLE_STALE');
  });

  it('two updates of a market in one block are refused, whoever signs them; other markets and the next block are fine', () => {
    const h = new Harness({ extra: three });
    h.exec(h.oracleTx({ [BTC]: 65_100n * E8 }, h.now, A));
    h.expectRevert(h.oracleTx({ [BTC]: 65_100n * E8 }, h.now, B), 'ORACLE_TOO_FREQUENT');
    h.expectRevert(h.oracleTx({ [BTC]: 65_150n * E8 }, h.now + 1n, A), 'ORACLE_TOO_FREQUENT');
    h.exec(h.oracleTx({ 'ETH-USD-PERP': 3_500n * E8 }, h.now, B));
    h.advance(1n);
    h.exec(h.oracleTx({ [BTC]: 65_100n * E8 }, h.now, B));
  });
});

describe('withdrawal gate', () => {
  it('closed for withdrawal_gate_blocks after an account was seen with negative equity', () => {
    const h = new Harness({ vault: '0', balances: ['7000', '10000', '10000', '10000'] });
    h.open(alice, bob, E8, P65K);
    h.setPrice({ [BTC]: 55_000n * E8 }); // alice: 7,000 - 10,000 = -3,000
    expect(h.view(alice).equity < 0n).to.equal(true);
    let applied = 0;
    for (const p of findLiquidations(h.st, h.cfg, { block: h.blockNumber, now: h.now })) {
      try {
        h.exec(p);
        applied++;
      } catch (e) {
        if (!(e instanceof TxRevert)) throw e;
      }
    }
    expect(applied, 'the bankrupt account was liquidated or deleveraged').to.be.greaterThan(0);
    const seen = h.blockNumber;
    h.expectRevert(h.withdrawTx(carol, USDC), 'WITHDRAWALS_GATED');
    h.expectRevert(h.transferTx(carol, bob.address, USDC), 'WITHDRAWALS_GATED');
    for (let i = 0; i < 49; i++) h.advance(1n);
    expect(withdrawalGate(h.st, h.cfg, h.ctx())).to.match(new RegExp(`block ${seen}`));
    h.advance(1n);
    expect(withdrawalGate(h.st, h.cfg, h.ctx())).to.equal(null);
    h.exec(h.withdrawTx(carol, USDC));
    h.exec(h.transferTx(carol, bob.address, USDC));
  });

  it('closed during an outage (no oracle price for chain_outage_seconds) and for withdrawal_gate_blocks after it', () => {
    const h = new Harness();
    h.setPrice({ [BTC]: P65K });
    h.exec(h.withdrawTx(carol, USDC)); // open normally
    h.advance(300n);
    h.expectRevert(h.withdrawTx(carol, USDC), 'WITHDRAWALS_GATED');
    h.setPrice({ [BTC]: P65K }); // the outage ends in this block
    h.expectRevert(h.withdrawTx(carol, USDC), 'WITHDRAWALS_GATED');
    for (let i = 0; i < 49; i++) h.advance(1n);
    h.expectRevert(h.transferTx(carol, bob.address, USDC), 'WITHDRAWALS_GATED');
    h.advance(1n);
    h.exec(h.withdrawTx(carol, USDC));
  });

  it('the time before the first oracle price is not an outage', () => {
    const h = new Harness();
    h.advance(28_955_114n);
    h.setPrice({ [BTC]: P65K });
    h.exec(h.withdrawTx(carol, USDC));
  });
});
