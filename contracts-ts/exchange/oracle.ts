/**
 * ORACLE_UPDATE: prices signed by an oracle key from genesis (SNIP-12 OracleUpdate, typed-data
 * account = the oracle key). Per market: timestamps strictly increase and are at most
 * oracle_max_future_skew ahead of the block; a price may move at most oracle_max_jump (a
 * fraction of the previous price) per update. The accepted price is the market's mark price.
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig, MarketConfig } from '../config.ts';
import { checkSig } from '../account/account.ts';
import { MKT } from '../layout.ts';
import { abs, FRACTION_SCALE } from '../math.ts';
import { oracleUpdateHash } from '../typed-data.ts';
import type { OracleUpdateTx } from '../tx.ts';
import { revert } from './errors.ts';
import { event } from './events.ts';
import { mGet, mSet } from './ledger.ts';

export function execOracleUpdate(tx: OracleUpdateTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  if (!cfg.oracles.some((k) => k.publicKey === tx.signer)) revert('ORACLE_UNKNOWN_SIGNER', `0x${tx.signer.toString(16)}`);
  if (tx.prices.length === 0) revert('INVALID_PRICE', 'no prices');
  if (tx.prices.length > cfg.limits.maxOraclePrices) revert('TOO_MANY', `at most ${cfg.limits.maxOraclePrices} prices`);
  checkSig(ctx, oracleUpdateHash(tx, tx.signer, ctx.block.chainId), tx.signer, tx.signature, 'OracleUpdate');
  if (tx.timestamp > ctx.block.timestamp + cfg.oracleMaxFutureSkew) revert('ORACLE_TIMESTAMP', `timestamp ${tx.timestamp} is ahead of the block (${ctx.block.timestamp})`);
  const seen = new Set<string>();
  const events: ContractEvent[] = [];
  for (const p of tx.prices) {
    const m = cfg.marketBySymbol.get(p.market);
    if (!m) revert('UNKNOWN_MARKET', p.market);
    if (seen.has(p.market)) revert('INVALID_PRICE', `${p.market} listed twice`);
    seen.add(p.market);
    applyPrice(st, cfg, m, p.price, tx.timestamp);
    events.push(event(cfg.exchangeAddress, 'OraclePrice', [m.id], [p.price, tx.timestamp]));
  }
  return events;
}

function applyPrice(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, price: bigint, ts: bigint): void {
  if (price <= 0n) revert('INVALID_PRICE', `${m.symbol} price must be positive`);
  const lastTs = mGet(st, cfg, m, MKT.oracleTimestamp);
  if (ts <= lastTs) revert('ORACLE_TIMESTAMP', `${m.symbol}: timestamp ${ts} is not after ${lastTs}`);
  const old = mGet(st, cfg, m, MKT.oraclePrice);
  if (abs(price - old) * FRACTION_SCALE > old * m.oracleMaxJump) revert('ORACLE_JUMP', `${m.symbol}: ${old} -> ${price} exceeds ${m.oracleMaxJump}/1e9`);
  mSet(st, cfg, m, MKT.oraclePrice, price);
  mSet(st, cfg, m, MKT.oracleTimestamp, ts);
}

/** Seconds since the market's last oracle price, at the block's time. */
export function oracleAge(st: StateAccess, cfg: ExchangeConfig, m: MarketConfig, now: bigint): bigint {
  return now - mGet(st, cfg, m, MKT.oracleTimestamp);
}
