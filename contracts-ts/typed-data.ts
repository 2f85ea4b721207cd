/**
 * SNIP-12 revision 1 typed data for every message a key signs, exactly as starknet.js
 * `typedData.getMessageHash(td, account)` hashes it:
 *
 *   typeHash(T)   = sn_keccak('"T"("field":"type",...)')
 *   structHash    = poseidon_many([typeHash, ...encoded fields])      (arrays: poseidon_many(items))
 *   messageHash   = poseidon_many(['StarkNet Message', domainHash, account, structHash])
 *
 * Field encodings follow starknet.js: shortstring and felt values go through BigInt() first and
 * fall back to the ASCII short string (so "1" encodes as 1, "BUY" as 0x425559); u128/timestamp
 * are integers below 2^128; bool is 0/1; ContractAddress is a felt.
 *
 * The builders return the TypedData object a wallet signs; the hashers compute the same hash
 * with our Poseidon (contracts-ts/crypto.ts) from already-parsed values, fast and without starknet.js.
 */
import { encodeShortString, P, poseidonHashMany, starknetKeccak, toHex } from './crypto.ts';
import { accountAddress } from './classes.ts';
import type { Order } from './exchange/order.ts';
import { U128_MAX } from './math.ts';

export const DOMAIN_NAME = 'perpnode';
export const DOMAIN_VERSION = '1';
export const DOMAIN_REVISION = '1';

type Field = { name: string; type: string };

/**
 * A SNIP-12 typed-data object, the shape starknet.js's `TypedData` takes (its `typedData.*`
 * functions and `account.signMessage` accept it as is; test/unit/rpc-client.test.ts hashes
 * it with starknet.js). Declared here so that starknet.js is needed by the tests, not at runtime.
 */
export interface TypedData {
  types: Record<string, Field[]>;
  primaryType: string;
  domain: { name: string; version: string; chainId: string; revision: string };
  message: Record<string, unknown>;
}

export const DOMAIN_FIELDS: Field[] = [
  { name: 'name', type: 'shortstring' },
  { name: 'version', type: 'shortstring' },
  { name: 'chainId', type: 'shortstring' },
  { name: 'revision', type: 'shortstring' },
];

export const TYPES = {
  Order: [
    { name: 'account', type: 'ContractAddress' },
    { name: 'market', type: 'shortstring' },
    { name: 'side', type: 'shortstring' },
    { name: 'orderType', type: 'shortstring' },
    { name: 'timeInForce', type: 'shortstring' },
    { name: 'size', type: 'u128' },
    { name: 'price', type: 'u128' },
    { name: 'triggerPrice', type: 'u128' },
    { name: 'reduceOnly', type: 'bool' },
    { name: 'expiry', type: 'timestamp' },
    { name: 'salt', type: 'felt' },
  ],
  Cancel: [
    { name: 'account', type: 'ContractAddress' },
    { name: 'orderHash', type: 'felt' },
  ],
  CancelAll: [
    { name: 'account', type: 'ContractAddress' },
    { name: 'market', type: 'shortstring' },
    { name: 'nonce', type: 'felt' },
  ],
  Withdraw: [
    { name: 'account', type: 'ContractAddress' },
    { name: 'amount', type: 'u128' },
    { name: 'recipient', type: 'felt' },
    { name: 'nonce', type: 'felt' },
  ],
  Transfer: [
    { name: 'account', type: 'ContractAddress' },
    { name: 'recipient', type: 'ContractAddress' },
    { name: 'amount', type: 'u128' },
    { name: 'nonce', type: 'felt' },
  ],
  DeployAccount: [{ name: 'publicKey', type: 'felt' }],
  Deposit: [
    { name: 'depositId', type: 'felt' },
    { name: 'recipient', type: 'ContractAddress' },
    { name: 'amount', type: 'u128' },
  ],
  OracleUpdate: [
    { name: 'timestamp', type: 'timestamp' },
    { name: 'markets', type: 'shortstring*' },
    { name: 'prices', type: 'u128*' },
  ],
} as const satisfies Record<string, Field[]>;

export type PrimaryType = keyof typeof TYPES;

function encodeTypeString(name: string, fields: readonly Field[]): string {
  return `"${name}"(${fields.map((f) => `"${f.name}":"${f.type}"`).join(',')})`;
}

export const DOMAIN_TYPE_HASH = starknetKeccak(encodeTypeString('StarknetDomain', DOMAIN_FIELDS));
export const TYPE_HASHES: Record<PrimaryType, bigint> = Object.fromEntries(
  Object.entries(TYPES).map(([k, v]) => [k, starknetKeccak(encodeTypeString(k, v))]),
) as Record<PrimaryType, bigint>;

const SN_MESSAGE = encodeShortString('StarkNet Message');

/**
 * starknet.js's getHex for shortstring/felt values: BigInt() if it parses, else the short string.
 * Our protocol strings (markets, enums, chain ids) never parse as numbers; this keeps us exact
 * even if one did.
 */
export function shortStringFelt(s: string): bigint {
  if (/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(s)) return BigInt(s);
  return encodeShortString(s);
}

const domainCache = new Map<bigint, bigint>();
/** Domain hash for a chain id given as a felt (the short-string encoding of e.g. PERPNODE_DEVNET). */
export function domainHash(chainId: bigint): bigint {
  let h = domainCache.get(chainId);
  if (h === undefined) {
    h = poseidonHashMany([DOMAIN_TYPE_HASH, shortStringFelt(DOMAIN_NAME), shortStringFelt(DOMAIN_VERSION), chainId, shortStringFelt(DOMAIN_REVISION)]);
    domainCache.set(chainId, h);
  }
  return h;
}

function u128(x: bigint, what: string): bigint {
  if (x < 0n || x > U128_MAX) throw new RangeError(`${what} is out of u128 range`);
  return x;
}
function felt(x: bigint, what: string): bigint {
  if (x < 0n || x >= P) throw new RangeError(`${what} is not a field element`);
  return x;
}

function messageHash(chainId: bigint, account: bigint, type: PrimaryType, values: bigint[]): bigint {
  const structHash = poseidonHashMany([TYPE_HASHES[type], ...values]);
  return poseidonHashMany([SN_MESSAGE, domainHash(chainId), account, structHash]);
}

// ---- message shapes ----------------------------------------------------------------------------

export interface CancelMsg {
  account: bigint;
  orderHash: bigint;
}
export interface CancelAllMsg {
  account: bigint;
  /** A market symbol or "ALL". */
  market: string;
  nonce: bigint;
}
export interface WithdrawMsg {
  account: bigint;
  amount: bigint;
  /** Destination on the settlement layer (an L1 address), a felt. */
  recipient: bigint;
  nonce: bigint;
}
export interface TransferMsg {
  account: bigint;
  recipient: bigint;
  amount: bigint;
  nonce: bigint;
}
export interface DepositMsg {
  depositId: bigint;
  recipient: bigint;
  amount: bigint;
}
export interface OracleUpdateMsg {
  timestamp: bigint;
  prices: { market: string; price: bigint }[];
}

// ---- fast hashers -------------------------------------------------------------------------------

export function orderValues(o: Order): bigint[] {
  return [
    felt(o.account, 'account'),
    shortStringFelt(o.market),
    shortStringFelt(o.side),
    shortStringFelt(o.orderType),
    shortStringFelt(o.timeInForce),
    u128(o.size, 'size'),
    u128(o.price, 'price'),
    u128(o.triggerPrice, 'triggerPrice'),
    o.reduceOnly ? 1n : 0n,
    u128(o.expiry, 'expiry'),
    felt(o.salt, 'salt'),
  ];
}

const orderHashCache = new Map<string, bigint>();
const ORDER_HASH_CACHE_MAX = 200_000;

/**
 * The order hash: the SNIP-12 message hash of the Order, with account = order.account.
 * Memoized by the order's full content (a resting order is hashed again at every fill).
 */
export function orderHash(o: Order, chainId: bigint): bigint {
  const k = `${chainId}|${o.account}|${o.market}|${o.side}|${o.orderType}|${o.timeInForce}|${o.size}|${o.price}|${o.triggerPrice}|${o.reduceOnly ? 1 : 0}|${o.expiry}|${o.salt}`;
  let h = orderHashCache.get(k);
  if (h === undefined) {
    h = messageHash(chainId, o.account, 'Order', orderValues(o));
    if (orderHashCache.size >= ORDER_HASH_CACHE_MAX) orderHashCache.clear();
    orderHashCache.set(k, h);
  }
  return h;
}

export function cancelHash(m: CancelMsg, chainId: bigint): bigint {
  return messageHash(chainId, m.account, 'Cancel', [felt(m.account, 'account'), felt(m.orderHash, 'orderHash')]);
}

export function cancelAllHash(m: CancelAllMsg, chainId: bigint): bigint {
  return messageHash(chainId, m.account, 'CancelAll', [felt(m.account, 'account'), shortStringFelt(m.market), felt(m.nonce, 'nonce')]);
}

export function withdrawHash(m: WithdrawMsg, chainId: bigint): bigint {
  return messageHash(chainId, m.account, 'Withdraw', [felt(m.account, 'account'), u128(m.amount, 'amount'), felt(m.recipient, 'recipient'), felt(m.nonce, 'nonce')]);
}

export function transferHash(m: TransferMsg, chainId: bigint): bigint {
  return messageHash(chainId, m.account, 'Transfer', [felt(m.account, 'account'), felt(m.recipient, 'recipient'), u128(m.amount, 'amount'), felt(m.nonce, 'nonce')]);
}

/** Signed by the new key itself; the typed-data "account" is the address it deploys to. */
export function deployAccountHash(publicKey: bigint, chainId: bigint): bigint {
  return messageHash(chainId, accountAddress(publicKey), 'DeployAccount', [felt(publicKey, 'publicKey')]);
}

/** Signed by the bridge operator; the typed-data "account" is the operator's public key. */
export function depositHash(m: DepositMsg, operatorKey: bigint, chainId: bigint): bigint {
  return messageHash(chainId, operatorKey, 'Deposit', [felt(m.depositId, 'depositId'), felt(m.recipient, 'recipient'), u128(m.amount, 'amount')]);
}

/** Signed by an oracle key; the typed-data "account" is the oracle's public key. */
export function oracleUpdateHash(m: OracleUpdateMsg, oracleKey: bigint, chainId: bigint): bigint {
  const markets = poseidonHashMany(m.prices.map((p) => shortStringFelt(p.market)));
  const prices = poseidonHashMany(m.prices.map((p) => u128(p.price, 'price')));
  return messageHash(chainId, oracleKey, 'OracleUpdate', [u128(m.timestamp, 'timestamp'), markets, prices]);
}

// ---- builders (what a wallet signs with starknet.js) ---------------------------------------------

function typed(primaryType: PrimaryType, chainIdString: string, message: Record<string, unknown>): TypedData {
  return {
    types: { StarknetDomain: DOMAIN_FIELDS, [primaryType]: TYPES[primaryType] as readonly Field[] as Field[] },
    primaryType,
    domain: { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId: chainIdString, revision: DOMAIN_REVISION },
    message,
  };
}

/** The domain object wallets use (perp_getConfig serves it). */
export function typedDataDomain(chainIdString: string): { name: string; version: string; chainId: string; revision: string } {
  return { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId: chainIdString, revision: DOMAIN_REVISION };
}

/** The wallet-facing Order message (numbers as decimal strings, as in the protocol example). */
export function orderMessage(o: Order): Record<string, unknown> {
  return {
    account: toHex(o.account),
    market: o.market,
    side: o.side,
    orderType: o.orderType,
    timeInForce: o.timeInForce,
    size: o.size.toString(),
    price: o.price.toString(),
    triggerPrice: o.triggerPrice.toString(),
    reduceOnly: o.reduceOnly,
    expiry: o.expiry.toString(),
    salt: toHex(o.salt),
  };
}

export function orderTypedData(o: Order, chainIdString: string): TypedData {
  return typed('Order', chainIdString, orderMessage(o));
}

export function cancelTypedData(m: CancelMsg, chainIdString: string): TypedData {
  return typed('Cancel', chainIdString, { account: toHex(m.account), orderHash: toHex(m.orderHash) });
}

export function cancelAllTypedData(m: CancelAllMsg, chainIdString: string): TypedData {
  return typed('CancelAll', chainIdString, { account: toHex(m.account), market: m.market, nonce: toHex(m.nonce) });
}

export function withdrawTypedData(m: WithdrawMsg, chainIdString: string): TypedData {
  return typed('Withdraw', chainIdString, { account: toHex(m.account), amount: m.amount.toString(), recipient: toHex(m.recipient), nonce: toHex(m.nonce) });
}

export function transferTypedData(m: TransferMsg, chainIdString: string): TypedData {
  return typed('Transfer', chainIdString, { account: toHex(m.account), recipient: toHex(m.recipient), amount: m.amount.toString(), nonce: toHex(m.nonce) });
}

/** Sign with account = accountAddress(publicKey). */
export function deployAccountTypedData(publicKey: bigint, chainIdString: string): TypedData {
  return typed('DeployAccount', chainIdString, { publicKey: toHex(publicKey) });
}

/** Sign with account = the bridge operator's public key. */
export function depositTypedData(m: DepositMsg, chainIdString: string): TypedData {
  return typed('Deposit', chainIdString, { depositId: toHex(m.depositId), recipient: toHex(m.recipient), amount: m.amount.toString() });
}

/** Sign with account = the oracle's public key. */
export function oracleUpdateTypedData(m: OracleUpdateMsg, chainIdString: string): TypedData {
  return typed('OracleUpdate', chainIdString, {
    timestamp: m.timestamp.toString(),
    markets: m.prices.map((p) => p.market),
    prices: m.prices.map((p) => p.price.toString()),
  });
}
