/**
 * The liquidation index (node/sequencer/liquidation-index.ts) against the full scan over every
 * holder: over random price paths, funding, trades in both markets (cross-margin accounts),
 * withdrawals, transfers and deposits, the index maintained only from each step's state diff
 * proposes exactly what the full scan proposes, and every account below maintenance is among
 * its candidates.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { accountRisk, isLiquidatable } from '../../contracts-ts/exchange/risk.ts';
import { holdersOf } from '../../contracts-ts/exchange/ledger.ts';
import { findLiquidations, markPrice, proposeFunding, TxRevert, type PerpTx } from '../../contracts-ts/index.ts';
import { LiquidationIndex, SortedEntries } from '../../node/sequencer/liquidation-index.ts';
import { E8, Harness, user, USDC, type User } from './exchange-fixtures.ts';

const USERS8: User[] = ['li-a', 'li-b', 'li-c', 'li-d', 'li-e', 'li-f', 'li-g', 'li-h'].map(user);
const MARKETS = ['BTC-USD-PERP', 'ETH-USD-PERP'] as const;

/** Addresses whose storage differs between two MemoryState storage snapshots. */
function diffAddresses(before: Map<string, bigint>, after: Map<string, bigint>): bigint[] {
  const out = new Set<string>();
  for (const [k, v] of after) if (before.get(k) !== v) out.add(k.slice(0, k.indexOf(':')));
  for (const k of before.keys()) if (!after.has(k)) out.add(k.slice(0, k.indexOf(':')));
  return [...out].map((a) => BigInt('0x' + a));
}

type Action =
  | { kind: 'trade'; maker: number; taker: number; market: number; makerBuys: boolean; lots: number; ticksOff: number }
  | { kind: 'price'; market: number; bps: number }
  | { kind: 'both'; bpsBtc: number; bpsEth: number }
  | { kind: 'funding'; seconds: number; premiumBps: number }
  | { kind: 'withdraw'; who: number; amount: number }
  | { kind: 'transfer'; from: number; to: number; amount: number }
  | { kind: 'deposit'; who: number; amount: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('trade' as const),
      maker: fc.nat(7),
      taker: fc.nat(7),
      market: fc.nat(1),
      makerBuys: fc.boolean(),
      lots: fc.integer({ min: 1, max: 120 }),
      ticksOff: fc.integer({ min: -300, max: 300 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('price' as const), market: fc.nat(1), bps: fc.integer({ min: -1500, max: 1500 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('both' as const), bpsBtc: fc.integer({ min: -1500, max: 1500 }), bpsEth: fc.integer({ min: -1500, max: 1500 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('funding' as const), seconds: fc.integer({ min: 60, max: 28_800 }), premiumBps: fc.integer({ min: -300, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), who: fc.nat(7), amount: fc.integer({ min: 1, max: 9_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('transfer' as const), from: fc.nat(7), to: fc.nat(7), amount: fc.integer({ min: 1, max: 9_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deposit' as const), who: fc.nat(7), amount: fc.integer({ min: 1, max: 3_000 }) }) },
);

interface Counters {
  steps: number;
  liquidatable: number;
  proposals: number;
  crossLiquidatable: number;
  candidates: number;
  holders: number;
}

function runScenario(actions: Action[], c: Counters): void {
  const h = new Harness({ users: USERS8, vault: '3000', balances: ['4000', '4000', '8000', '2000', '3000', '6000', '1500', '5000'] });
  const ix = LiquidationIndex.build(h.st, h.cfg);
  let snap = new Map(h.st.storage);
  /** What the sequencer does after each block: re-index the addresses the block wrote. */
  const endBlock = () => {
    ix.update(h.st, diffAddresses(snap, h.st.storage));
    snap = new Map(h.st.storage);
  };
  const attempt = (tx: PerpTx): boolean => {
    try {
      h.exec(tx);
      return true;
    } catch (e) {
      if (!(e instanceof TxRevert)) throw e;
      return false;
    }
  };
  const compare = () => {
    const holders = new Set(MARKETS.flatMap((s) => holdersOf(h.st, h.cfg, h.market(s))));
    holders.delete(h.cfg.vaultAddress);
    expect(new Set(ix.accounts()), 'the index holds every position holder but the vault').to.deep.equal(holders);
    const cands = ix.candidates(h.st);
    const set = new Set(cands);
    for (const a of holders) {
      const r = accountRisk(h.st, h.cfg, a);
      if (!isLiquidatable(r)) continue;
      c.liquidatable++;
      if (r.positions.length > 1) c.crossLiquidatable++;
      expect(set.has(a), `liquidatable account 0x${a.toString(16)} (equity ${r.equity}, maintenance ${r.maintenance}) missed by the index`).to.equal(true);
    }
    const full = findLiquidations(h.st, h.cfg, { block: h.blockNumber });
    const viaIndex = findLiquidations(h.st, h.cfg, { block: h.blockNumber, accounts: cands });
    expect(viaIndex).to.deep.equal(full);
    c.candidates += cands.length;
    c.holders += holders.size;
    return full;
  };
  const liquidate = () => {
    for (let round = 0; round < 8; round++) {
      const props = compare();
      if (props.length === 0) break;
      c.proposals += props.length;
      let applied = 0;
      for (const p of props) if (attempt(p)) applied++;
      endBlock();
      if (applied === 0) break;
    }
  };
  const move = (symbol: string, bps: number): PerpTx => {
    const mark = markPrice(h.st, h.cfg, symbol);
    const next = mark + (mark * BigInt(bps)) / 10_000n;
    return h.oracleTx({ [symbol]: next > 0n ? next : 1n });
  };
  for (const a of actions) {
    c.steps++;
    switch (a.kind) {
      case 'trade': {
        if (a.maker === a.taker) break;
        const m = h.market(MARKETS[a.market]);
        const mark = markPrice(h.st, h.cfg, m.symbol);
        const price = ((mark + BigInt(a.ticksOff) * m.tickSize * 10n) / m.tickSize) * m.tickSize;
        if (price <= 0n) break;
        const size = BigInt(a.lots) * m.minSize * 10n;
        const maker = h.order(USERS8[a.maker]!, { market: m.symbol, side: a.makerBuys ? 'BUY' : 'SELL', size, price });
        const taker = h.order(USERS8[a.taker]!, { market: m.symbol, side: a.makerBuys ? 'SELL' : 'BUY', size, price, timeInForce: 'IOC' });
        attempt(h.trade(maker, taker, size, price));
        break;
      }
      case 'price':
        attempt(move(MARKETS[a.market], a.bps));
        break;
      case 'both': {
        const btc = markPrice(h.st, h.cfg, MARKETS[0]);
        const eth = markPrice(h.st, h.cfg, MARKETS[1]);
        attempt(h.oracleTx({ [MARKETS[0]]: btc + (btc * BigInt(a.bpsBtc)) / 10_000n, [MARKETS[1]]: eth + (eth * BigInt(a.bpsEth)) / 10_000n }));
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
        attempt({ type: 'FUNDING_SAMPLE', markets: Object.entries(impact).map(([market, i]) => ({ market, impactBid: i.bid ?? 0n, impactAsk: i.ask ?? 0n })) });
        if (f) attempt(f);
        break;
      }
      case 'withdraw':
        attempt(h.withdrawTx(USERS8[a.who]!, BigInt(a.amount) * USDC));
        break;
      case 'transfer':
        if (a.from !== a.to) attempt(h.transferTx(USERS8[a.from]!, USERS8[a.to]!.address, BigInt(a.amount) * USDC));
        break;
      case 'deposit':
        attempt(h.depositTx(USERS8[a.who]!, BigInt(a.amount) * USDC));
        break;
    }
    endBlock();
    liquidate();
  }
}

describe('liquidation index', () => {
  it('proposes exactly what a full scan proposes, and never misses a liquidatable account (random prices, funding, trades, cross margin)', function () {
    this.timeout(240_000);
    const c: Counters = { steps: 0, liquidatable: 0, proposals: 0, crossLiquidatable: 0, candidates: 0, holders: 0 };
    fc.assert(
      fc.property(fc.array(action, { minLength: 20, maxLength: 45, size: 'max' }), (actions) => runScenario(actions, c)),
      { numRuns: 15 },
    );
    // The generator must reach the cases that matter, or the comparison says little.
    expect(c.liquidatable, 'liquidatable accounts seen').to.be.greaterThan(20);
    expect(c.crossLiquidatable, 'liquidatable cross-margin accounts seen').to.be.greaterThan(0);
    expect(c.proposals).to.be.greaterThan(10);
    // And it must be selective: far fewer candidates than holders scanned by the full scan.
    expect(c.candidates * 3).to.be.lessThan(c.holders);
    if (process.env.LIQ_INDEX_STATS) console.log(c);
  });

  it('a small price move among many healthy holders checks nobody; a large one checks only those it sinks', () => {
    const h = new Harness({ users: USERS8, vault: '3000', balances: ['4000', '4000', '4000', '4000', '4000', '4000', '4000', '4000'] });
    const ix = LiquidationIndex.build(h.st, h.cfg);
    // Four longs at increasing leverage against four shorts with plenty of margin.
    const sizes = [2n, 4n, 5n, 6n].map((x) => (x * E8) / 10n); // 0.2 .. 0.6 BTC at 65,000
    sizes.forEach((s, i) => h.open(USERS8[i]!, USERS8[i + 4]!, s, 65_000n * E8));
    ix.update(h.st, USERS8.map((u) => u.address));
    expect(ix.accounts().length).to.equal(8);
    h.setPrice({ 'BTC-USD-PERP': 64_500n * E8 });
    expect(ix.candidates(h.st)).to.deep.equal([]);
    // 0.6 BTC long with 4,000 USDC (less the taker fee): liquidatable below about 61,440; 0.5 BTC below about 60,030.
    h.setPrice({ 'BTC-USD-PERP': 60_500n * E8 });
    expect(ix.candidates(h.st)).to.deep.equal([USERS8[3]!.address]);
    expect(findLiquidations(h.st, h.cfg, { block: h.blockNumber }).map((p) => p.account)).to.deep.equal([USERS8[3]!.address]);
  });

  it('keeps its entries ordered through inserts and deletes across chunk splits', () => {
    const s = new SortedEntries();
    const ref: { key: bigint; addr: bigint }[] = [];
    let x = 12345n;
    const rnd = () => (x = (x * 1103515245n + 12345n) % 2147483648n);
    for (let i = 0; i < 5000; i++) {
      const e = { key: (rnd() % 2000n) - 1000n, addr: rnd() };
      s.insert(e);
      ref.push(e);
      if (i % 3 === 0) {
        const j = Number(rnd() % BigInt(ref.length));
        expect(s.delete(ref[j]!)).to.equal(true);
        ref.splice(j, 1);
      }
    }
    expect(s.delete({ key: 5000n, addr: 1n })).to.equal(false);
    ref.sort((a, b) => (a.key !== b.key ? (a.key < b.key ? -1 : 1) : a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    expect([...s.all()]).to.deep.equal(ref);
    expect(s.size).to.equal(ref.length);
    expect([...s.below(0n)]).to.deep.equal(ref.filter((e) => e.key < 0n));
  });
});
