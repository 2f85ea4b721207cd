/**
 * Human names for the exchange's storage keys, so integrity errors say "funding index of
 * BTC-USD-PERP" rather than a 251-bit number; and the keys checked one by one at every start.
 */
import type { ExchangeConfig } from '../../contracts-ts/config.ts';
import { EX, MKT, marketBase } from '../../contracts-ts/layout.ts';

const hex = (x: bigint) => '0x' + x.toString(16);

export function nameStorageKey(cfg: ExchangeConfig, address: bigint, key: bigint): string {
  if (address === cfg.exchangeAddress) {
    for (const m of cfg.markets) {
      const off = key - marketBase(m.id);
      if (off >= 0n && off < 64n) {
        const name = Object.entries(MKT).find(([, v]) => v === off)?.[0];
        if (name) return `${name.replace(/[A-Z]/g, (c) => ' ' + c.toLowerCase())} of ${m.symbol} (exchange storage ${hex(key)})`;
      }
    }
    const ex = Object.entries(EX).find(([, v]) => v === key)?.[0];
    if (ex) return `exchange ${ex.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())} (storage ${hex(key)})`;
    return `exchange storage key ${hex(key)}`;
  }
  if (address === cfg.vaultAddress) return `liquidator vault storage key ${hex(key)}`;
  return `contract ${hex(address)} storage key ${hex(key)}`;
}

/** Per market: the funding index and its time, the values the incident corrupted. */
export function criticalKeys(cfg: ExchangeConfig): { address: bigint; key: bigint; name: string }[] {
  const out: { address: bigint; key: bigint; name: string }[] = [];
  for (const m of cfg.markets)
    for (const off of [MKT.fundingIndex, MKT.fundingTime, MKT.prevFundingIndex, MKT.oraclePrice]) {
      const key = marketBase(m.id) + off;
      out.push({ address: cfg.exchangeAddress, key, name: nameStorageKey(cfg, cfg.exchangeAddress, key) });
    }
  return out;
}
