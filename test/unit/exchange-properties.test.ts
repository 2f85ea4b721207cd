/**
 * Property tests over random sequences of trades, price moves, funding, liquidations and money
 * movements: conservation and every other invariant hold after each step, open interest stays
 * symmetric, no order is ever filled beyond its signed size, and replaying the successful
 * transactions on a fresh MemoryState reproduces the storage exactly.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  applyGenesis,
  auditInvariants,
  checkInvariants,
  executeTransaction,
  findLiquidations,
  getMarketView,
  getOrderState,
  getVaultView,
  markPrice,
  MemoryState,
  proposeFunding,
  TxRevert,
  type SignedOrder,
} from '../../contracts-ts/index.ts';
import { CHAIN_ID, E8, Harness, stateFingerprint, USDC, USERS, cachedVerify } from './exchange-fixtures.ts';

const USERS4 = USERS.slice(0, 4);
const MARKETS = ['BTC-USD-PERP', 'ETH-USD-PERP'] as const;

type Action =
  | { kind: 'trade'; maker: number; taker: number; market: number; makerBuys: boolean; lots: number; ticksOff: number; reuse: boolean; reduceOnly: boolean }
  | { kind: 'overfill'; taker: number }
  | { kind: 'price'; market: number; bps: number }
  | { kind: 'funding'; seconds: number; premiumBps: number }
  | { kind: 'liquidate' }
  | { kind: 'withdraw'; who: number; amount: number }
  | { kind: 'transfer'; from: number; to: number; amount: number }
  | { kind: 'deposit'; who: number; amount: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('trade' as const),
      maker: fc.nat(3),
      taker: fc.nat(3),
      market: fc.nat(1),
      makerBuys: fc.boolean(),
      lots: fc.integer({ min: 1, max: 40 }),
      ticksOff: fc.integer({ min: -200, max: 200 }),
      reuse: fc.boolean(),
      reduceOnly: fc.constantFrom(false, false, false, true),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('overfill' as const), taker: fc.nat(3) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('price' as const), market: fc.nat(1), bps: fc.integer({ min: -3000, max: 3000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('funding' as const), seconds: fc.integer({ min: 1, max: 7200 }), premiumBps: fc.integer({ min: -300, max: 300 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'liquidate' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), who: fc.nat(3), amount: fc.integer({ min: 1, max: 12_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('transfer' as const), from: fc.nat(3), to: fc.nat(3), amount: fc.integer({ min: 1, max: 12_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deposit' as const), who: fc.nat(3), amount: fc.integer({ min: 1, max: 5_000 }) }) },
);

function runScenario(actions: Action[]): Harness {
  const h = new Harness({ vault: '2000', balances: ['10000', '10000', '20000', '5000'] });
  const resting: SignedOrder[] = [];
  const allOrders: SignedOrder[] = [];
  const attempt = (tx: Parameters<Harness['exec']>[0]): boolean => {
    try {
      h.exec(tx);
      return true;
    } catch (e) {
      if (!(e instanceof TxRevert)) throw e;
      return false;
    }
  };
  const liquidateAll = (): void => {
    for (let round = 0; round < 8; round++) {
      const props = findLiquidations(h.st, h.cfg, { block: h.blockNumber });
      if (props.length === 0) break;
      for (const p of props) attempt(p);
    }
  };
  for (const a of actions) {
    switch (a.kind) {
      case 'trade': {
        if (a.maker === a.taker) break;
        const m = h.market(MARKETS[a.market]);
        const mark = markPrice(h.st, h.cfg, m.symbol);
        const price = ((mark + BigInt(a.ticksOff) * m.tickSize * 10n) / m.tickSize) * m.tickSize;
        if (price <= 0n) break;
        const size = BigInt(a.lots) * m.minSize * 25n;
        const makerUser = USERS4[a.maker]!;
        let maker = a.reuse ? resting.find((o) => o.order.account === makerUser.address && o.order.market === m.symbol) : undefined;
        if (!maker) {
          maker = h.order(makerUser, { market: m.symbol, side: a.makerBuys ? 'BUY' : 'SELL', size: size * 3n, price });
          resting.push(maker);
          allOrders.push(maker);
        }
        const taker = h.order(USERS4[a.taker]!, {
          market: m.symbol,
          side: maker.order.side === 'BUY' ? 'SELL' : 'BUY',
          size,
          price: maker.order.price,
          timeInForce: 'IOC',
          reduceOnly: a.reduceOnly,
        });
        allOrders.push(taker);
        attempt(h.trade(maker, taker, size, maker.order.price));
        break;
      }
      case 'overfill': {
        const maker = resting.at(-1);
        if (!maker) break;
        const st = getOrderState(h.st, h.cfg, maker.hash, maker.order.account)!;
        const rest = maker.order.size - st.filled;
        const m = h.market(maker.order.market);
        const takerUser = USERS4[a.taker]!;
        if (takerUser.address === maker.order.account) break;
        const size = rest + m.stepSize;
        const taker = h.order(takerUser, { market: m.symbol, side: maker.order.side === 'BUY' ? 'SELL' : 'BUY', size, price: maker.order.price });
        let err: unknown;
        try {
          h.exec(h.trade(maker, taker, size, maker.order.price));
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(TxRevert);
        break;
      }
      case 'price': {
        const m = h.market(MARKETS[a.market]);
        const mark = markPrice(h.st, h.cfg, m.symbol);
        const next = mark + (mark * BigInt(a.bps)) / 10_000n;
        try {
          h.setPrice({ [m.symbol]: next > 0n ? next : 1n });
        } catch (e) {
          if (!(e instanceof TxRevert)) throw e;
        }
        liquidateAll();
        break;
      }
      case 'funding': {
        h.advance(BigInt(a.seconds));
        const impact: Record<string, { bid?: bigint; ask?: bigint }> = {};
        for (const s of MARKETS) {
          const mark = markPrice(h.st, h.cfg, s);
          const p = mark + (mark * BigInt(a.premiumBps)) / 10_000n;
          impact[s] = a.premiumBps >= 0 ? { bid: p } : { ask: p };
        }
        const f = proposeFunding(h.st, h.cfg, h.ctx());
        h.sample(impact); // the premium from now on (the tick above used the samples before)
        if (f) expect(attempt(f), 'a proposed funding tx must apply').to.equal(true);
        break;
      }
      case 'liquidate':
        liquidateAll();
        break;
      case 'withdraw':
        attempt(h.withdrawTx(USERS4[a.who]!, BigInt(a.amount) * USDC));
        break;
      case 'transfer':
        if (a.from !== a.to) attempt(h.transferTx(USERS4[a.from]!, USERS4[a.to]!.address, BigInt(a.amount) * USDC));
        break;
      case 'deposit':
        attempt(h.depositTx(USERS4[a.who]!, BigInt(a.amount) * USDC));
        break;
    }
    // After every step: the O(touched) guard over everyone, and open interest symmetric.
    expect(checkInvariants(h.st, h.cfg, h.allAccounts())).to.deep.equal([]);
    for (const s of MARKETS) {
      const mv = getMarketView(h.st, h.cfg, s);
      expect(mv.longOpenInterest).to.equal(mv.shortOpenInterest);
    }
  }
  expect(auditInvariants(h.st, h.cfg)).to.deep.equal([]);
  for (const o of allOrders) {
    const st = getOrderState(h.st, h.cfg, o.hash, o.order.account)!;
    expect(st.filled <= o.order.size, 'no overfill').to.equal(true);
  }
  return h;
}

function replay(h: Harness): MemoryState {
  const st = new MemoryState();
  const verify = cachedVerify();
  const ctx = (blockNumber: bigint, timestamp: bigint) => ({ block: { blockNumber, timestamp, chainId: CHAIN_ID, sequencerAddress: 0x5345n }, verify });
  applyGenesis(st, h.cfg, ctx(0n, 1_767_225_600n));
  for (const e of h.log) executeTransaction(e.tx, st, ctx(e.blockNumber, e.now), h.cfg);
  return st;
}

describe('exchange properties (random trade sequences)', () => {
  it('conservation, open-interest symmetry, no overfill and every invariant hold after each step; replay reproduces the storage', function () {
    this.timeout(120_000);
    let trades = 0;
    let liquidations = 0;
    fc.assert(
      fc.property(fc.array(action, { minLength: 12, maxLength: 30, size: 'max' }), (actions) => {
        const h = runScenario(actions);
        trades += h.log.filter((e) => e.tx.type === 'TRADE').length;
        liquidations += h.log.filter((e) => e.tx.type === 'LIQUIDATE' || e.tx.type === 'ADL').length;
        expect(stateFingerprint(replay(h))).to.equal(stateFingerprint(h.st));
      }),
      { numRuns: 20 },
    );
    // The generator must actually exercise the exchange, or the properties say little.
    expect(trades).to.be.greaterThan(20);
    expect(liquidations).to.be.greaterThan(0);
  });

  it('a crash-style sequence: deep price drops liquidate, ADL or vault-cover everyone consistently', function () {
    this.timeout(60_000);
    fc.assert(
      fc.property(
        fc.array(fc.record({ maker: fc.nat(3), taker: fc.nat(3), lots: fc.integer({ min: 5, max: 60 }) }), { minLength: 3, maxLength: 8 }),
        fc.array(fc.integer({ min: -2500, max: 800 }), { minLength: 2, maxLength: 6 }),
        fc.constantFrom('0', '50', '5000'),
        (trades, moves, vault) => {
          const h = new Harness({ vault, balances: ['3000', '3000', '3000', '3000'] });
          const m = h.market('BTC-USD-PERP');
          for (const t of trades) {
            if (t.maker === t.taker) continue;
            const size = BigInt(t.lots) * m.minSize * 4n;
            const mk = h.order(USERS4[t.maker]!, { side: 'SELL', size, price: 65_000n * E8 });
            const tk = h.order(USERS4[t.taker]!, { side: 'BUY', size, price: 65_000n * E8, timeInForce: 'IOC' });
            try {
              h.exec(h.trade(mk, tk, size, 65_000n * E8));
            } catch (e) {
              if (!(e instanceof TxRevert)) throw e;
            }
          }
          for (const bps of moves) {
            const mark = markPrice(h.st, h.cfg, m.symbol);
            h.setPrice({ [m.symbol]: mark + (mark * BigInt(bps)) / 10_000n });
            for (let round = 0; round < 12; round++) {
              const props = findLiquidations(h.st, h.cfg, { block: h.blockNumber });
              if (props.length === 0) break;
              for (const p of props) {
                try {
                  h.exec(p);
                } catch (e) {
                  if (!(e instanceof TxRevert)) throw e;
                }
              }
            }
            expect(checkInvariants(h.st, h.cfg, h.allAccounts())).to.deep.equal([]);
            // After the rounds nobody is left below maintenance (every proposal could execute).
            expect(findLiquidations(h.st, h.cfg, { block: h.blockNumber })).to.deep.equal([]);
          }
          expect(auditInvariants(h.st, h.cfg)).to.deep.equal([]);
          for (const e of h.log) crash.set(e.tx.type, (crash.get(e.tx.type) ?? 0) + 1);
        },
      ),
      { numRuns: 12 },
    );
    // Across the runs, both ways out of a bankruptcy must have been exercised.
    expect((crash.get('LIQUIDATE') ?? 0) + (crash.get('ADL') ?? 0)).to.be.greaterThan(0);
  });
});
const crash = new Map<string, number>();

describe('exchange properties: the loss waterfall under stress', () => {
  type Step =
    | { kind: 'trade'; maker: number; taker: number; market: number; makerBuys: boolean; lots: number }
    | { kind: 'gap'; market: number; bps: number }
    | { kind: 'wait'; seconds: number; premiumBps: number }
    | { kind: 'withdraw'; who: number; amount: number };
  const N = 6;
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('trade' as const), maker: fc.nat(N - 1), taker: fc.nat(N - 1), market: fc.nat(1), makerBuys: fc.boolean(), lots: fc.integer({ min: 1, max: 80 }) }) },
    // price gaps up to the oracle's 50% jump limit, both ways
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('gap' as const), market: fc.nat(1), bps: fc.integer({ min: -4_900, max: 4_900 }) }) },
    // long gaps between blocks (up to 3 days), then funding at a premium
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), seconds: fc.integer({ min: 1, max: 3 * 86_400 }), premiumBps: fc.integer({ min: -200, max: 200 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), who: fc.nat(N - 1), amount: fc.integer({ min: 1, max: 20_000 }) }) },
  );

  it('empty or small vault, price gaps, long gaps: conservation exact, no bystander insolvent, vault never negative, every account resolved', function () {
    this.timeout(300_000);
    const users = USERS.slice(0, N);
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 10, maxLength: 40 }),
        fc.constantFrom('0', '0', '100', '3000'),
        fc.array(fc.constantFrom('800', '2000', '5000', '20000'), { minLength: N, maxLength: N }),
        fc.constantFrom(1, 2, 1000),
        (steps, vault, balances, maxAdl) => {
          const h = new Harness({ vault, users, balances, extra: { limits: { max_adl_counterparties: maxAdl } } });
          const equities = () => new Map(users.map((u) => [u.address, h.view(u)]));
          const check = (): void => {
            expect(checkInvariants(h.st, h.cfg, h.allAccounts())).to.deep.equal([]);
            expect(getVaultView(h.st, h.cfg).balance >= 0n, 'vault balance >= 0').to.equal(true);
          };
          const resolve = (): void => {
            for (let round = 0; ; round++) {
              const props = findLiquidations(h.st, h.cfg, { block: h.blockNumber });
              if (props.length === 0) return;
              expect(round, 'liquidations must converge').to.be.below(60);
              for (const [i, p] of props.entries()) {
                const before = equities();
                try {
                  h.exec(p);
                } catch (e) {
                  // Only the first proposal is computed on the state it runs against: it must apply.
                  if (!(e instanceof TxRevert) || i === 0) throw e;
                  continue;
                }
                seen.set(p.type, (seen.get(p.type) ?? 0) + 1);
                const after = equities();
                for (const u of users) {
                  if (u.address === p.account) continue;
                  const b = before.get(u.address)!;
                  const a = after.get(u.address)!;
                  // A bystander never becomes insolvent; one that gave anything keeps its maintenance.
                  if (b.equity >= 0n) expect(a.equity >= 0n, 'bystander insolvent').to.equal(true);
                  if (a.equity < b.equity) expect(a.equity >= a.maintenanceMargin, 'bystander pushed below maintenance').to.equal(true);
                  expect(a.equity <= b.equity, 'ADL never pays a counterparty').to.equal(true);
                }
                // a flat account is never left below zero
                const t = h.view(p.account);
                if (t.positions.length === 0) expect(t.collateral >= 0n).to.equal(true);
                check();
              }
              h.advance(1n);
            }
          };
          for (const s of steps) {
            switch (s.kind) {
              case 'trade': {
                if (s.maker === s.taker) break;
                const m = h.market(MARKETS[s.market]);
                const price = markPrice(h.st, h.cfg, m.symbol);
                const size = BigInt(s.lots) * m.minSize * 10n;
                const mk = h.order(users[s.maker]!, { market: m.symbol, side: s.makerBuys ? 'BUY' : 'SELL', size, price });
                const tk = h.order(users[s.taker]!, { market: m.symbol, side: s.makerBuys ? 'SELL' : 'BUY', size, price, timeInForce: 'IOC' });
                try {
                  h.exec(h.trade(mk, tk, size, price));
                } catch (e) {
                  if (!(e instanceof TxRevert)) throw e;
                }
                break;
              }
              case 'gap': {
                const m = h.market(MARKETS[s.market]);
                const mark = markPrice(h.st, h.cfg, m.symbol);
                const next = ((mark + (mark * BigInt(s.bps)) / 10_000n) / m.tickSize) * m.tickSize;
                h.exec(h.oracleTx({ [m.symbol]: next > 0n ? next : m.tickSize }));
                break;
              }
              case 'wait': {
                h.advance(BigInt(s.seconds));
                // the chain is back: the oracle posts fresh prices (a mark older than oracle_max_age_seconds stops liquidations and funding)
                h.setPrice(Object.fromEntries(MARKETS.map((sym) => [sym, markPrice(h.st, h.cfg, sym)])));
                const impact: Record<string, { bid?: bigint; ask?: bigint }> = {};
                for (const sym of MARKETS) {
                  const mark = markPrice(h.st, h.cfg, sym);
                  const p = mark + (mark * BigInt(s.premiumBps)) / 10_000n;
                  impact[sym] = s.premiumBps >= 0 ? { bid: p } : { ask: p };
                }
                const f = proposeFunding(h.st, h.cfg, h.ctx());
                h.sample(impact); // the premium from now on (the tick above used the samples before)
                if (f) h.exec(f);
                break;
              }
              case 'withdraw':
                try {
                  h.exec(h.withdrawTx(users[s.who]!, BigInt(s.amount) * USDC));
                } catch (e) {
                  if (!(e instanceof TxRevert)) throw e;
                }
                break;
            }
            check();
            resolve();
          }
          expect(auditInvariants(h.st, h.cfg)).to.deep.equal([]);
          expect(stateFingerprint(replay(h))).to.equal(stateFingerprint(h.st));
        },
      ),
      { numRuns: 25 },
    );
    // The runs must reach every step of the waterfall, or they say little.
    expect(seen.get('LIQUIDATE') ?? 0, 'LIQUIDATE runs').to.be.greaterThan(0);
    expect(seen.get('ADL') ?? 0, 'ADL runs').to.be.greaterThan(0);
  });
});
