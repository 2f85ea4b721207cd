/**
 * Starknet v3 transactions, as wallets sign them: INVOKE (an account's multicall) and
 * DEPLOY_ACCOUNT. Their hashes are Starknet's v3 transaction hashes (SNIP-8), bit for bit:
 *
 *   common = [prefix, version, sender, poseidon(tip, L1_GAS bound, L2_GAS bound, L1_DATA bound),
 *             poseidon(paymaster_data), chain_id, nonce, (nonce_da << 32) + fee_da]
 *   bound  = (resource name << 192) + (max_amount << 128) + max_price_per_unit
 *   INVOKE:         poseidon(common, poseidon(account_deployment_data), poseidon(calldata))
 *   DEPLOY_ACCOUNT: poseidon(common, poseidon(constructor_calldata), class_hash, salt)
 *
 * version is 3, or 2^128 + 3 for a query (estimateFee / simulateTransactions only; a query is
 * never included in a block). The chain charges no gas: resource bounds and tip are carried and
 * hashed but not enforced.
 */
import { encodeShortString, poseidonHashMany } from '../crypto.ts';

export interface Bound {
  maxAmount: bigint;
  maxPricePerUnit: bigint;
}

export interface ResourceBounds {
  l1Gas: Bound;
  l1DataGas: Bound;
  l2Gas: Bound;
}

export type DaMode = 'L1' | 'L2';

interface V3Common {
  nonce: bigint;
  signature: bigint[];
  resourceBounds: ResourceBounds;
  tip: bigint;
  paymasterData: bigint[];
  nonceDaMode: DaMode;
  feeDaMode: DaMode;
  /** A query version (2^128 + 3): only for estimates and simulations. */
  query: boolean;
}

export interface InvokeTx extends V3Common {
  type: 'INVOKE';
  sender: bigint;
  calldata: bigint[];
  accountDeploymentData: bigint[];
  /**
   * Filled in by the node, not signed: for each `cancel_all` call of the multicall (in call
   * order), the account's open order hashes the sequencer holds (the chain cannot list them;
   * as in CANCEL_ALL).
   */
  cancelAllHashes: bigint[][];
}

export interface DeployAccountV3Tx extends V3Common {
  type: 'DEPLOY_ACCOUNT_V3';
  classHash: bigint;
  salt: bigint;
  constructorCalldata: bigint[];
}

export const QUERY_VERSION_OFFSET = 1n << 128n;

const INVOKE_PREFIX = encodeShortString('invoke');
const DEPLOY_ACCOUNT_PREFIX = encodeShortString('deploy_account');
const L1_GAS = encodeShortString('L1_GAS');
const L2_GAS = encodeShortString('L2_GAS');
const L1_DATA = encodeShortString('L1_DATA');

const bound = (name: bigint, b: Bound) => (name << 192n) + (b.maxAmount << 128n) + b.maxPricePerUnit;
const da = (m: DaMode) => (m === 'L1' ? 0n : 1n);

function common(prefix: bigint, sender: bigint, tx: V3Common, chainId: bigint): bigint[] {
  const rb = tx.resourceBounds;
  return [
    prefix,
    tx.query ? QUERY_VERSION_OFFSET + 3n : 3n,
    sender,
    poseidonHashMany([tx.tip, bound(L1_GAS, rb.l1Gas), bound(L2_GAS, rb.l2Gas), bound(L1_DATA, rb.l1DataGas)]),
    poseidonHashMany(tx.paymasterData),
    chainId,
    tx.nonce,
    (da(tx.nonceDaMode) << 32n) + da(tx.feeDaMode),
  ];
}

export function invokeTxHash(tx: InvokeTx, chainId: bigint): bigint {
  return poseidonHashMany([...common(INVOKE_PREFIX, tx.sender, tx, chainId), poseidonHashMany(tx.accountDeploymentData), poseidonHashMany(tx.calldata)]);
}

export function deployAccountTxHash(tx: DeployAccountV3Tx, address: bigint, chainId: bigint): bigint {
  return poseidonHashMany([...common(DEPLOY_ACCOUNT_PREFIX, address, tx, chainId), poseidonHashMany(tx.constructorCalldata), tx.classHash, tx.salt]);
}

// ---- JSON (the spec's field names; felts as 0x-hex) ------------------------------------------------

/** Codec caps (untrusted input). */
export const V3_LIMITS = { calldata: 4096, signature: 16, paymasterData: 64, accountDeploymentData: 64, constructorCalldata: 64, cancelAllHashes: 100_000, calls: 64 } as const;

const h = (x: bigint) => '0x' + x.toString(16);
const boundJson = (b: Bound) => ({ max_amount: h(b.maxAmount), max_price_per_unit: h(b.maxPricePerUnit) });

export function resourceBoundsJson(rb: ResourceBounds) {
  return { l1_gas: boundJson(rb.l1Gas), l1_data_gas: boundJson(rb.l1DataGas), l2_gas: boundJson(rb.l2Gas) };
}

/** The spec's INVOKE_TXN_V3 / DEPLOY_ACCOUNT_TXN_V3 fields (no transaction_hash). */
export function v3TxJson(tx: InvokeTx | DeployAccountV3Tx): Record<string, unknown> {
  const base = {
    version: tx.query ? h(QUERY_VERSION_OFFSET + 3n) : '0x3',
    signature: tx.signature.map(h),
    nonce: h(tx.nonce),
    resource_bounds: resourceBoundsJson(tx.resourceBounds),
    tip: h(tx.tip),
    paymaster_data: tx.paymasterData.map(h),
    nonce_data_availability_mode: tx.nonceDaMode,
    fee_data_availability_mode: tx.feeDaMode,
  };
  if (tx.type === 'INVOKE') return { type: 'INVOKE', sender_address: h(tx.sender), calldata: tx.calldata.map(h), ...base, account_deployment_data: tx.accountDeploymentData.map(h) };
  return { type: 'DEPLOY_ACCOUNT', ...base, contract_address_salt: h(tx.salt), constructor_calldata: tx.constructorCalldata.map(h), class_hash: h(tx.classHash) };
}

export class V3ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'V3ParseError';
  }
}

type Obj = Record<string, unknown>;
const HEX = /^0x[0-9a-fA-F]{1,64}$/;
const P = 2n ** 251n + 17n * 2n ** 192n + 1n;

function fail(m: string): never {
  throw new V3ParseError(m);
}
function felt(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !HEX.test(v)) fail(`${what} must be a 0x-prefixed hex felt`);
  const x = BigInt(v);
  if (x >= P) fail(`${what} is not a field element`);
  return x;
}
function uint(v: unknown, bits: bigint, what: string): bigint {
  const x = felt(v, what);
  if (x >= 1n << bits) fail(`${what} must fit in ${bits} bits`);
  return x;
}
function felts(v: unknown, max: number, what: string): bigint[] {
  if (!Array.isArray(v)) fail(`${what} must be a list of felts`);
  if (v.length > max) fail(`${what} has more than ${max} entries`);
  return v.map((x, i) => felt(x, `${what}[${i}]`));
}
function daMode(v: unknown, what: string): DaMode {
  if (v !== 'L1' && v !== 'L2') fail(`${what} must be "L1" or "L2"`);
  return v;
}
function obj(v: unknown, what: string): Obj {
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail(`${what} must be an object`);
  return v as Obj;
}
function keys(o: Obj, required: readonly string[], optional: readonly string[], what: string): void {
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) fail(`${what}: unknown field "${k}"`);
  for (const k of required) if (o[k] === undefined) fail(`${what}: missing field "${k}"`);
}
function boundOf(v: unknown, what: string): Bound {
  const o = obj(v, what);
  keys(o, ['max_amount', 'max_price_per_unit'], [], what);
  return { maxAmount: uint(o.max_amount, 64n, `${what}.max_amount`), maxPricePerUnit: uint(o.max_price_per_unit, 128n, `${what}.max_price_per_unit`) };
}
function boundsOf(v: unknown): ResourceBounds {
  const o = obj(v, 'resource_bounds');
  keys(o, ['l1_gas', 'l1_data_gas', 'l2_gas'], [], 'resource_bounds');
  return { l1Gas: boundOf(o.l1_gas, 'resource_bounds.l1_gas'), l1DataGas: boundOf(o.l1_data_gas, 'resource_bounds.l1_data_gas'), l2Gas: boundOf(o.l2_gas, 'resource_bounds.l2_gas') };
}

/** Thrown for a version other than v3 (the RPC answers UNSUPPORTED_TX_VERSION). */
export class UnsupportedVersionError extends V3ParseError {}

function version(v: unknown, allowQuery: boolean): boolean {
  if (v === '0x3') return false;
  if (typeof v === 'string' && HEX.test(v) && BigInt(v) === QUERY_VERSION_OFFSET + 3n) {
    if (!allowQuery) throw new UnsupportedVersionError('a query version (0x100000000000000000000000000000003) is only for estimateFee and simulateTransactions');
    return true;
  }
  throw new UnsupportedVersionError(`transaction version ${typeof v === 'string' ? v : JSON.stringify(v)} is not supported: only v3 ("0x3")`);
}

const COMMON = ['type', 'version', 'signature', 'nonce', 'resource_bounds', 'tip', 'paymaster_data', 'nonce_data_availability_mode', 'fee_data_availability_mode'] as const;

function commonOf(o: Obj, allowQuery: boolean): V3Common {
  return {
    query: version(o.version, allowQuery),
    signature: felts(o.signature, V3_LIMITS.signature, 'signature'),
    nonce: felt(o.nonce, 'nonce'),
    resourceBounds: boundsOf(o.resource_bounds),
    tip: uint(o.tip, 64n, 'tip'),
    paymasterData: felts(o.paymaster_data, V3_LIMITS.paymasterData, 'paymaster_data'),
    nonceDaMode: daMode(o.nonce_data_availability_mode, 'nonce_data_availability_mode'),
    feeDaMode: daMode(o.fee_data_availability_mode, 'fee_data_availability_mode'),
  };
}

/** Thrown for proof / proof_facts (the RPC answers INVALID_PROOF: this chain verifies none). */
export class ProofNotSupportedError extends V3ParseError {}

/**
 * A BROADCASTED_INVOKE_TXN or BROADCASTED_DEPLOY_ACCOUNT_TXN from a wallet. Strict: exact
 * fields, exact types (the spec's), bounded lists. Versions other than v3 throw
 * UnsupportedVersionError; a `proof` or non-empty `proof_facts` throws ProofNotSupportedError.
 */
export function parseBroadcastedV3(v: unknown, allowQuery: boolean, what = 'transaction'): InvokeTx | DeployAccountV3Tx {
  const o = obj(v, what);
  if (o.type === 'INVOKE') {
    version(o.version, allowQuery); // first: a v1 transaction has other fields
    keys(o, [...COMMON, 'sender_address', 'calldata', 'account_deployment_data'], ['proof', 'proof_facts'], what);
    if (o.proof !== undefined || (Array.isArray(o.proof_facts) && o.proof_facts.length > 0)) throw new ProofNotSupportedError('this chain verifies no proofs: send no proof and empty proof_facts');
    if (o.proof_facts !== undefined && !Array.isArray(o.proof_facts)) fail('proof_facts must be a list');
    const sender = felt(o.sender_address, 'sender_address');
    if (sender >= 1n << 251n) fail('sender_address must be below 2^251');
    return {
      type: 'INVOKE',
      sender,
      calldata: felts(o.calldata, V3_LIMITS.calldata, 'calldata'),
      accountDeploymentData: felts(o.account_deployment_data, V3_LIMITS.accountDeploymentData, 'account_deployment_data'),
      cancelAllHashes: [],
      ...commonOf(o, allowQuery),
    };
  }
  if (o.type === 'DEPLOY_ACCOUNT') {
    version(o.version, allowQuery);
    keys(o, [...COMMON, 'contract_address_salt', 'constructor_calldata', 'class_hash'], [], what);
    return {
      type: 'DEPLOY_ACCOUNT_V3',
      classHash: felt(o.class_hash, 'class_hash'),
      salt: felt(o.contract_address_salt, 'contract_address_salt'),
      constructorCalldata: felts(o.constructor_calldata, V3_LIMITS.constructorCalldata, 'constructor_calldata'),
      ...commonOf(o, allowQuery),
    };
  }
  fail(`${what}.type must be "INVOKE" or "DEPLOY_ACCOUNT"`);
}

/** The stored JSON form (inside a block body): the spec fields plus the node-filled hints. */
export function v3ToStoredJson(tx: InvokeTx | DeployAccountV3Tx): Record<string, unknown> {
  const j = v3TxJson(tx);
  return tx.type === 'INVOKE' ? { ...j, type: 'INVOKE', cancel_all_hashes: tx.cancelAllHashes.map((l) => l.map(h)) } : { ...j, type: 'DEPLOY_ACCOUNT_V3' };
}

export function v3FromStoredJson(o: Obj): InvokeTx | DeployAccountV3Tx {
  if (o.type === 'INVOKE') {
    const { cancel_all_hashes, ...rest } = o;
    if (!Array.isArray(cancel_all_hashes) || cancel_all_hashes.length > V3_LIMITS.calls) fail('cancel_all_hashes must be a list');
    const tx = parseBroadcastedV3(rest, false) as InvokeTx;
    tx.cancelAllHashes = cancel_all_hashes.map((l, i) => felts(l, V3_LIMITS.cancelAllHashes, `cancel_all_hashes[${i}]`));
    return tx;
  }
  if (o.type === 'DEPLOY_ACCOUNT_V3') return parseBroadcastedV3({ ...o, type: 'DEPLOY_ACCOUNT' }, false);
  fail('not a v3 transaction');
}
