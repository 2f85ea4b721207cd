/**
 * The contracts' Starknet entry points: views (starknet_call), the account's __validate__ /
 * __execute__ / __validate_deploy__ (INVOKE and DEPLOY_ACCOUNT v3 transactions), and the
 * exchange's external functions reached through an account's multicall.
 *
 * Authorization. An exchange call inside __execute__ is made BY the account (its caller): the
 * account's __validate__ already checked the transaction signature (over the Starknet v3 hash,
 * with the account's stark key) and nonce. Each call runs the very same contracts-ts rule as
 * its perp_* twin (WITHDRAW, TRANSFER, CANCEL, CANCEL_ALL through executeTransaction: the same
 * mode gate, limits, errors and events), with the account's authorization standing in for the
 * typed-data signature, and consuming the transaction's nonce: each nonce-using call sees the
 * account nonce equal to the transaction nonce, and the transaction leaves it at nonce + 1
 * (Starknet: one nonce per transaction, however many calls).
 *
 * All calls of a transaction succeed or none does (the node undoes the whole transaction).
 */
import { decodeShortString, encodeShortString } from '../crypto.ts';
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import { TxRevert } from '../state.ts';
import type { ExchangeConfig } from '../config.ts';
import { ACCOUNT_CLASS, accountAddress, classByHash, contractAddress, EXCHANGE_CLASS, VAULT_CLASS, type ContractClass } from '../classes.ts';
import { ACC } from '../layout.ts';
import { checkSig, deployAccount, isAccount } from '../account/account.ts';
import { collateralOf, fundingIndexOf, markPriceOf, positionOf } from '../exchange/ledger.ts';
import { getMode } from '../exchange/modes.ts';
import { event } from '../exchange/events.ts';
import { fromFelt, toFelt, U128_MAX } from '../math.ts';
import type { PerpTx } from '../tx.ts';
import { functionBySelector, selectorOf, type AbiFunction } from './abi.ts';
import { deployAccountTxHash, invokeTxHash, V3_LIMITS, type DeployAccountV3Tx, type InvokeTx } from './tx.ts';

/** 'VALID' (SNIP-6 is_valid_signature's success value). */
export const VALID = encodeShortString('VALID');
/** SRC5 interface ids: ISRC6 (accounts) and ISRC5 itself. */
export const SRC6_ID = 0x2ceccef7f994940b3962a6c67e0ba4fcd37df7d131417c604f91e03caecc1cd5n;
export const SRC5_ID = 0x3f918d17e5ee77373b56385708f855659a07f75997f365cf87748628532a055n;
const ALL = encodeShortString('ALL');
const ADDR_LIMIT = 1n << 251n;

export type Executor = (tx: PerpTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig) => { events: ContractEvent[] };

/** One call of an invocation tree (for traces). */
export interface CallTrace {
  contract: bigint;
  classHash: bigint;
  selector: bigint;
  caller: bigint;
  calldata: bigint[];
  result: bigint[];
  events: ContractEvent[];
  calls: CallTrace[];
  entryPointType: 'EXTERNAL' | 'CONSTRUCTOR';
}

export interface TxTrace {
  validate?: CallTrace;
  execute?: CallTrace;
  deploy?: CallTrace;
}

const sinks = new WeakMap<ExecContext, TxTrace>();
/** Executions under this context record their invocation tree into `trace`. */
export function traceWith(ctx: ExecContext, trace: TxTrace): ExecContext {
  const c = { ...ctx };
  sinks.set(c, trace);
  return c;
}

function fail(code: string, message: string): never {
  throw new TxRevert(code, message);
}

// ---- calldata (Cairo 1 serde) ----------------------------------------------------------------------

class Reader {
  private i = 0;
  private param = 0;
  constructor(
    private readonly cd: readonly bigint[],
    private readonly fn: string,
  ) {}
  private bad(): never {
    fail('INVALID_CALLDATA', `Failed to deserialize param #${this.param} of ${this.fn}`);
  }
  private next(): bigint {
    const x = this.cd[this.i++];
    if (x === undefined) this.bad();
    return x;
  }
  read(type: AbiFunction['inputs'][number]['type']): bigint | bigint[] {
    this.param++;
    switch (type) {
      case 'felt252':
        return this.next();
      case 'ContractAddress': {
        const x = this.next();
        if (x >= ADDR_LIMIT) this.bad();
        return x;
      }
      case 'u128': {
        const x = this.next();
        if (x > U128_MAX) this.bad();
        return x;
      }
      case 'bool': {
        const x = this.next();
        if (x > 1n) this.bad();
        return x;
      }
      case 'Array<felt252>': {
        const n = this.next();
        if (n > BigInt(this.cd.length - this.i)) this.bad();
        const out = this.cd.slice(this.i, this.i + Number(n));
        this.i += Number(n);
        return out;
      }
      default:
        this.bad();
    }
  }
  end(): void {
    if (this.i !== this.cd.length) fail('INVALID_CALLDATA', `${this.fn}: ${this.cd.length - this.i} felts of calldata left over`);
  }
}

function args(fn: AbiFunction, calldata: readonly bigint[]): (bigint | bigint[])[] {
  const r = new Reader(calldata, fn.name);
  const out = fn.inputs.map((i) => r.read(i.type));
  r.end();
  return out;
}

export interface Call {
  to: bigint;
  selector: bigint;
  calldata: bigint[];
}

/** Cairo 1 multicall calldata: [n, (to, selector, calldata_len, ...calldata) * n]. */
export function decodeMulticall(cd: readonly bigint[]): Call[] {
  const bad = (why: string): never => fail('INVALID_CALLDATA', `Failed to deserialize param #1 of __execute__ (Array<Call>): ${why}`);
  if (cd.length === 0) bad('empty calldata');
  const n = cd[0]!;
  if (n > BigInt(V3_LIMITS.calls)) bad(`more than ${V3_LIMITS.calls} calls`);
  const calls: Call[] = [];
  let i = 1;
  for (let k = 0; k < Number(n); k++) {
    if (i + 3 > cd.length) bad(`call ${k} is truncated`);
    const to = cd[i]!;
    const selector = cd[i + 1]!;
    const len = cd[i + 2]!;
    i += 3;
    if (to >= ADDR_LIMIT) bad(`call ${k}: address out of range`);
    if (len > BigInt(cd.length - i)) bad(`call ${k}: calldata is truncated`);
    calls.push({ to, selector, calldata: cd.slice(i, i + Number(len)) });
    i += Number(len);
  }
  if (i !== cd.length) bad(`${cd.length - i} felts left over`);
  return calls;
}

export function encodeMulticall(calls: readonly Call[]): bigint[] {
  return [BigInt(calls.length), ...calls.flatMap((c) => [c.to, c.selector, BigInt(c.calldata.length), ...c.calldata])];
}

// ---- views -------------------------------------------------------------------------------------------

function marketOf(cfg: ExchangeConfig, id: bigint) {
  const m = cfg.marketById.get(id);
  if (!m) {
    let s: string;
    try {
      s = decodeShortString(id);
    } catch {
      s = '0x' + id.toString(16);
    }
    fail('UNKNOWN_MARKET', `no such market: ${s}`);
  }
  return m;
}

type ViewFn = (st: StateAccess, cfg: ExchangeConfig, self: bigint, a: (bigint | bigint[])[], verify: ExecContext['verify']) => bigint[];

const VIEWS: Record<string, ViewFn> = {
  // Exchange
  get_collateral: (st, _cfg, _self, [account]) => [toFelt(collateralOf(st, account as bigint))],
  get_position: (st, cfg, _self, [account, market]) => {
    const p = positionOf(st, account as bigint, marketOf(cfg, market as bigint));
    return [toFelt(p.size), toFelt(p.cost), toFelt(p.fundingSnapshot)];
  },
  get_mark_price: (st, cfg, _self, [market]) => [markPriceOf(st, cfg, marketOf(cfg, market as bigint))],
  get_funding_index: (st, cfg, _self, [market]) => [toFelt(fundingIndexOf(st, cfg, marketOf(cfg, market as bigint)))],
  get_mode: (st, cfg) => [encodeShortString(getMode(st, cfg))],
  // LiquidatorVault
  get_balance: (st, cfg) => [toFelt(collateralOf(st, cfg.vaultAddress))],
  // Account
  get_public_key: (st, _cfg, self) => [st.getStorage(self, ACC.publicKey)],
  is_valid_signature: (st, _cfg, self, [hash, sig], verify) => {
    const s = sig as bigint[];
    const key = st.getStorage(self, ACC.publicKey);
    return [s.length === 2 && verify(hash as bigint, key, s[0]!, s[1]!) ? VALID : 0n];
  },
  supports_interface: (_st, _cfg, _self, [id]) => [id === SRC6_ID || id === SRC5_ID ? 1n : 0n],
};

/** The class deployed at `address`, or throws CONTRACT_NOT_FOUND. */
export function classAt(st: StateAccess, address: bigint): ContractClass {
  const c = classByHash(st.getClassHash(address));
  if (!c) fail('CONTRACT_NOT_FOUND', `no contract at 0x${address.toString(16)}`);
  return c;
}

function fnOf(c: ContractClass, selector: bigint): AbiFunction {
  const fn = functionBySelector(c.abi, selector);
  if (!fn) fail('ENTRYPOINT_NOT_FOUND', `${c.name} has no entry point with selector 0x${selector.toString(16)}`);
  return fn;
}

/**
 * starknet_call: a view of the contract at `address` (reads only). Throws TxRevert with code
 * CONTRACT_NOT_FOUND, ENTRYPOINT_NOT_FOUND, INVALID_CALLDATA, EXTERNAL_IN_CALL (a function that
 * only runs inside a transaction) or the rule's own code (e.g. UNKNOWN_MARKET).
 */
export function callView(st: StateAccess, cfg: ExchangeConfig, address: bigint, selector: bigint, calldata: readonly bigint[], verify: ExecContext['verify']): bigint[] {
  const c = classAt(st, address);
  const fn = fnOf(c, selector);
  const view = VIEWS[fn.name];
  if (fn.mutability !== 'view' || !view) fail('EXTERNAL_IN_CALL', `${c.name}.${fn.name} runs only inside a transaction (send an INVOKE through an account)`);
  return view(st, cfg, address, args(fn, calldata), verify);
}

// ---- transactions ------------------------------------------------------------------------------------

function trace(contract: bigint, classHash: bigint, selector: bigint, caller: bigint, calldata: bigint[], entryPointType: CallTrace['entryPointType'] = 'EXTERNAL'): CallTrace {
  return { contract, classHash, selector, caller, calldata, result: [], events: [], calls: [], entryPointType };
}

/** [r, s]; any other length is [0, 0], which never verifies (except where validation is skipped: simulations). */
function sigPair(sig: readonly bigint[]): [bigint, bigint] {
  return sig.length === 2 ? [sig[0]!, sig[1]!] : [0n, 0n];
}

/** __validate__: the nonce is the account's, the signature [r, s] is by its key over the hash. */
function validateInvoke(tx: InvokeTx, st: StateAccess, ctx: ExecContext): bigint {
  if (!isAccount(st, tx.sender)) fail('NON_ACCOUNT', `0x${tx.sender.toString(16)} is not a deployed account`);
  const cur = st.getNonce(tx.sender);
  if (tx.nonce !== cur) fail('INVALID_NONCE', `nonce is not the account nonce: expected ${cur}, got ${tx.nonce}`);
  const hash = invokeTxHash(tx, ctx.block.chainId);
  const key = st.getStorage(tx.sender, ACC.publicKey);
  const [r, s] = sigPair(tx.signature);
  if (!ctx.verify(hash, key, r, s)) fail('BAD_SIGNATURE', 'signature does not verify: the account key must sign the transaction hash, as [r, s]');
  return hash;
}

/** INVOKE: __validate__, then __execute__ runs each call. */
export function execInvoke(tx: InvokeTx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig, exec: Executor): ContractEvent[] {
  const sink = sinks.get(ctx);
  const cd = tx.calldata;
  if (sink) sink.validate = trace(tx.sender, ACCOUNT_CLASS.classHash, selectorOf('__validate__'), 0n, cd);
  validateInvoke(tx, st, ctx);
  if (sink) sink.validate!.result = [VALID];
  const calls = decodeMulticall(cd);
  const top = trace(tx.sender, ACCOUNT_CLASS.classHash, selectorOf('__execute__'), 0n, cd);
  if (sink) sink.execute = top;
  // Exchange rules check a typed-data signature; inside __execute__ the account's own
  // authorization (validated above) stands in for it.
  const authorized: ExecContext = { block: ctx.block, verify: () => true };
  const hints = tx.cancelAllHashes.slice();
  const events: ContractEvent[] = [];
  const results: bigint[][] = [];
  for (const call of calls) {
    const c = classAt(st, call.to);
    const fn = fnOf(c, call.selector);
    const t = trace(call.to, c.classHash, call.selector, tx.sender, call.calldata);
    const callable = (c === EXCHANGE_CLASS && call.to === cfg.exchangeAddress) || (fn.mutability === 'view' && VIEWS[fn.name]);
    if (!callable) fail('INVALID_CALLER', `${c.name}.${fn.name} cannot be called from an account's __execute__`);
    const a = args(fn, call.calldata);
    let inner: PerpTx | undefined;
    if (c === EXCHANGE_CLASS && call.to === cfg.exchangeAddress) {
      const account = tx.sender;
      const nonce = tx.nonce;
      const sig: [bigint, bigint] = [0n, 0n];
      switch (fn.name) {
        case 'withdraw':
          inner = { type: 'WITHDRAW', account, amount: a[0] as bigint, recipient: a[1] as bigint, nonce, signature: sig };
          break;
        case 'transfer':
          inner = { type: 'TRANSFER', account, recipient: a[0] as bigint, amount: a[1] as bigint, nonce, signature: sig };
          break;
        case 'cancel_order':
          inner = { type: 'CANCEL', account, orderHash: a[0] as bigint, signature: sig };
          break;
        case 'cancel_all': {
          const m = a[0] as bigint;
          const market = m === ALL ? 'ALL' : marketOf(cfg, m).symbol;
          inner = { type: 'CANCEL_ALL', account, market, nonce, signature: sig, orderHashes: hints.shift() ?? [] };
          break;
        }
      }
    }
    if (inner) {
      st.setNonce(tx.sender, tx.nonce); // the transaction's nonce, for each call that uses one
      t.events = exec(inner, st, authorized, cfg).events;
      events.push(...t.events);
    } else t.result = VIEWS[fn.name]!(st, cfg, call.to, a, ctx.verify);
    results.push(t.result);
    top.calls.push(t);
  }
  st.setNonce(tx.sender, tx.nonce + 1n);
  top.result = [BigInt(results.length), ...results.flatMap((r) => [BigInt(r.length), ...r])];
  return events;
}

/** The address a DEPLOY_ACCOUNT v3 deploys to (Starknet's derivation, deployer 0). */
export function deployAccountAddress(tx: DeployAccountV3Tx): bigint {
  return contractAddress(tx.salt, tx.classHash, tx.constructorCalldata, 0n);
}

/**
 * DEPLOY_ACCOUNT v3: the Account class, constructor_calldata = [public_key] and salt =
 * public_key, so the address is exactly the one perp_deployAccount derives (accountAddress).
 * __validate_deploy__ checks nonce 0 and the signature by that key over the v3 hash; then the
 * same deployAccount rule as DEPLOY_ACCOUNT runs (nonce 1, registered, AccountDeployed event).
 */
export function execDeployAccountV3(tx: DeployAccountV3Tx, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig): ContractEvent[] {
  const sink = sinks.get(ctx);
  if (tx.classHash !== ACCOUNT_CLASS.classHash) fail('CLASS_HASH_NOT_FOUND', `class 0x${tx.classHash.toString(16)} is not the account class 0x${ACCOUNT_CLASS.classHash.toString(16)}`);
  const key = tx.constructorCalldata[0];
  if (tx.constructorCalldata.length !== 1 || key === undefined || key === 0n || key >= ADDR_LIMIT) fail('INVALID_CALLDATA', 'constructor_calldata must be [public_key] (a nonzero stark key below 2^251)');
  if (tx.salt !== key) fail('INVALID_CALLDATA', 'contract_address_salt must be the public key (the account address is derived from it)');
  const address = deployAccountAddress(tx);
  if (address !== accountAddress(key)) fail('INVALID_CALLDATA', 'address derivation mismatch');
  if (sink) sink.validate = trace(address, ACCOUNT_CLASS.classHash, selectorOf('__validate_deploy__'), 0n, [tx.classHash, tx.salt, key]);
  if (tx.nonce !== 0n) fail('INVALID_NONCE', `nonce is not the account nonce: expected 0, got ${tx.nonce}`);
  if (st.getClassHash(address) !== 0n) fail('ACCOUNT_EXISTS', `an account is already deployed at 0x${address.toString(16)}`);
  const hash = deployAccountTxHash(tx, address, ctx.block.chainId);
  checkSig(ctx, hash, key, sigPair(tx.signature), 'DeployAccount (v3 transaction hash)');
  if (sink) sink.validate!.result = [VALID];
  deployAccount(st, cfg, key);
  const events = [event(address, 'AccountDeployed', [address], [key])];
  if (sink) sink.deploy = { ...trace(address, ACCOUNT_CLASS.classHash, selectorOf('constructor'), 0n, [key], 'CONSTRUCTOR'), events };
  return events;
}

/** Decodes a felt result of i128 type (for clients and tests). */
export const i128FromFelt = fromFelt;

export { EXCHANGE_CLASS, VAULT_CLASS };
