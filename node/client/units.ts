/** Decimal <-> chain units, exactly (no floats): "0.01" BTC -> 1_000_000n (1e-8 units). */
import { formatDecimal, parseDecimal } from '../../contracts-ts/math.ts';

export const SIZE_DECIMALS = 8;
export const PRICE_DECIMALS = 8;
export const USDC_DECIMALS = 6;

function parse(v: string | number | bigint, decimals: number, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`${what} must be finite`);
    v = String(v);
    if (/e/i.test(v)) throw new Error(`${what}: pass a decimal string for very large or small numbers`);
  }
  return parseDecimal(v.trim(), decimals, what);
}

/** Base-asset size ("0.01") -> 1e-8 units. A bigint is taken as already in chain units. */
export const parseSize = (v: string | number | bigint) => parse(v, SIZE_DECIMALS, 'size');
/** USD price ("65000.5") -> 1e-8 units. */
export const parsePrice = (v: string | number | bigint) => parse(v, PRICE_DECIMALS, 'price');
/** USDC amount ("100.25") -> 1e-6 units. */
export const parseUsdc = (v: string | number | bigint) => parse(v, USDC_DECIMALS, 'amount');

/** Chain units -> decimal string ("1000000", 8 -> "0.01"). Accepts the RPC's decimal strings. */
export function formatUnits(x: bigint | string, decimals: number): string {
  return formatDecimal(typeof x === 'string' ? BigInt(x) : x, decimals);
}
