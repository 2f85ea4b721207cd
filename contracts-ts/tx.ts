/**
 * perpnode transactions: one discriminated union, a strict JSON codec (untrusted network input:
 * exact keys, exact types, 0x-hex bigints, bounded arrays), a felt encoding (calldata) and the
 * transaction hash:
 *
 *   calldata(tx) = [prefix(type), ...fields]          prefix = short string "PERP_<TYPE>"
 *   txHash(tx)   = poseidon_many([...calldata(tx), chainId])
 *
 * Signatures are not part of the hash (as in Starknet). Signed integers (funding rates and
 * indices, position sizes) are encoded as felts the Cairo way (negative x -> p + x).
 *
 * User transactions carry their signer's signature; system transactions (FUNDING, FUNDING_SAMPLE, LIQUIDATE,
 * ADL, VAULT_UNWIND, SET_MODE, REFUND, SYSTEM_CANCEL, TRIGGER, VOID_SIGNED) come from the sequencer and are covered by the
 * block signature.
 */
import { encodeShortString, P, poseidonHashMany, toHex } from '../node/crypto/index.ts';
import { accountAddress } from './classes.ts';
import { ORDER_TYPES, SIDES, TIME_IN_FORCE, type Order, type SignedOrder } from './exchange/order.ts';
import { MODES, type Mode } from './exchange/modes.ts';
import { toFelt, U128_MAX } from './math.ts';
import { orderValues, shortStringFelt } from './typed-data.ts';
import { deployAccountTxHash, invokeTxHash, v3FromStoredJson, v3ToStoredJson, type DeployAccountV3Tx, type InvokeTx } from './starknet/tx.ts';
import { deployAccountAddress } from './starknet/entrypoints.ts';

export type { DeployAccountV3Tx, InvokeTx };

export type Sig = [bigint, bigint];

export interface DeployAccountTx {
  type: 'DEPLOY_ACCOUNT';
  publicKey: bigint;
  signature: Sig;
}
export interface DepositTx {
  type: 'DEPOSIT';
  depositId: bigint;
  recipient: bigint;
  amount: bigint;
  /** By the bridge operator key. */
  signature: Sig;
}
export interface WithdrawTx {
  type: 'WITHDRAW';
  account: bigint;
  amount: bigint;
  recipient: bigint;
  nonce: bigint;
  signature: Sig;
}
export interface TransferTx {
  type: 'TRANSFER';
  account: bigint;
  recipient: bigint;
  amount: bigint;
  nonce: bigint;
  signature: Sig;
}
export interface TradeTx {
  type: 'TRADE';
  maker: SignedOrder;
  taker: SignedOrder;
  size: bigint;
  price: bigint;
}
export interface CancelTx {
  type: 'CANCEL';
  account: bigint;
  orderHash: bigint;
  signature: Sig;
}
export interface CancelAllTx {
  type: 'CANCEL_ALL';
  account: bigint;
  /** Market symbol or "ALL". */
  market: string;
  nonce: bigint;
  signature: Sig;
  /** The account's open orders the sequencer holds (filled in by the node): each is cancelled on-chain. */
  orderHashes: bigint[];
}
export interface OracleUpdateTx {
  type: 'ORACLE_UPDATE';
  /** Oracle public key (one of the genesis oracle keys). */
  signer: bigint;
  timestamp: bigint;
  prices: { market: string; price: bigint }[];
  signature: Sig;
}
export interface FundingTx {
  type: 'FUNDING';
  /** Must equal the block timestamp. */
  timestamp: bigint;
  /**
   * Per market, what a follower needs to re-derive the tick from the chain, each recomputed by
   * the contract from the on-chain samples: the averaged premium (1e-9), the live seconds it
   * accrues (at most funding_interval_seconds), the clamped rate (premium + baseline) and the new index.
   */
  markets: { market: string; premium: bigint; seconds: bigint; rate: bigint; index: bigint }[];
}
export interface FundingSampleTx {
  type: 'FUNDING_SAMPLE';
  /**
   * The book's impact prices (1e-8 USD; 0 = the side cannot fill impact_notional), for the
   * markets whose impact prices changed since the last sample. The sequencer samples at every
   * block and records only changes; the contract integrates the premium over time.
   */
  markets: { market: string; impactBid: bigint; impactAsk: bigint }[];
}
export interface LiquidateTx {
  type: 'LIQUIDATE';
  account: bigint;
  market: string;
  /** Size to take over (1e-8, positive). */
  size: bigint;
  /** The account's signed position before this step (stale proposals fail). */
  positionBefore: bigint;
  /**
   * The number of the block the proposal is for; the contract refuses it in any other block
   * (STALE_PROPOSAL). Makes the hash unique: the same position can recur in a later block.
   */
  block: bigint;
}
export interface AdlTx {
  type: 'ADL';
  account: bigint;
  market: string;
  positionBefore: bigint;
  /** The number of the block the proposal is for (as in LiquidateTx). */
  block: bigint;
}
/**
 * The Liquidator Vault unwinds a position it took over against one resting, signed maker order
 * (exchange/unwind.ts). `account` must be the vault address.
 */
export interface VaultUnwindTx {
  type: 'VAULT_UNWIND';
  account: bigint;
  market: string;
  maker: SignedOrder;
  /** Size the vault closes (1e-8, positive): the maker's fill. */
  size: bigint;
  /** Must be the maker's limit price. */
  price: bigint;
  /** The vault's signed position before this unwind (stale proposals fail). */
  positionBefore: bigint;
  /** The number of the block the proposal is for (as in LiquidateTx). */
  block: bigint;
}
export interface SetModeTx {
  type: 'SET_MODE';
  mode: Mode;
  /** Short string (<= 31 ASCII characters). */
  reason: string;
  /** Must be the stored mode sequence + 1 (makes every mode change a distinct transaction). */
  seq: bigint;
}
export interface RefundTx {
  type: 'REFUND';
  incidentId: bigint;
  account: bigint;
  amount: bigint;
}
export interface SystemCancelTx {
  type: 'SYSTEM_CANCEL';
  /** Short string, e.g. "rollback", "expired", "self_trade". */
  reason: string;
  orders: { account: bigint; orderHash: bigint }[];
}
export interface TriggerTx {
  type: 'TRIGGER';
  order: SignedOrder;
}
/**
 * After a rollback (exchange/replay.ts): signed-message hashes of the orphaned branch, refused
 * from now on, and account nonces raised past the nonces the orphaned branch used.
 */
export interface VoidSignedTx {
  type: 'VOID_SIGNED';
  hashes: bigint[];
  nonces: { account: bigint; nonce: bigint }[];
}

export type PerpTx =
  | DeployAccountTx
  | DepositTx
  | WithdrawTx
  | TransferTx
  | TradeTx
  | CancelTx
  | CancelAllTx
  | OracleUpdateTx
  | FundingTx
  | FundingSampleTx
  | LiquidateTx
  | AdlTx
  | VaultUnwindTx
  | SetModeTx
  | RefundTx
  | SystemCancelTx
  | TriggerTx
  | VoidSignedTx
  | InvokeTx
  | DeployAccountV3Tx;

export type TxType = PerpTx['type'];

export const TX_TYPES = [
  'DEPLOY_ACCOUNT',
  'DEPOSIT',
  'WITHDRAW',
  'TRANSFER',
  'TRADE',
  'CANCEL',
  'CANCEL_ALL',
  'ORACLE_UPDATE',
  'FUNDING',
  'LIQUIDATE',
  'ADL',
  'VAULT_UNWIND',
  'SET_MODE',
  'REFUND',
  'SYSTEM_CANCEL',
  'TRIGGER',
  'VOID_SIGNED',
  'INVOKE',
  'DEPLOY_ACCOUNT_V3',
  'FUNDING_SAMPLE',
] as const satisfies readonly TxType[];

export const SYSTEM_TX_TYPES: readonly TxType[] = ['FUNDING', 'LIQUIDATE', 'ADL', 'VAULT_UNWIND', 'SET_MODE', 'REFUND', 'SYSTEM_CANCEL', 'TRIGGER', 'VOID_SIGNED', 'FUNDING_SAMPLE'];

export function isSystemTx(tx: PerpTx): boolean {
  return SYSTEM_TX_TYPES.includes(tx.type);
}

export const TX_PREFIX: Record<TxType, bigint> = Object.fromEntries(TX_TYPES.map((t) => [t, encodeShortString(`PERP_${t}`)])) as Record<TxType, bigint>;

/** Hard caps of the codec (the genesis limits may be lower and are enforced at execution). */
export const CODEC_LIMITS = { orderHashes: 100_000, prices: 1000, fundingMarkets: 1000, systemCancel: 1_000_000 } as const;

export class TxParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TxParseError';
  }
}

// ---- JSON -> tx -----------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const HEX = /^0x[0-9a-fA-F]{1,64}$/;
const SIGNED_HEX = /^-?0x[0-9a-fA-F]{1,64}$/;
const SYMBOL = /^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$/;

function fail(msg: string): never {
  throw new TxParseError(msg);
}

function object(v: unknown, what: string): Obj {
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail(`${what} must be an object`);
  return v as Obj;
}

function exactKeys(o: Obj, keys: readonly string[], what: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${what}: unknown field "${k}"`);
  for (const k of keys) if (o[k] === undefined) fail(`${what}: missing field "${k}"`);
}

function hexFelt(v: unknown, what: string): bigint {
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

function list<T>(v: unknown, what: string, maxLen: number, item: (x: unknown, w: string) => T): T[] {
  if (!Array.isArray(v)) fail(`${what} must be a list`);
  if (v.length > maxLen) fail(`${what} has more than ${maxLen} entries`);
  return v.map((x, i) => item(x, `${what}[${i}]`));
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) fail(`${what} must be one of ${allowed.join(', ')}`);
  return v as T;
}

const ORDER_FIELDS = ['account', 'market', 'side', 'orderType', 'timeInForce', 'size', 'price', 'triggerPrice', 'reduceOnly', 'expiry', 'salt'] as const;

/** An order in transaction JSON (0x-hex numbers). */
function orderFromJson(v: unknown, what: string): Order {
  const o = object(v, what);
  exactKeys(o, ORDER_FIELDS, what);
  if (typeof o.reduceOnly !== 'boolean') fail(`${what}.reduceOnly must be a boolean`);
  return {
    account: hexFelt(o.account, `${what}.account`),
    market: marketSymbol(o.market, `${what}.market`),
    side: oneOf(o.side, SIDES, `${what}.side`),
    orderType: oneOf(o.orderType, ORDER_TYPES, `${what}.orderType`),
    timeInForce: oneOf(o.timeInForce, TIME_IN_FORCE, `${what}.timeInForce`),
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
    side: oneOf(o.side, SIDES, 'order.side'),
    orderType: oneOf(o.orderType, ORDER_TYPES, 'order.orderType'),
    timeInForce: oneOf(o.timeInForce, TIME_IN_FORCE, 'order.timeInForce'),
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

/** Parses a transaction from its JSON form (as txToJson writes it). Strict; throws TxParseError. */
export function parseTx(json: unknown): PerpTx {
  const o = object(json, 'transaction');
  const type = oneOf(o.type, TX_TYPES, 'transaction.type');
  const w = type;
  switch (type) {
    case 'INVOKE':
    case 'DEPLOY_ACCOUNT_V3':
      try {
        return v3FromStoredJson(o);
      } catch (e) {
        fail(`${w}: ${(e as Error).message}`);
      }
    case 'DEPLOY_ACCOUNT':
      exactKeys(o, ['type', 'publicKey', 'signature'], w);
      return { type, publicKey: hexFelt(o.publicKey, 'publicKey'), signature: signature(o.signature, 'signature') };
    case 'DEPOSIT':
      exactKeys(o, ['type', 'depositId', 'recipient', 'amount', 'signature'], w);
      return { type, depositId: hexFelt(o.depositId, 'depositId'), recipient: hexFelt(o.recipient, 'recipient'), amount: hexU128(o.amount, 'amount'), signature: signature(o.signature, 'signature') };
    case 'WITHDRAW':
      exactKeys(o, ['type', 'account', 'amount', 'recipient', 'nonce', 'signature'], w);
      return {
        type,
        account: hexFelt(o.account, 'account'),
        amount: hexU128(o.amount, 'amount'),
        recipient: hexFelt(o.recipient, 'recipient'),
        nonce: hexFelt(o.nonce, 'nonce'),
        signature: signature(o.signature, 'signature'),
      };
    case 'TRANSFER':
      exactKeys(o, ['type', 'account', 'recipient', 'amount', 'nonce', 'signature'], w);
      return {
        type,
        account: hexFelt(o.account, 'account'),
        recipient: hexFelt(o.recipient, 'recipient'),
        amount: hexU128(o.amount, 'amount'),
        nonce: hexFelt(o.nonce, 'nonce'),
        signature: signature(o.signature, 'signature'),
      };
    case 'TRADE':
      exactKeys(o, ['type', 'maker', 'taker', 'size', 'price'], w);
      return { type, maker: signedOrderFromJson(o.maker, 'maker'), taker: signedOrderFromJson(o.taker, 'taker'), size: hexU128(o.size, 'size'), price: hexU128(o.price, 'price') };
    case 'CANCEL':
      exactKeys(o, ['type', 'account', 'orderHash', 'signature'], w);
      return { type, account: hexFelt(o.account, 'account'), orderHash: hexFelt(o.orderHash, 'orderHash'), signature: signature(o.signature, 'signature') };
    case 'CANCEL_ALL':
      exactKeys(o, ['type', 'account', 'market', 'nonce', 'signature', 'orderHashes'], w);
      return {
        type,
        account: hexFelt(o.account, 'account'),
        market: marketSymbol(o.market, 'market', true),
        nonce: hexFelt(o.nonce, 'nonce'),
        signature: signature(o.signature, 'signature'),
        orderHashes: list(o.orderHashes, 'orderHashes', CODEC_LIMITS.orderHashes, hexFelt),
      };
    case 'ORACLE_UPDATE':
      exactKeys(o, ['type', 'signer', 'timestamp', 'prices', 'signature'], w);
      return {
        type,
        signer: hexFelt(o.signer, 'signer'),
        timestamp: hexU128(o.timestamp, 'timestamp'),
        prices: list(o.prices, 'prices', CODEC_LIMITS.prices, (x, wi) => {
          const p = object(x, wi);
          exactKeys(p, ['market', 'price'], wi);
          return { market: marketSymbol(p.market, `${wi}.market`), price: hexU128(p.price, `${wi}.price`) };
        }),
        signature: signature(o.signature, 'signature'),
      };
    case 'FUNDING':
      exactKeys(o, ['type', 'timestamp', 'markets'], w);
      return {
        type,
        timestamp: hexU128(o.timestamp, 'timestamp'),
        markets: list(o.markets, 'markets', CODEC_LIMITS.fundingMarkets, (x, wi) => {
          const p = object(x, wi);
          exactKeys(p, ['market', 'premium', 'seconds', 'rate', 'index'], wi);
          return {
            market: marketSymbol(p.market, `${wi}.market`),
            premium: hexSigned(p.premium, `${wi}.premium`),
            seconds: hexU128(p.seconds, `${wi}.seconds`),
            rate: hexSigned(p.rate, `${wi}.rate`),
            index: hexSigned(p.index, `${wi}.index`),
          };
        }),
      };
    case 'FUNDING_SAMPLE':
      exactKeys(o, ['type', 'markets'], w);
      return {
        type,
        markets: list(o.markets, 'markets', CODEC_LIMITS.fundingMarkets, (x, wi) => {
          const p = object(x, wi);
          exactKeys(p, ['market', 'impactBid', 'impactAsk'], wi);
          return { market: marketSymbol(p.market, `${wi}.market`), impactBid: hexU128(p.impactBid, `${wi}.impactBid`), impactAsk: hexU128(p.impactAsk, `${wi}.impactAsk`) };
        }),
      };
    case 'LIQUIDATE':
      exactKeys(o, ['type', 'account', 'market', 'size', 'positionBefore', 'block'], w);
      return {
        type,
        account: hexFelt(o.account, 'account'),
        market: marketSymbol(o.market, 'market'),
        size: hexU128(o.size, 'size'),
        positionBefore: hexSigned(o.positionBefore, 'positionBefore'),
        block: hexU128(o.block, 'block'),
      };
    case 'ADL':
      exactKeys(o, ['type', 'account', 'market', 'positionBefore', 'block'], w);
      return { type, account: hexFelt(o.account, 'account'), market: marketSymbol(o.market, 'market'), positionBefore: hexSigned(o.positionBefore, 'positionBefore'), block: hexU128(o.block, 'block') };
    case 'VAULT_UNWIND':
      exactKeys(o, ['type', 'account', 'market', 'maker', 'size', 'price', 'positionBefore', 'block'], w);
      return {
        type,
        account: hexFelt(o.account, 'account'),
        market: marketSymbol(o.market, 'market'),
        maker: signedOrderFromJson(o.maker, 'maker'),
        size: hexU128(o.size, 'size'),
        price: hexU128(o.price, 'price'),
        positionBefore: hexSigned(o.positionBefore, 'positionBefore'),
        block: hexU128(o.block, 'block'),
      };
    case 'SET_MODE':
      exactKeys(o, ['type', 'mode', 'reason', 'seq'], w);
      return { type, mode: oneOf(o.mode, MODES, 'mode'), reason: shortString(o.reason, 'reason'), seq: hexFelt(o.seq, 'seq') };
    case 'REFUND':
      exactKeys(o, ['type', 'incidentId', 'account', 'amount'], w);
      return { type, incidentId: hexFelt(o.incidentId, 'incidentId'), account: hexFelt(o.account, 'account'), amount: hexU128(o.amount, 'amount') };
    case 'SYSTEM_CANCEL':
      exactKeys(o, ['type', 'reason', 'orders'], w);
      return {
        type,
        reason: shortString(o.reason, 'reason'),
        orders: list(o.orders, 'orders', CODEC_LIMITS.systemCancel, (x, wi) => {
          const p = object(x, wi);
          exactKeys(p, ['account', 'orderHash'], wi);
          return { account: hexFelt(p.account, `${wi}.account`), orderHash: hexFelt(p.orderHash, `${wi}.orderHash`) };
        }),
      };
    case 'TRIGGER':
      exactKeys(o, ['type', 'order'], w);
      return { type, order: signedOrderFromJson(o.order, 'order') };
    case 'VOID_SIGNED':
      exactKeys(o, ['type', 'hashes', 'nonces'], w);
      return {
        type,
        hashes: list(o.hashes, 'hashes', CODEC_LIMITS.systemCancel, (x, wi) => hexFelt(x, wi)),
        nonces: list(o.nonces, 'nonces', CODEC_LIMITS.systemCancel, (x, wi) => {
          const p = object(x, wi);
          exactKeys(p, ['account', 'nonce'], wi);
          return { account: hexFelt(p.account, `${wi}.account`), nonce: hexFelt(p.nonce, `${wi}.nonce`) };
        }),
      };
  }
}

// ---- tx -> JSON -------------------------------------------------------------------------------------

function hs(x: bigint): string {
  return x < 0n ? '-' + toHex(-x) : toHex(x);
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

function sigJson(s: Sig): string[] {
  return [toHex(s[0]), toHex(s[1])];
}

/** The JSON form of a transaction (bigints as 0x-hex strings); parseTx(txToJson(tx)) equals tx. */
export function txToJson(tx: PerpTx): Record<string, unknown> {
  switch (tx.type) {
    case 'INVOKE':
    case 'DEPLOY_ACCOUNT_V3':
      return v3ToStoredJson(tx);
    case 'DEPLOY_ACCOUNT':
      return { type: tx.type, publicKey: toHex(tx.publicKey), signature: sigJson(tx.signature) };
    case 'DEPOSIT':
      return { type: tx.type, depositId: toHex(tx.depositId), recipient: toHex(tx.recipient), amount: toHex(tx.amount), signature: sigJson(tx.signature) };
    case 'WITHDRAW':
      return { type: tx.type, account: toHex(tx.account), amount: toHex(tx.amount), recipient: toHex(tx.recipient), nonce: toHex(tx.nonce), signature: sigJson(tx.signature) };
    case 'TRANSFER':
      return { type: tx.type, account: toHex(tx.account), recipient: toHex(tx.recipient), amount: toHex(tx.amount), nonce: toHex(tx.nonce), signature: sigJson(tx.signature) };
    case 'TRADE':
      return { type: tx.type, maker: signedOrderToJson(tx.maker), taker: signedOrderToJson(tx.taker), size: toHex(tx.size), price: toHex(tx.price) };
    case 'CANCEL':
      return { type: tx.type, account: toHex(tx.account), orderHash: toHex(tx.orderHash), signature: sigJson(tx.signature) };
    case 'CANCEL_ALL':
      return { type: tx.type, account: toHex(tx.account), market: tx.market, nonce: toHex(tx.nonce), signature: sigJson(tx.signature), orderHashes: tx.orderHashes.map(toHex) };
    case 'ORACLE_UPDATE':
      return { type: tx.type, signer: toHex(tx.signer), timestamp: toHex(tx.timestamp), prices: tx.prices.map((p) => ({ market: p.market, price: toHex(p.price) })), signature: sigJson(tx.signature) };
    case 'FUNDING':
      return { type: tx.type, timestamp: toHex(tx.timestamp), markets: tx.markets.map((m) => ({ market: m.market, premium: hs(m.premium), seconds: toHex(m.seconds), rate: hs(m.rate), index: hs(m.index) })) };
    case 'FUNDING_SAMPLE':
      return { type: tx.type, markets: tx.markets.map((m) => ({ market: m.market, impactBid: toHex(m.impactBid), impactAsk: toHex(m.impactAsk) })) };
    case 'LIQUIDATE':
      return { type: tx.type, account: toHex(tx.account), market: tx.market, size: toHex(tx.size), positionBefore: hs(tx.positionBefore), block: toHex(tx.block) };
    case 'ADL':
      return { type: tx.type, account: toHex(tx.account), market: tx.market, positionBefore: hs(tx.positionBefore), block: toHex(tx.block) };
    case 'VAULT_UNWIND':
      return { type: tx.type, account: toHex(tx.account), market: tx.market, maker: signedOrderToJson(tx.maker), size: toHex(tx.size), price: toHex(tx.price), positionBefore: hs(tx.positionBefore), block: toHex(tx.block) };
    case 'SET_MODE':
      return { type: tx.type, mode: tx.mode, reason: tx.reason, seq: toHex(tx.seq) };
    case 'REFUND':
      return { type: tx.type, incidentId: toHex(tx.incidentId), account: toHex(tx.account), amount: toHex(tx.amount) };
    case 'SYSTEM_CANCEL':
      return { type: tx.type, reason: tx.reason, orders: tx.orders.map((x) => ({ account: toHex(x.account), orderHash: toHex(x.orderHash) })) };
    case 'TRIGGER':
      return { type: tx.type, order: signedOrderToJson(tx.order) };
    case 'VOID_SIGNED':
      return { type: tx.type, hashes: tx.hashes.map(toHex), nonces: tx.nonces.map((x) => ({ account: toHex(x.account), nonce: toHex(x.nonce) })) };
  }
}

// ---- felt encoding, hash, accessors ---------------------------------------------------------------------

/**
 * Felt encoding of a transaction's content (no signatures): [prefix, ...fields]. Starknet v3
 * transactions: their own calldata (INVOKE) or constructor calldata (DEPLOY_ACCOUNT_V3).
 */
export function txCalldata(tx: PerpTx): bigint[] {
  if (tx.type === 'INVOKE') return tx.calldata.slice();
  if (tx.type === 'DEPLOY_ACCOUNT_V3') return tx.constructorCalldata.slice();
  const out: bigint[] = [TX_PREFIX[tx.type]];
  switch (tx.type) {
    case 'DEPLOY_ACCOUNT':
      out.push(tx.publicKey);
      break;
    case 'DEPOSIT':
      out.push(tx.depositId, tx.recipient, tx.amount);
      break;
    case 'WITHDRAW':
      out.push(tx.account, tx.amount, tx.recipient, tx.nonce);
      break;
    case 'TRANSFER':
      out.push(tx.account, tx.recipient, tx.amount, tx.nonce);
      break;
    case 'TRADE':
      out.push(...orderValues(tx.maker.order), ...orderValues(tx.taker.order), tx.size, tx.price);
      break;
    case 'CANCEL':
      out.push(tx.account, tx.orderHash);
      break;
    case 'CANCEL_ALL':
      out.push(tx.account, shortStringFelt(tx.market), tx.nonce, BigInt(tx.orderHashes.length), ...tx.orderHashes);
      break;
    case 'ORACLE_UPDATE':
      out.push(tx.signer, tx.timestamp, BigInt(tx.prices.length));
      for (const p of tx.prices) out.push(shortStringFelt(p.market), p.price);
      break;
    case 'FUNDING':
      out.push(tx.timestamp, BigInt(tx.markets.length));
      for (const m of tx.markets) out.push(shortStringFelt(m.market), toFelt(m.premium), m.seconds, toFelt(m.rate), toFelt(m.index));
      break;
    case 'FUNDING_SAMPLE':
      out.push(BigInt(tx.markets.length));
      for (const m of tx.markets) out.push(shortStringFelt(m.market), m.impactBid, m.impactAsk);
      break;
    case 'LIQUIDATE':
      out.push(tx.account, shortStringFelt(tx.market), tx.size, toFelt(tx.positionBefore), tx.block);
      break;
    case 'ADL':
      out.push(tx.account, shortStringFelt(tx.market), toFelt(tx.positionBefore), tx.block);
      break;
    case 'VAULT_UNWIND':
      out.push(tx.account, shortStringFelt(tx.market), ...orderValues(tx.maker.order), tx.size, tx.price, toFelt(tx.positionBefore), tx.block);
      break;
    case 'SET_MODE':
      out.push(encodeShortString(tx.mode), encodeShortString(tx.reason), tx.seq);
      break;
    case 'REFUND':
      out.push(tx.incidentId, tx.account, tx.amount);
      break;
    case 'SYSTEM_CANCEL':
      out.push(encodeShortString(tx.reason), BigInt(tx.orders.length));
      for (const x of tx.orders) out.push(x.account, x.orderHash);
      break;
    case 'TRIGGER':
      out.push(...orderValues(tx.order.order));
      break;
    case 'VOID_SIGNED':
      out.push(BigInt(tx.hashes.length), ...tx.hashes, BigInt(tx.nonces.length));
      for (const x of tx.nonces) out.push(x.account, x.nonce);
      break;
  }
  return out;
}

/**
 * poseidon_many([...txCalldata(tx), chainId]); Starknet's v3 hash for INVOKE and DEPLOY_ACCOUNT_V3.
 * A TRADE is hashed over its two order hashes and the fill, poseidon_many([PERP_TRADE, maker hash,
 * taker hash, size, price, chainId]): each order hash commits to its order's fields, and the
 * contract refuses an order whose hash is not its own (BAD_ORDER_HASH), so 6 felts identify
 * the trade as well as the 26 of its calldata.
 */
export function txHash(tx: PerpTx, chainId: bigint): bigint {
  if (tx.type === 'INVOKE') return invokeTxHash(tx, chainId);
  if (tx.type === 'DEPLOY_ACCOUNT_V3') return deployAccountTxHash(tx, deployAccountAddress(tx), chainId);
  if (tx.type === 'TRADE') return poseidonHashMany([TX_PREFIX.TRADE, tx.maker.hash, tx.taker.hash, tx.size, tx.price, chainId]);
  const cd = txCalldata(tx);
  cd.push(chainId);
  return poseidonHashMany(cd);
}

/**
 * Who sent it, as an address: the account for wallet transactions (the derived address for
 * DEPLOY_ACCOUNT, the recipient for DEPOSIT, the taker for TRADE), the oracle key for
 * ORACLE_UPDATE, and `sequencerAddress` for system transactions.
 */
export function txSender(tx: PerpTx, sequencerAddress = 0n): bigint {
  switch (tx.type) {
    case 'DEPLOY_ACCOUNT':
      return accountAddress(tx.publicKey);
    case 'DEPOSIT':
      return tx.recipient;
    case 'WITHDRAW':
    case 'TRANSFER':
    case 'CANCEL':
    case 'CANCEL_ALL':
      return tx.account;
    case 'TRADE':
      return tx.taker.order.account;
    case 'ORACLE_UPDATE':
      return tx.signer;
    case 'INVOKE':
      return tx.sender;
    case 'DEPLOY_ACCOUNT_V3':
      return deployAccountAddress(tx);
    default:
      return sequencerAddress;
  }
}

/** The transaction's own signature ([] for system transactions; TRADE: maker r, s then taker r, s). */
export function txSignature(tx: PerpTx): bigint[] {
  switch (tx.type) {
    case 'DEPLOY_ACCOUNT':
    case 'DEPOSIT':
    case 'WITHDRAW':
    case 'TRANSFER':
    case 'CANCEL':
    case 'CANCEL_ALL':
    case 'ORACLE_UPDATE':
      return [...tx.signature];
    case 'TRADE':
      return [...tx.maker.signature, ...tx.taker.signature];
    case 'INVOKE':
    case 'DEPLOY_ACCOUNT_V3':
      return tx.signature.slice();
    default:
      return [];
  }
}

/** The account nonce the transaction uses (0 for DEPLOY_ACCOUNT), or undefined. */
export function txNonce(tx: PerpTx): bigint | undefined {
  switch (tx.type) {
    case 'WITHDRAW':
    case 'TRANSFER':
    case 'CANCEL_ALL':
    case 'INVOKE':
    case 'DEPLOY_ACCOUNT_V3':
      return tx.nonce;
    case 'DEPLOY_ACCOUNT':
      return 0n;
    default:
      return undefined;
  }
}
