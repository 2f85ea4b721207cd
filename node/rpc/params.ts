/** Parameter parsing for RPC handlers: every failure is -32602 naming the parameter. */
import { parseFelt } from '../crypto/index.ts';
import { E } from './errors.ts';

export type BlockId = { tag: 'latest' | 'pre_confirmed' | 'l1_accepted' } | { number: bigint } | { hash: bigint };

export function felt(v: unknown, name: string): bigint {
  try {
    return parseFelt(v, name);
  } catch (e) {
    throw E.invalidParams(`${name}: ${(e as Error).message}`);
  }
}

export function blockId(v: unknown, name = 'block_id'): BlockId {
  if (v === 'latest' || v === 'pre_confirmed' || v === 'l1_accepted') return { tag: v };
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === 'block_number') {
      if (typeof o.block_number !== 'number' || !Number.isSafeInteger(o.block_number) || o.block_number < 0) throw E.invalidParams(`${name}.block_number must be a non-negative integer`);
      return { number: BigInt(o.block_number) };
    }
    if (keys.length === 1 && keys[0] === 'block_hash') return { hash: felt(o.block_hash, `${name}.block_hash`) };
  }
  throw E.invalidParams(`${name} must be "latest", "pre_confirmed", "l1_accepted", {"block_number": n} or {"block_hash": "0x.."}`);
}

export function int(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw E.invalidParams(`${name} must be an integer in [${min}, ${max}]`);
  return v;
}

export function str(v: unknown, name: string, maxLen = 64): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLen) throw E.invalidParams(`${name} must be a non-empty string of at most ${maxLen} characters`);
  return v;
}

export function obj(v: unknown, name: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw E.invalidParams(`${name} must be an object`);
  return v as Record<string, unknown>;
}
