/**
 * Which accounts the liquidation scan must check: an ordered index of every position holder's
 * distance to its liquidation line, so that a price move or a funding update checks only the
 * accounts it can have made liquidatable, whatever the number of holders.
 *
 * The contracts re-check every proposal, so the index may propose too much (a candidate that
 * turns out healthy costs one risk computation) but it must never miss an account below
 * maintenance. How that is guaranteed (units: 1e-19 USDC base units, "scaled"):
 *
 * An account's risk (contracts-ts/exchange/risk.ts) at marks p_m and funding indices F_m is
 *   equity - maintenance = C + sum_m [floor(s p / 1e10) - cost - ceil(s (F - snap) / 1e19) - ceil(|s| p MMF / 1e19)]
 * Each of the three roundings loses less than one base unit, so with n markets held
 *   (equity - maintenance) x 1e19  >  H(p, F) = C e19 - 3 n e19 + sum_m [-cost e19 + s snap + |s| g_m(p_m, F_m)]
 *   g_m = p (1e9 - MMF) - F   for a long,      g_m = F - p (1e9 + MMF)   for a short,
 * and liquidatable (equity < maintenance) implies H < 0. H is linear in the market state. At
 * indexing time (marks p0, indices F0) H0 = H(p0, F0) is split over the markets held, in
 * proportion to their notional: H0 = sum_m b_m. Component m is
 *   V_m(p, F) = K_m + |s_m| g_m(p_m, F_m),     K_m = b_m - |s_m| g_m(p0_m, F0_m)
 * and H = sum_m V_m at every (p, F), so H < 0 implies V_m < 0 for some m, i.e.
 *   key_m = floor(K_m / |s_m|)  <  T_m = -g_m(p_m, F_m)
 * K_m does not depend on prices: each (market, side) keeps its holders ordered by key, and a
 * block's candidates are the prefixes below the current thresholds T (two per market). For an
 * account in one market K is exactly its own buffer (C e19 - 3e19 - cost e19 + s snap), so only
 * accounts within the rounding slack of the line are candidates while healthy. A cross-margin
 * candidate that turns out healthy is re-split at the current prices, which takes it out of the
 * candidates (every b_m >= 0 when H0 >= 0).
 *
 * Maintenance: `update` re-indexes the accounts a block wrote (the state diff's addresses); an
 * account's key changes only with its own storage (collateral, positions), never with prices or
 * funding. Cost: O(log n) per touched account, O(candidates) per scan.
 */
import type { StateAccess } from '../../contracts-ts/state.ts';
import type { ExchangeConfig, MarketConfig } from '../../contracts-ts/config.ts';
import { holderIndexKey } from '../../contracts-ts/layout.ts';
import { abs, floorDiv, FRACTION_SCALE, FUNDING_DIVISOR } from '../../contracts-ts/math.ts';
import { collateralOf, fundingIndexOf, holdersOf, markPriceOf, positionOf } from '../../contracts-ts/exchange/ledger.ts';

const SLACK_PER_MARKET = 3n * FUNDING_DIVISOR;

interface Entry {
  key: bigint;
  addr: bigint;
}

function cmp(a: Entry, b: Entry): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0;
}

/** Entries ordered by (key, addr) in chunks of at most 2 x CHUNK (insert and delete O(log n + CHUNK)). */
export class SortedEntries {
  private chunks: Entry[][] = [];
  private n = 0;
  static readonly CHUNK = 512;

  get size(): number {
    return this.n;
  }

  /** Index of the first chunk whose last entry is >= e (chunks.length when none). */
  private chunkFor(e: Entry): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = this.chunks[mid]!;
      if (cmp(c[c.length - 1]!, e) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private static lowerBound(c: Entry[], e: Entry): number {
    let lo = 0;
    let hi = c.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp(c[mid]!, e) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(e: Entry): void {
    if (this.chunks.length === 0) {
      this.chunks.push([e]);
      this.n = 1;
      return;
    }
    let ci = this.chunkFor(e);
    if (ci === this.chunks.length) ci--;
    const c = this.chunks[ci]!;
    c.splice(SortedEntries.lowerBound(c, e), 0, e);
    this.n++;
    if (c.length > 2 * SortedEntries.CHUNK) this.chunks.splice(ci + 1, 0, c.splice(SortedEntries.CHUNK));
  }

  delete(e: Entry): boolean {
    const ci = this.chunkFor(e);
    const c = this.chunks[ci];
    if (!c) return false;
    const i = SortedEntries.lowerBound(c, e);
    if (i >= c.length || cmp(c[i]!, e) !== 0) return false;
    c.splice(i, 1);
    this.n--;
    if (c.length === 0) this.chunks.splice(ci, 1);
    return true;
  }

  /** Entries with key < bound, in order. */
  *below(bound: bigint): Generator<Entry> {
    for (const c of this.chunks) {
      for (const e of c) {
        if (e.key >= bound) return;
        yield e;
      }
    }
  }

  *all(): Generator<Entry> {
    for (const c of this.chunks) yield* c;
  }
}

interface Book {
  market: MarketConfig;
  /** Genesis order of the market (the full scan's order). */
  rank: number;
  long: SortedEntries;
  short: SortedEntries;
}

interface AccountEntry {
  book: Book;
  side: 'long' | 'short';
  entry: Entry;
}

/** g_m(p, F) of a side (see the file comment), scaled units per unit of size. */
function sideValue(m: MarketConfig, long: boolean, mark: bigint, index: bigint): bigint {
  return long ? mark * (FRACTION_SCALE - m.maintenanceMarginFraction) - index : index - mark * (FRACTION_SCALE + m.maintenanceMarginFraction);
}

export interface IndexStats {
  /** Index entries (one per account and market held). */
  entries: number;
  accounts: number;
  /** Accounts re-indexed, candidate entries visited and candidates returned since creation. */
  updates: number;
  visited: number;
  candidates: number;
}

export class LiquidationIndex {
  private readonly books: Book[];
  private readonly byAccount = new Map<bigint, AccountEntry[]>();
  readonly stats: IndexStats = { entries: 0, accounts: 0, updates: 0, visited: 0, candidates: 0 };

  constructor(readonly cfg: ExchangeConfig) {
    this.books = cfg.markets.map((market, rank) => ({ market, rank, long: new SortedEntries(), short: new SortedEntries() }));
  }

  /** An index of every position holder in `st` (one pass over the holder lists). */
  static build(st: StateAccess, cfg: ExchangeConfig): LiquidationIndex {
    const ix = new LiquidationIndex(cfg);
    const seen = new Set<bigint>();
    for (const m of cfg.markets)
      for (const a of holdersOf(st, cfg, m)) {
        if (seen.has(a)) continue;
        seen.add(a);
        ix.reindex(st, a);
      }
    return ix;
  }

  /** Re-indexes accounts whose storage changed (a block's state-diff addresses); others are skipped cheaply. */
  update(st: StateAccess, addresses: Iterable<bigint>): void {
    for (const a of addresses) this.reindex(st, a);
  }

  /** Recomputes one account's entries from `st` (removes it when it holds no position). */
  reindex(st: StateAccess, addr: bigint): void {
    const cfg = this.cfg;
    this.remove(addr);
    if (addr === cfg.exchangeAddress || addr === cfg.vaultAddress) return;
    this.stats.updates++;
    const held: { book: Book; long: boolean; abs: bigint; g0: bigint; weight: bigint }[] = [];
    let h = 0n;
    for (const book of this.books) {
      const m = book.market;
      const pos = positionOf(st, addr, m);
      if (pos.size === 0n) continue;
      const mark = markPriceOf(st, cfg, m);
      const long = pos.size > 0n;
      const a = abs(pos.size);
      const g0 = sideValue(m, long, mark, fundingIndexOf(st, cfg, m));
      h += -pos.cost * FUNDING_DIVISOR + pos.size * pos.fundingSnapshot + a * g0 - SLACK_PER_MARKET;
      held.push({ book, long, abs: a, g0, weight: a * (mark > 0n ? mark : 1n) });
    }
    if (held.length === 0) return;
    h += collateralOf(st, addr) * FUNDING_DIVISOR;
    let total = 0n;
    for (const x of held) total += x.weight;
    let rest = h;
    const entries: AccountEntry[] = [];
    held.forEach((x, i) => {
      const b = i === held.length - 1 ? rest : floorDiv(h * x.weight, total);
      rest -= b;
      const entry = { key: floorDiv(b - x.abs * x.g0, x.abs), addr };
      const side = x.long ? 'long' : 'short';
      x.book[side].insert(entry);
      entries.push({ book: x.book, side, entry });
    });
    this.byAccount.set(addr, entries);
    this.stats.entries += entries.length;
    this.stats.accounts++;
  }

  private remove(addr: bigint): void {
    const old = this.byAccount.get(addr);
    if (!old) return;
    for (const e of old) e.book[e.side].delete(e.entry);
    this.byAccount.delete(addr);
    this.stats.entries -= old.length;
    this.stats.accounts--;
  }

  /** Accounts whose index entry is below the current line of its market and side (no re-check). */
  private below(st: StateAccess): Set<bigint> {
    const out = new Set<bigint>();
    for (const b of this.books) {
      const m = b.market;
      const mark = markPriceOf(st, this.cfg, m);
      const index = fundingIndexOf(st, this.cfg, m);
      for (const e of b.long.below(-sideValue(m, true, mark, index))) {
        this.stats.visited++;
        out.add(e.addr);
      }
      for (const e of b.short.below(-sideValue(m, false, mark, index))) {
        this.stats.visited++;
        out.add(e.addr);
      }
    }
    return out;
  }

  /**
   * The accounts the liquidation scan must check in `st`: a superset of every account below
   * maintenance, in the order of the full scan (markets in genesis order, holders in list order),
   * so `findLiquidations(st, cfg, { accounts })` proposes exactly what a scan of every holder
   * would. Candidates are re-indexed at the current prices first (drops healthy cross-margin
   * accounts that only a stale split made candidates).
   */
  candidates(st: StateAccess): bigint[] {
    const first = this.below(st);
    for (const a of first) this.reindex(st, a);
    const again = this.below(st);
    const ordered: { rank: number; pos: bigint; addr: bigint }[] = [];
    for (const a of again) {
      let rank = Infinity;
      let market: MarketConfig | undefined;
      for (const e of this.byAccount.get(a) ?? [])
        if (e.book.rank < rank) {
          rank = e.book.rank;
          market = e.book.market;
        }
      if (!market) continue;
      ordered.push({ rank, pos: st.getStorage(this.cfg.exchangeAddress, holderIndexKey(market.id, a)), addr: a });
    }
    ordered.sort((x, y) => (x.rank !== y.rank ? x.rank - y.rank : x.pos < y.pos ? -1 : x.pos > y.pos ? 1 : 0));
    this.stats.candidates += ordered.length;
    return ordered.map((x) => x.addr);
  }

  /** Every indexed account (tests: compare with the holder lists). */
  accounts(): bigint[] {
    return [...this.byAccount.keys()];
  }
}
