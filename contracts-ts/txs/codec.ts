/**
 * The strict JSON codec of transaction fields (untrusted network input: exact keys, exact
 * types, 0x-hex bigints, bounded arrays) and each field kind's felt encoding. A transaction
 * type declares its fields once as a schema of these codecs (txs/define.ts); its parser, its
 * JSON form and its calldata are derived from that schema, in the schema's field order.
 */
import { encodeShortString, P, toHex } from '../crypto.ts';
import { ORDER_TYPES, SIDES, TIME_IN_FORCE, type Order, type SignedOrder } from '../exchange/order.ts';
import { toFelt, U128_MAX } from '../math.ts';
import { orderValues, shortStringFelt } from '../typed-data.ts';

export type Sig = [bigint, bigint];
export type Obj = Record<string, unknown>;

export class TxParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TxParseError';
  }
}

/** Hard caps of the codec (the genesis limits may be lower and are enforced at execution). */
export const CODEC_LIMITS = { orderHashes: 100_000, prices: 1000, fundingMarkets: 1000, systemCancel: 1_000_000 } as const;

const HEX = /^0x[0-9a-fA-F]{1,64}$/;
const SIGNED_HEX = /^-?0x[0-9a-fA-F]{1,64}$/;
const SYMBOL = /^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$/;

export function fail(msg: string): never {
  throw new TxParseError(msg);
}

export function object(v: unknown, what: string): Obj {
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail(`${what} must be an object`);
  return v as Obj;
}

export function exactKeys(o: Obj, keys: readonly string[], what: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${what}: unknown field "${k}"`);
  for (const k of keys) if (o[k] === undefined) fail(`${what}: missing field "${k}"`);
}

export function hexFelt(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !HEX.test(v)) fail(`${what} must be a 0x-prefixed hex string`);
  const x = BigInt(v);
  if (x >= P) fail(`${what} is not a field element`);
  return x;
}

function hexU128(v: unknown, what: string): bigint {
  const x = hexFelt(v, what);
  if (x > U128_MAX) fail(`${what} is out of u128 range`);
  return x;
}

function hexSigned(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !SIGNED_HEX.test(v)) fail(`${what} must be a (possibly negative) 0x-prefixed hex string`);
  const x = v.startsWith('-') ? -BigInt(v.slice(1)) : BigInt(v);
  if (x > U128_MAX * U128_MAX || x < -(U128_MAX * U128_MAX)) fail(`${what} is out of range`);
  return x;
}

function shortString(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > 31 || !/^[\x20-\x7e]*$/.test(v)) fail(`${what} must be an ASCII string of at most 31 characters`);
  return v;
}

function marketSymbol(v: unknown, what: string, allowAll = false): string {
  if (typeof v !== 'string' || v.length > 31 || !SYMBOL.test(v)) fail(`${what} must be a market symbol like BTC-USD-PERP`);
  if (v === 'ALL' && !allowAll) fail(`${what} must be a market symbol`);
  return v;
}

function signature(v: unknown, what: string): Sig {
  if (!Array.isArray(v) || v.length !== 2) fail(`${what} must be [r, s]`);
  return [hexFelt(v[0], `${what}[0]`), hexFelt(v[1], `${what}[1]`)];
}

function oneOfValue<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) fail(`${what} must be one of ${allowed.join(', ')}`);
  return v as T;
}
export { oneOfValue as oneOf };

const ORDER_FIELDS = ['account', 'market', 'side', 'orderType', 'timeInForce', 'size', 'price', 'triggerPrice', 'reduceOnly', 'expiry', 'salt'] as const;

/** An order in transaction JSON (0x-hex numbers). */
function orderFromJson(v: unknown, what: string): Order {
  const o = object(v, what);
  exactKeys(o, ORDER_FIELDS, what);
  if (typeof o.reduceOnly !== 'boolean') fail(`${what}.reduceOnly must be a boolean`);
  return {
    account: hexFelt(o.account, `${what}.account`),
    market: marketSymbol(o.market, `${what}.market`),
    side: oneOfValue(o.side, SIDES, `${what}.side`),
    orderType: oneOfValue(o.orderType, ORDER_TYPES, `${what}.orderType`),
    timeInForce: oneOfValue(o.timeInForce, TIME_IN_FORCE, `${what}.timeInForce`),
    size: hexU128(o.size, `${what}.size`),
    price: hexU128(o.price, `${what}.price`),
    triggerPrice: hexU128(o.triggerPrice, `${what}.triggerPrice`),
    reduceOnly: o.reduceOnly,
    expiry: hexU128(o.expiry, `${what}.expiry`),
    salt: hexFelt(o.salt, `${what}.salt`),
  };
}

function signedOrderFromJson(v: unknown, what: string): SignedOrder {
  const o = object(v, what);
  exactKeys(o, ['order', 'hash', 'signature'], what);
  return { order: orderFromJson(o.order, `${what}.order`), hash: hexFelt(o.hash, `${what}.hash`), signature: signature(o.signature, `${what}.signature`) };
}

export function orderToJson(o: Order): Record<string, unknown> {
  return {
    account: toHex(o.account),
    market: o.market,
    side: o.side,
    orderType: o.orderType,
    timeInForce: o.timeInForce,
    size: toHex(o.size),
    price: toHex(o.price),
    triggerPrice: toHex(o.triggerPrice),
    reduceOnly: o.reduceOnly,
    expiry: toHex(o.expiry),
    salt: toHex(o.salt),
  };
}

export function signedOrderToJson(s: SignedOrder): Record<string, unknown> {
  return { order: orderToJson(s.order), hash: toHex(s.hash), signature: [toHex(s.signature[0]), toHex(s.signature[1])] };
}

const DEC_OR_HEX = /^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$/;

function walletNumber(v: unknown, what: string, max: bigint): bigint {
  let x: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) x = BigInt(v);
  else if (typeof v === 'string' && DEC_OR_HEX.test(v)) x = BigInt(v);
  else fail(`${what} must be a non-negative integer (decimal or 0x-hex string)`);
  if (x > max) fail(`${what} is out of range`);
  return x;
}

/**
 * The wallet-facing Order message (the typed-data `message` a wallet signed): numbers as
 * decimal or 0x-hex strings (or safe integers), as starknet.js accepts them. Used by the RPC.
 */
export function parseOrderMessage(v: unknown): Order {
  const o = object(v, 'order');
  exactKeys(o, ORDER_FIELDS, 'order');
  if (typeof o.reduceOnly !== 'boolean') fail('order.reduceOnly must be a boolean');
  return {
    account: walletNumber(o.account, 'order.account', P - 1n),
    market: marketSymbol(o.market, 'order.market'),
    side: oneOfValue(o.side, SIDES, 'order.side'),
    orderType: oneOfValue(o.orderType, ORDER_TYPES, 'order.orderType'),
    timeInForce: oneOfValue(o.timeInForce, TIME_IN_FORCE, 'order.timeInForce'),
    size: walletNumber(o.size, 'order.size', U128_MAX),
    price: walletNumber(o.price, 'order.price', U128_MAX),
    triggerPrice: walletNumber(o.triggerPrice, 'order.triggerPrice', U128_MAX),
    reduceOnly: o.reduceOnly,
    expiry: walletNumber(o.expiry, 'order.expiry', U128_MAX),
    salt: walletNumber(o.salt, 'order.salt', P - 1n),
  };
}

/** A wallet signature: [r, s] as hex/decimal strings. */
export function parseSignature(v: unknown, what = 'signature'): Sig {
  if (!Array.isArray(v) || v.length !== 2) fail(`${what} must be [r, s]`);
  return [walletNumber(v[0], `${what}[0]`, P - 1n), walletNumber(v[1], `${what}[1]`, P - 1n)];
}

// ---- field codecs ---------------------------------------------------------------------------------

/** One field kind: strict parse from JSON, its JSON form, and its felts in calldata (none: not hashed). */
export interface Codec<V> {
  parse(v: unknown, what: string): V;
  json(v: V): unknown;
  felts(v: V, out: bigint[]): void;
}

const hs = (x: bigint): string => (x < 0n ? '-' + toHex(-x) : toHex(x));

export const F = {
  /** A field element, 0x-hex. */
  felt: { parse: hexFelt, json: toHex, felts: (v, out) => out.push(v) } as Codec<bigint>,
  /** A u128, 0x-hex. */
  u128: { parse: hexU128, json: toHex, felts: (v, out) => out.push(v) } as Codec<bigint>,
  /** A signed integer, (-)0x-hex; a felt the Cairo way (negative x -> p + x). */
  signed: { parse: hexSigned, json: hs, felts: (v, out) => out.push(toFelt(v)) } as Codec<bigint>,
  /** A market symbol (a short string as typed data encodes it). */
  market: { parse: (v, w) => marketSymbol(v, w), json: (v) => v, felts: (v, out) => out.push(shortStringFelt(v)) } as Codec<string>,
  /** A market symbol or "ALL". */
  marketOrAll: { parse: (v, w) => marketSymbol(v, w, true), json: (v) => v, felts: (v, out) => out.push(shortStringFelt(v)) } as Codec<string>,
  /** An ASCII short string (<= 31 characters). */
  short: { parse: shortString, json: (v) => v, felts: (v, out) => out.push(encodeShortString(v)) } as Codec<string>,
  /** [r, s]: carried, never hashed. */
  sig: { parse: signature, json: (s) => [toHex(s[0]), toHex(s[1])], felts: () => {} } as Codec<Sig>,
  /** A signed order: its order fields in calldata (the hash and signature are not). */
  signedOrder: { parse: signedOrderFromJson, json: signedOrderToJson, felts: (v, out) => out.push(...orderValues(v.order)) } as Codec<SignedOrder>,
  /** One of the listed strings, a short string in calldata. */
  oneOf<T extends string>(allowed: readonly T[]): Codec<T> {
    return { parse: (v, w) => oneOfValue(v, allowed, w), json: (v) => v, felts: (v, out) => out.push(encodeShortString(v)) };
  },
  /** A bounded list: its length, then its items, in calldata. */
  list<T>(maxLen: number, item: Codec<T>): Codec<T[]> {
    return {
      parse(v, what) {
        if (!Array.isArray(v)) fail(`${what} must be a list`);
        if (v.length > maxLen) fail(`${what} has more than ${maxLen} entries`);
        return v.map((x, i) => item.parse(x, `${what}[${i}]`));
      },
      json: (v) => v.map((x) => item.json(x)),
      felts(v, out) {
        out.push(BigInt(v.length));
        for (const x of v) item.felts(x, out);
      },
    };
  },
  /** A nested object with exactly these fields. */
  record<T extends object>(schema: Schema<T>): Codec<T> {
    const keys = Object.keys(schema) as (keyof T & string)[];
    return {
      parse(v, what) {
        const o = object(v, what);
        exactKeys(o, keys, what);
        const out = {} as T;
        for (const k of keys) out[k] = (schema[k] as Codec<unknown>).parse(o[k], `${what}.${k}`) as T[typeof k];
        return out;
      },
      json(v) {
        const out: Obj = {};
        for (const k of keys) out[k] = (schema[k] as Codec<unknown>).json(v[k]);
        return out;
      },
      felts(v, out) {
        for (const k of keys) (schema[k] as Codec<unknown>).felts(v[k], out);
      },
    };
  },
};

/** A codec for each field of T (in JSON and calldata order). */
export type Schema<T> = { [K in keyof T]-?: Codec<T[K]> };
