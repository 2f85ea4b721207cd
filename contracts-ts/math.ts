/**
 * Fixed-point units and integer helpers for the exchange. Everything is bigint; every division
 * names its rounding direction (floorDiv, ceilDiv) so a reader can check who a remainder favours.
 *
 * Units (see docs/exchange.md, "Units and rounding"):
 * - size:        1e-8 of the base asset (SIZE_SCALE)
 * - price:       1e-8 USD per whole base asset (PRICE_SCALE)
 * - collateral:  USDC base units, 1e-6 USDC (COLLATERAL_SCALE)
 * - fractions:   1e-9 (FRACTION_SCALE): margin fractions, fees, penalties, funding rates
 * - funding index: price x fraction units, so a position of size s owes s * dIndex / FUNDING_DIVISOR
 */
import { P } from './crypto.ts';

export const SIZE_SCALE = 10n ** 8n;
export const PRICE_SCALE = 10n ** 8n;
export const COLLATERAL_SCALE = 10n ** 6n;
export const FRACTION_SCALE = 10n ** 9n;
/** size x price / NOTIONAL_DIVISOR = USDC base units. */
export const NOTIONAL_DIVISOR = (SIZE_SCALE * PRICE_SCALE) / COLLATERAL_SCALE; // 1e10
/** size x fundingIndex / FUNDING_DIVISOR = USDC base units. */
export const FUNDING_DIVISOR = NOTIONAL_DIVISOR * FRACTION_SCALE; // 1e19
export const BPS = 10_000n;
/** Largest value of a u128 typed-data field. */
export const U128_MAX = (1n << 128n) - 1n;
/** Starknet storage addresses and contract addresses live below 2^251 - 256. */
export const ADDR_BOUND = 2n ** 251n - 256n;
const HALF_P = P / 2n;

/** Division rounding toward negative infinity (d > 0). */
export function floorDiv(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('floorDiv: divisor must be positive');
  const q = n / d;
  return n % d !== 0n && n < 0n ? q - 1n : q;
}

/** Division rounding toward positive infinity (d > 0). */
export function ceilDiv(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('ceilDiv: divisor must be positive');
  const q = n / d;
  return n % d !== 0n && n > 0n ? q + 1n : q;
}

export function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}
export function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
export function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
export function sign(x: bigint): -1n | 0n | 1n {
  return x > 0n ? 1n : x < 0n ? -1n : 0n;
}

/**
 * Signed integers in storage use Cairo's felt252 convention: x >= 0 is x, x < 0 is p + x.
 * Values are bounded far below p/2 by construction (sizes, prices and amounts are u128-bound).
 */
export function toFelt(x: bigint): bigint {
  if (x >= HALF_P || x <= -HALF_P) throw new RangeError('signed value out of felt range');
  return x < 0n ? P + x : x;
}
export function fromFelt(f: bigint): bigint {
  return f > HALF_P ? f - P : f;
}

/**
 * Parses a non-negative decimal string ("65000", "0.0001") into an integer of `decimals`
 * fractional digits, exactly; more fractional digits than that is an error, not a rounding.
 * With allowNegative, a leading "-" is accepted.
 */
export function parseDecimal(s: unknown, decimals: number, what: string, allowNegative = false): bigint {
  if (typeof s !== 'string') throw new Error(`${what} must be a decimal string, e.g. "0.05"`);
  const m = /^(-)?([0-9]{1,30})(?:\.([0-9]{1,30}))?$/.exec(s);
  if (!m) throw new Error(`${what} must be a decimal string, e.g. "0.05" (got ${JSON.stringify(s)})`);
  if (m[1] && !allowNegative) throw new Error(`${what} must not be negative`);
  const frac = m[3] ?? '';
  if (frac.length > decimals) throw new Error(`${what} has more than ${decimals} decimal places: ${s}`);
  const v = BigInt(m[2]! + frac.padEnd(decimals, '0'));
  return m[1] ? -v : v;
}

/** Formats an integer with `decimals` fractional digits as a decimal string (views, docs). */
export function formatDecimal(x: bigint, decimals: number): string {
  const neg = x < 0n;
  const a = neg ? -x : x;
  const scale = 10n ** BigInt(decimals);
  const int = a / scale;
  const frac = (a % scale).toString().padStart(decimals, '0').replace(/0+$/, '');
  return (neg ? '-' : '') + int.toString() + (frac ? '.' + frac : '');
}
