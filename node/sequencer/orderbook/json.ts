/**
 * JSON form of an OrderRecord for the node's DB (and RPC): bigints as lowercase 0x-hex,
 * everything else as is. recordFromJson checks the shape strictly and throws on anything else.
 */
import { ORDER_TYPES, SIDES, TIME_IN_FORCE, type Order, type SignedOrder } from '../../../contracts-ts/exchange/order.ts';
import type { OrderRecord, OrderStatus } from './types.ts';

const STATUSES: readonly OrderStatus[] = ['OPEN', 'UNTRIGGERED', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'EXPIRED', 'REJECTED'];

export interface OrderRecordJson {
  order: {
    account: string;
    market: string;
    side: string;
    orderType: string;
    timeInForce: string;
    size: string;
    price: string;
    triggerPrice: string;
    reduceOnly: boolean;
    expiry: string;
    salt: string;
  };
  hash: string;
  signature: [string, string];
  seq: string;
  remaining: string;
  filled: string;
  status: OrderStatus;
  reason?: string;
}

function hex(x: bigint): string {
  if (typeof x !== 'bigint' || x < 0n) throw new Error(`orderbook json: not a non-negative bigint: ${String(x)}`);
  return '0x' + x.toString(16);
}

function unhex(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]+$/.test(v)) throw new Error(`orderbook json: ${what} must be 0x-hex`);
  return BigInt(v);
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new Error(`orderbook json: bad ${what}`);
  return v as T;
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`orderbook json: ${what} must be an object`);
  return v as Record<string, unknown>;
}

export function recordToJson(r: OrderRecord): OrderRecordJson {
  const o = r.signed.order;
  const j: OrderRecordJson = {
    order: {
      account: hex(o.account),
      market: o.market,
      side: o.side,
      orderType: o.orderType,
      timeInForce: o.timeInForce,
      size: hex(o.size),
      price: hex(o.price),
      triggerPrice: hex(o.triggerPrice),
      reduceOnly: o.reduceOnly,
      expiry: hex(o.expiry),
      salt: hex(o.salt),
    },
    hash: hex(r.signed.hash),
    signature: [hex(r.signed.signature[0]), hex(r.signed.signature[1])],
    seq: hex(r.seq),
    remaining: hex(r.remaining),
    filled: hex(r.filled),
    status: r.status,
  };
  if (r.reason !== undefined) j.reason = r.reason;
  return j;
}

export function recordFromJson(j: unknown): OrderRecord {
  const r = obj(j, 'record');
  const oj = obj(r.order, 'order');
  if (typeof oj.market !== 'string') throw new Error('orderbook json: bad market');
  if (typeof oj.reduceOnly !== 'boolean') throw new Error('orderbook json: bad reduceOnly');
  const order: Order = {
    account: unhex(oj.account, 'account'),
    market: oj.market,
    side: oneOf(oj.side, SIDES, 'side'),
    orderType: oneOf(oj.orderType, ORDER_TYPES, 'orderType'),
    timeInForce: oneOf(oj.timeInForce, TIME_IN_FORCE, 'timeInForce'),
    size: unhex(oj.size, 'size'),
    price: unhex(oj.price, 'price'),
    triggerPrice: unhex(oj.triggerPrice, 'triggerPrice'),
    reduceOnly: oj.reduceOnly,
    expiry: unhex(oj.expiry, 'expiry'),
    salt: unhex(oj.salt, 'salt'),
  };
  if (!Array.isArray(r.signature) || r.signature.length !== 2) throw new Error('orderbook json: signature must be [r, s]');
  const signed: SignedOrder = {
    order,
    hash: unhex(r.hash, 'hash'),
    signature: [unhex(r.signature[0], 'signature r'), unhex(r.signature[1], 'signature s')],
  };
  const out: OrderRecord = {
    signed,
    seq: unhex(r.seq, 'seq'),
    remaining: unhex(r.remaining, 'remaining'),
    filled: unhex(r.filled, 'filled'),
    status: oneOf(r.status, STATUSES, 'status'),
  };
  if (r.reason !== undefined) {
    if (typeof r.reason !== 'string') throw new Error('orderbook json: reason must be a string');
    out.reason = r.reason;
  }
  return out;
}
