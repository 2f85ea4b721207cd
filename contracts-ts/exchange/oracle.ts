/**
 * ORACLE_UPDATE: prices signed by one oracle key from genesis (SNIP-12 OracleUpdate, typed-data
 * account = the oracle key). The contract keeps each oracle's latest report per market; the
 * market's mark price is the median of the fresh reports (docs/exchange.md, "Oracle"):
 *
 *  - the signed timestamp is at most oracle_max_future_skew_seconds ahead of the block and at
 *    most oracle_max_age_seconds behind it (ORACLE_TIMESTAMP / ORACLE_STALE), and strictly
 *    after the same oracle's previous report for that market (ORACLE_TIMESTAMP);
 *  - a report may differ from the current mark by at most oracle_max_jump (ORACLE_JUMP);
 *  - at most one update per market per block, whoever signs it (ORACLE_TOO_FREQUENT);
 *  - fresh = timestamp >= block time - oracle_max_age_seconds (every report when 0). With at
 *    least oracle_quorum fresh reports the mark becomes their lower median (sorted ascending,
 *    element (k-1)/2: always a signed price, no rounding) and the mark's timestamp the
 *    quorum-th newest fresh timestamp; with fewer the report is stored and the mark stays.
 *
 * One lying oracle of three (quorum 2) cannot move the mark: the median ignores it.
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { checkSig } from '../account/account.ts';
import { EX, MKT, oracleReportKey } from '../layout.ts';
import { abs, FRACTION_SCALE } from '../math.ts';
import { oracleUpdateHash } from '../typed-data.ts';
import type { OracleUpdateTx } from '../tx.ts';
import { revert } from './errors.ts';
import { event } from './events.ts';
import { accrue } from './funding.ts';
import { exGet, exSet, mGet, mSet } from './ledger.ts';

export function execOracleUpdate(tx: OracleUpdateTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const now = ctx.block.timestamp;
  if (!cfg.oracles.some((k) => k.publicKey === tx.signer)) revert('ORACLE_UNKNOWN_SIGNER', `0x${tx.signer.toString(16)}`);
  if (tx.prices.length === 0) revert('INVALID_PRICE', 'no prices');
  if (tx.prices.length > cfg.limits.maxOraclePrices) revert('TOO_MANY', `at most ${cfg.limits.maxOraclePrices} prices`);
  checkSig(ctx, oracleUpdateHash(tx, tx.signer, ctx.block.chainId), tx.signer, tx.signature, 'OracleUpdate');
  if (tx.timestamp > now + cfg.oracleMaxFutureSkew) revert('ORACLE_TIMESTAMP', `timestamp ${tx.timestamp} is ahead of the block (${now})`);
  if (cfg.oracleMaxAge > 0n && tx.timestamp + cfg.oracleMaxAge < now) revert('ORACLE_STALE', `timestamp ${tx.timestamp} is more than ${cfg.oracleMaxAge}s before the block (${now})`);
  const seen = new Set<string>();
  const events: ContractEvent[] = [];
  for (const p of tx.prices) {
    const m = cfg.marketBySymbol.get(p.market);
    if (!m) revert('UNKNOWN_MARKET', p.market);
    if (seen.has(p.market)) revert('INVALID_PRICE', `${p.market} listed twice`);
    seen.add(p.market);
    applyReport(st, cfg, ctx, m, tx.signer, p.price, tx.timestamp);
    events.push(event(cfg.exchangeAddress, 'OraclePrice', [m.id], [p.price, tx.timestamp]));
  }
  // Outage detection for the withdrawal gate: a long gap between two oracle updates.
  const last = exGet(st, cfg, EX.oracleLastUpdate);
  if (last !== 0n && now - last >= cfg.chainOutageSeconds) exSet(st, cfg, EX.outageBlock, ctx.block.blockNumber);
  if (now > last) exSet(st, cfg, EX.oracleLastUpdate, now);
  return events;
}

function applyReport(st: StateAccess, cfg: ExchangeConfig, ctx: ExecContext, m: MarketConfig, signer: bigint, price: bigint, ts: bigint): void {
  if (price <= 0n) revert('INVALID_PRICE', `${m.symbol} price must be positive`);
  const block = ctx.block.blockNumber;
  if (mGet(st, cfg, m, MKT.oracleBlock) === block) revert('ORACLE_TOO_FREQUENT', `${m.symbol} already has a price update in block ${block}`);
  const key = oracleReportKey(m.id, signer);
  const lastTs = st.getStorage(cfg.exchangeAddress, key + 1n);
  if (ts <= lastTs) revert('ORACLE_TIMESTAMP', `${m.symbol}: timestamp ${ts} is not after this oracle's last ${lastTs}`);
  const mark = mGet(st, cfg, m, MKT.oraclePrice);
  if (abs(price - mark) * FRACTION_SCALE > mark * m.oracleMaxJump) revert('ORACLE_JUMP', `${m.symbol}: ${mark} -> ${price} exceeds ${m.oracleMaxJump}/1e9`);
  st.setStorage(cfg.exchangeAddress, key, price);
  st.setStorage(cfg.exchangeAddress, key + 1n, ts);
  mSet(st, cfg, m, MKT.oracleBlock, block);
  const next = quorumMark(st, cfg, m, ctx.block.timestamp);
  if (!next) return;
  if (next.price === mark && next.timestamp === mGet(st, cfg, m, MKT.oracleTimestamp)) return;
  accrue(st, cfg, m, ctx.block.timestamp); // the premium so far was against the old mark
  mSet(st, cfg, m, MKT.oraclePrice, next.price);
  mSet(st, cfg, m, MKT.oracleTimestamp, next.timestamp);
}

/** Every oracle's latest report for a market (genesis key order; timestamp 0 = none yet). */
export function oracleReports(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig): { oracle: bigint; price: bigint; timestamp: bigint }[] {
  return cfg.oracles.map((k) => {
    const key = oracleReportKey(m.id, k.publicKey);
    return { oracle: k.publicKey, price: st.getStorage(cfg.exchangeAddress, key), timestamp: st.getStorage(cfg.exchangeAddress, key + 1n) };
  });
}

/** The mark the fresh reports give at `now` (lower median, quorum-th newest timestamp), or null below quorum. */
export function quorumMark(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, now: bigint): { price: bigint; timestamp: bigint } | null {
  const fresh = oracleReports(st, cfg, m).filter((r) => r.timestamp > 0n && (cfg.oracleMaxAge === 0n || r.timestamp + cfg.oracleMaxAge >= now));
  if (fresh.length < cfg.oracleQuorum) return null;
  const prices = fresh.map((r) => r.price).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const times = fresh.map((r) => r.timestamp).sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  return { price: prices[Math.floor((prices.length - 1) / 2)]!, timestamp: times[cfg.oracleQuorum - 1]! };
}

/** Seconds since the market's last oracle price, at the block's time. */
export function oracleAge(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, now: bigint): bigint {
  return now - mGet(st, cfg, m, MKT.oracleTimestamp);
}
