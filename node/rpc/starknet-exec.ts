/**
 * The execution side of the Starknet API: classes, starknet_call, fee estimates, simulations,
 * traces and the write methods (INVOKE and DEPLOY_ACCOUNT v3), over the TypeScript contracts'
 * Starknet face (contracts-ts/starknet/).
 *
 * Reads at a block: contracts-ts is synchronous, stored states are read asynchronously from
 * the tries. A call runs against a cache of the block's state; a read the cache lacks returns 0
 * and is recorded; the missing values are then fetched and the call runs again, until a run
 * reads nothing new (its answer is then exact). Writes of simulations go to an overlay only.
 *
 * Fees: the chain charges no gas. Estimates and simulations report 0 gas consumed of every
 * resource, the genesis gas prices, overall_fee 0, unit FRI; any resource bounds are accepted.
 */
import {
  classByHash,
  EXCHANGE_CLASS,
  executeTransaction,
  OverlayState,
  txCalldata,
  TxRevert,
  type ContractEvent,
  type ExecContext,
  type PerpTx,
  type StateAccess,
} from '../../contracts-ts/index.ts';
import { sierraClassJson, sierraClassHash } from '../../contracts-ts/starknet/class.ts';
import { selectorOf } from '../../contracts-ts/starknet/abi.ts';
import { callView, decodeMulticall, deployAccountAddress, traceWith, type CallTrace, type TxTrace } from '../../contracts-ts/starknet/entrypoints.ts';
import { parseBroadcastedV3, ProofNotSupportedError, UnsupportedVersionError, V3ParseError, type DeployAccountV3Tx, type InvokeTx } from '../../contracts-ts/starknet/tx.ts';
import { encodeShortString, verify } from '../crypto/index.ts';
import { execContext } from '../chain/genesis.ts';
import type { ChainTx } from '../chain/block.ts';
import { RejectedError } from '../sequencer/producer.ts';
import type { Methods } from './jsonrpc.ts';
import type { CallContext } from './http.ts';
import { resolveBlock, type ResolvedBlock, type RpcModules } from './context.ts';
import { blockId, felt, obj } from './params.ts';
import { E, RpcError } from './errors.ts';
import { eventView, hex, perpTxOf } from './views.ts';
import { findTx, stateAt, type StateReader } from './starknet.ts';

// ---- errors (the spec's) -------------------------------------------------------------------------

const SPEC = {
  classHashNotFound: () => new RpcError(28, 'Class hash not found'),
  entrypointNotFound: () => new RpcError(21, 'Requested entry point does not exist in the contract'),
  contractError: (revert_error: string) => new RpcError(40, 'Contract error', { revert_error }),
  txExecutionError: (transaction_index: number, execution_error: string) => new RpcError(41, 'Transaction execution error', { transaction_index, execution_error }),
  compilationError: (compilation_error: string) => new RpcError(100, 'Failed to compile the contract', { compilation_error }),
  classAlreadyDeclared: () => new RpcError(51, 'Class already declared'),
  nonAccount: () => new RpcError(58, 'Sender address is not an account contract'),
  unsupportedTxVersion: () => new RpcError(61, 'the transaction version is not supported'),
  unsupportedClassVersion: () => new RpcError(62, 'the contract class version is not supported'),
  unexpected: (why: string) => new RpcError(63, 'An unexpected error occurred', why),
  invalidProof: () => new RpcError(69, 'The proof field in the invoke v3 transaction is invalid'),
};

/** What a rejected write answers (the write methods' declared errors). */
function writeError(e: unknown): unknown {
  if (e instanceof TxRevert) {
    switch (e.code) {
      case 'INVALID_NONCE':
        return E.invalidNonce(e.message);
      case 'BAD_SIGNATURE':
        return E.validationFailure(e.message);
      case 'NON_ACCOUNT':
        return SPEC.nonAccount();
      case 'CLASS_HASH_NOT_FOUND':
        return SPEC.classHashNotFound();
      case 'DUPLICATE':
        return E.duplicateTx();
      default:
        return SPEC.unexpected(`${e.code}: ${e.message}`);
    }
  }
  if (e instanceof RejectedError) return e.code === 'DUPLICATE_TX' ? E.duplicateTx() : SPEC.unexpected(`${e.code}: ${e.message}`);
  return e;
}

// ---- state at a block, synchronously ---------------------------------------------------------------

const ck = (a: bigint, k: bigint) => `${a.toString(16)}:${k.toString(16)}`;

/** A cache of one block's state; a read it lacks answers 0 and is recorded in `missing`. */
class BlockCache {
  readonly storageV = new Map<string, bigint>();
  readonly contractV = new Map<bigint, { classHash: bigint; nonce: bigint } | null>();
  missing: { storage: [bigint, bigint][]; contracts: bigint[] } = { storage: [], contracts: [] };
  constructor(private readonly reader: StateReader) {}
  getStorage(a: bigint, k: bigint): bigint {
    const v = this.storageV.get(ck(a, k));
    if (v === undefined) {
      this.missing.storage.push([a, k]);
      return 0n;
    }
    return v;
  }
  contract(a: bigint) {
    const c = this.contractV.get(a);
    if (c === undefined) this.missing.contracts.push(a);
    return c ?? null;
  }
  get complete(): boolean {
    return this.missing.storage.length === 0 && this.missing.contracts.length === 0;
  }
  async fill(): Promise<void> {
    const { storage, contracts } = this.missing;
    this.missing = { storage: [], contracts: [] };
    await Promise.all([
      ...storage.map(async ([a, k]) => this.storageV.set(ck(a, k), await this.reader.storage(a, k))),
      ...contracts.map(async (a) => {
        const c = await this.reader.contract(a);
        this.contractV.set(a, c ? { classHash: c.classHash, nonce: c.nonce } : null);
      }),
    ]);
  }
}

/** The spec's STATE_DIFF of an overlay's writes against its base. */
function stateDiff(o: OverlayState) {
  const byAddr = new Map<bigint, { key: string; value: string }[]>();
  for (const { address: a, key: k, value: v } of o.storageWrites.values()) {
    if (o.base.getStorage(a, k) === v) continue;
    let l = byAddr.get(a);
    if (!l) byAddr.set(a, (l = []));
    l.push({ key: hex(k), value: hex(v) });
  }
  return {
    storage_diffs: [...byAddr].map(([a, l]) => ({ address: hex(a), storage_entries: l })),
    deprecated_declared_classes: [] as string[],
    declared_classes: [] as unknown[],
    deployed_contracts: [...o.classWrites].filter(([a]) => o.base.getClassHash(a) === 0n).map(([a, c]) => ({ address: hex(a), class_hash: hex(c) })),
    replaced_classes: [] as unknown[],
    nonces: [...o.nonceWrites].filter(([a, n]) => o.base.getNonce(a) !== n).map(([a, n]) => ({ contract_address: hex(a), nonce: hex(n) })),
  };
}

function cacheBase(c: BlockCache) {
  return { getStorage: (a: bigint, k: bigint) => c.getStorage(a, k), getNonce: (a: bigint) => c.contract(a)?.nonce ?? 0n, getClassHash: (a: bigint) => c.contract(a)?.classHash ?? 0n };
}

/** At most this many fetch rounds per request (each round runs the work once more). */
const MAX_ROUNDS = 64;

/**
 * Runs `work` against the state after `b` until it reads nothing the cache lacks; returns its
 * answer (or throws its error) from that complete run.
 */
async function withStateAt<T>(m: RpcModules, b: ResolvedBlock, work: (base: ReturnType<typeof cacheBase>) => T): Promise<T> {
  const cache = new BlockCache(await stateAt(m, b));
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let out: { ok: true; v: T } | { ok: false; e: unknown };
    try {
      out = { ok: true, v: work(cacheBase(cache)) };
    } catch (e) {
      out = { ok: false, e };
    }
    if (cache.complete) {
      if (out.ok) return out.v;
      throw out.e;
    }
    await cache.fill();
  }
  throw SPEC.unexpected(`the request reads more state than ${MAX_ROUNDS} rounds fetch`);
}

/** The state before a block's first transaction: after the parent (or, for the open block, the head). */
async function parentOf(m: RpcModules, number: bigint): Promise<ResolvedBlock> {
  if (number === 0n) throw SPEC.unexpected('block 0 is the genesis state: it has no transactions to trace');
  return resolveBlock(m, { number: number - 1n });
}

// ---- JSON shapes ------------------------------------------------------------------------------------

const ZERO_RES = { l1_gas: 0, l2_gas: 0 };

function ordered(events: ContractEvent[], from: number) {
  return events.map((e, i) => ({ order: from + i, keys: e.keys.map(hex), data: e.data.map(hex) }));
}

function invocationJson(t: CallTrace, order: { n: number }): Record<string, unknown> {
  const events = ordered(t.events, order.n);
  order.n += t.events.length;
  return {
    contract_address: hex(t.contract),
    entry_point_selector: hex(t.selector),
    calldata: t.calldata.map(hex),
    caller_address: hex(t.caller),
    class_hash: hex(t.classHash),
    entry_point_type: t.entryPointType,
    call_type: 'CALL',
    result: t.result.map(hex),
    calls: t.calls.map((c) => invocationJson(c, order)),
    events,
    messages: [] as unknown[],
    execution_resources: ZERO_RES,
    is_reverted: false,
  };
}

const TX_RES = { l1_gas: 0, l1_data_gas: 0, l2_gas: 0 };

/**
 * A transaction's trace. INVOKE: __validate__ and __execute__ of the account, one nested call
 * per multicall entry with its events. DEPLOY_ACCOUNT v3: __validate_deploy__ and the
 * constructor. A perp_* transaction (order flow, deposits, system transactions): one EXTERNAL
 * call of the Exchange whose selector is sn_keccak of its type (e.g. "TRADE"), its calldata the
 * transaction's felt encoding, with all its events.
 */
function traceJson(m: RpcModules, tx: PerpTx, t: TxTrace, events: ContractEvent[], diff: ReturnType<typeof stateDiff> | undefined): Record<string, unknown> {
  const sd = diff ? { state_diff: diff } : {};
  if (tx.type === 'INVOKE') return { type: 'INVOKE', validate_invocation: t.validate && invocationJson(t.validate, { n: 0 }), execute_invocation: invocationJson(t.execute!, { n: 0 }), ...sd, execution_resources: TX_RES };
  if (tx.type === 'DEPLOY_ACCOUNT_V3') return { type: 'DEPLOY_ACCOUNT', validate_invocation: t.validate && invocationJson(t.validate, { n: 0 }), constructor_invocation: invocationJson(t.deploy!, { n: 0 }), ...sd, execution_resources: TX_RES };
  const ex = m.genesis.exchange;
  const call: CallTrace = {
    contract: ex.exchangeAddress,
    classHash: EXCHANGE_CLASS.classHash,
    selector: selectorOf(tx.type),
    caller: 0n,
    calldata: txCalldata(tx), // the felt encoding starknet_getTransactionByHash shows
    result: [],
    events,
    calls: [],
    entryPointType: 'EXTERNAL',
  };
  return { type: 'INVOKE', execute_invocation: invocationJson(call, { n: 0 }), ...sd, execution_resources: TX_RES };
}


function feeEstimate(m: RpcModules) {
  const g = m.genesis.gasPrices;
  return {
    l1_gas_consumed: '0x0',
    l1_gas_price: hex(g.l1.price_in_fri),
    l2_gas_consumed: '0x0',
    l2_gas_price: hex(g.l2.price_in_fri),
    l1_data_gas_consumed: '0x0',
    l1_data_gas_price: hex(g.l1Data.price_in_fri),
    overall_fee: '0x0',
    unit: 'FRI',
  };
}

// ---- parsing -----------------------------------------------------------------------------------------

const SIM_FLAGS = ['SKIP_VALIDATE', 'SKIP_FEE_CHARGE'] as const;

function simFlags(v: unknown, allowed: readonly string[]): Set<string> {
  if (!Array.isArray(v) || v.length > 8) throw E.invalidParams(`simulation_flags must be a list of ${allowed.join(', ')}`);
  for (const f of v) {
    if (f === 'RETURN_INITIAL_READS') throw E.invalidParams('simulation_flags: RETURN_INITIAL_READS is not supported by this node');
    if (typeof f !== 'string' || !allowed.includes(f)) throw E.invalidParams(`simulation_flags must be a list of ${allowed.join(', ')}`);
  }
  return new Set(v as string[]);
}

/** Broadcasted transactions for estimates/simulations: v3 INVOKE / DEPLOY_ACCOUNT (query versions allowed). */
function broadcastList(v: unknown, name: string): (InvokeTx | DeployAccountV3Tx)[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 64) throw E.invalidParams(`${name} must be a list of 1 to 64 transactions`);
  return v.map((x, i) => {
    if (x && typeof x === 'object' && (x as any).type === 'DECLARE') throw SPEC.txExecutionError(i, 'DECLARE is not supported: this chain runs only its built-in TypeScript classes');
    try {
      return parseBroadcastedV3(x, true, `${name}[${i}]`);
    } catch (e) {
      if (e instanceof V3ParseError) throw E.invalidParams(`${name}[${i}]: ${e.message}`);
      throw e;
    }
  });
}

function parseWrite(v: unknown, type: 'INVOKE' | 'DEPLOY_ACCOUNT', name: string): InvokeTx | DeployAccountV3Tx {
  const o = obj(v, name);
  if (o.type !== type) throw E.invalidParams(`${name}.type must be "${type}"`);
  try {
    return parseBroadcastedV3(o, false, name);
  } catch (e) {
    if (e instanceof UnsupportedVersionError) throw SPEC.unsupportedTxVersion();
    if (e instanceof ProofNotSupportedError) throw SPEC.invalidProof();
    if (e instanceof V3ParseError) throw E.invalidParams(e.message);
    throw e;
  }
}

// ---- the methods --------------------------------------------------------------------------------------

export function starknetExecMethods(m: RpcModules): Methods<CallContext> {
  const g = m.genesis;
  const resolve = (v: unknown) => resolveBlock(m, blockId(v));

  /** The execution context of a block built on top of `b`. */
  const ctxOn = (b: ResolvedBlock, skipValidate = false): ExecContext => {
    const number = b.kind === 'confirmed' ? b.number + 1n : b.number;
    const timestamp = b.kind === 'confirmed' ? b.header.timestamp : b.timestamp;
    return execContext(g, number, timestamp, skipValidate ? () => true : (h, k, s) => verify(h, k, s));
  };

  /** The node-filled part of an INVOKE: the open orders each cancel_all call cancels. */
  const withHints = (tx: InvokeTx): InvokeTx => (m.exchange ? { ...tx, cancelAllHashes: m.exchange.cancelAllHints(tx) } : tx);

  /** Executes transactions in order on an overlay; each with its trace, events and diff. */
  const simulate = (base: ReturnType<typeof cacheBase>, txs: PerpTx[], ctx: ExecContext, stopOnError: (i: number, e: unknown) => never) => {
    const root = new OverlayState(base);
    const out: { trace: TxTrace; events: ContractEvent[]; diff: ReturnType<typeof stateDiff> }[] = [];
    txs.forEach((tx, i) => {
      const layer = new OverlayState(root);
      const trace: TxTrace = {};
      let events: ContractEvent[];
      try {
        events = executeTransaction(tx, layer, traceWith(ctx, trace), g.exchange).events;
      } catch (e) {
        stopOnError(i, e);
      }
      out.push({ trace, events, diff: stateDiff(layer) });
      layer.applyTo(root);
    });
    return out;
  };

  const executionError = (i: number, e: unknown): never => {
    if (e instanceof TxRevert) throw SPEC.txExecutionError(i, `${e.code}: ${e.message}`);
    throw e;
  };

  /** Replays a block's transactions (every one succeeded when included) with their traces. */
  const replayBlock = async (number: bigint, txs: ChainTx[], timestamp: bigint) => {
    const parent = await parentOf(m, number);
    const parsed = txs.map((t) => {
      const p = perpTxOf(t);
      if (!p) throw SPEC.unexpected(`stored transaction ${hex(t.hash)} does not parse`);
      return p;
    });
    const ctx = execContext(g, number, timestamp, () => true); // their signatures were checked at inclusion
    const runs = await withStateAt(m, parent, (base) => simulate(base, parsed, ctx, (_i, e) => { throw e; }));
    return parsed.map((tx, i) => ({ transaction_hash: hex(txs[i]!.hash), trace_root: traceJson(m, tx, runs[i]!.trace, runs[i]!.events, runs[i]!.diff) }));
  };

  const blockTxsOf = async (b: ResolvedBlock): Promise<{ number: bigint; timestamp: bigint; txs: ChainTx[] }> => {
    if (b.kind === 'pre_confirmed') {
      const open = m.producer?.openBlock;
      return open && open.number === b.number ? { number: b.number, timestamp: open.timestamp, txs: open.txs.slice() } : { number: b.number, timestamp: b.timestamp, txs: [] };
    }
    const body = await m.chain.body(b.number);
    return { number: b.number, timestamp: b.header.timestamp, txs: body?.transactions ?? [] };
  };

  const classJsonOf = (classHash: bigint) => {
    const c = classByHash(classHash);
    if (!c) throw SPEC.classHashNotFound();
    return sierraClassJson(c.sierra);
  };

  const producer = () => {
    if (!m.producer) throw SPEC.unexpected('this node is a follower: send transactions to the sequencer');
    return m.producer;
  };

  return {
    starknet_getClass: {
      params: ['block_id', 'class_hash'],
      handler: async (p) => {
        await resolve(p.block_id); // every class is declared at genesis: any existing block has them
        return classJsonOf(felt(p.class_hash, 'class_hash'));
      },
    },
    starknet_getClassAt: {
      params: ['block_id', 'contract_address'],
      handler: async (p) => {
        const address = felt(p.contract_address, 'contract_address');
        const c = await (await stateAt(m, await resolve(p.block_id))).contract(address);
        if (!c) throw E.contractNotFound();
        return classJsonOf(c.classHash);
      },
    },
    starknet_getCompiledCasm: {
      params: ['class_hash'],
      handler: (p) => {
        const c = classByHash(felt(p.class_hash, 'class_hash'));
        if (!c) throw SPEC.classHashNotFound();
        throw SPEC.compilationError(`${c.versionedName} is a TypeScript contract: its sierra_program is not executable Sierra and has no CASM`);
      },
    },
    starknet_call: {
      params: ['request', 'block_id'],
      handler: async (p) => {
        const r = obj(p.request, 'request');
        for (const k of Object.keys(r)) if (!['contract_address', 'entry_point_selector', 'calldata'].includes(k)) throw E.invalidParams(`request: unknown field "${k}"`);
        const address = felt(r.contract_address, 'request.contract_address');
        const selector = felt(r.entry_point_selector, 'request.entry_point_selector');
        if (!Array.isArray(r.calldata) || r.calldata.length > 4096) throw E.invalidParams('request.calldata must be a list of at most 4096 felts');
        const calldata = r.calldata.map((x, i) => felt(x, `request.calldata[${i}]`));
        const b = await resolve(p.block_id);
        try {
          const out = await withStateAt(m, b, (base) => callView(new OverlayState(base), g.exchange, address, selector, calldata, (h, k, r1, s1) => verify(h, k, [r1, s1])));
          return out.map(hex);
        } catch (e) {
          if (!(e instanceof TxRevert)) throw e;
          if (e.code === 'CONTRACT_NOT_FOUND') throw E.contractNotFound();
          if (e.code === 'ENTRYPOINT_NOT_FOUND') throw SPEC.entrypointNotFound();
          throw SPEC.contractError(`${e.code}: ${e.message}`);
        }
      },
    },
    starknet_estimateFee: {
      params: ['request', 'simulation_flags', 'block_id'],
      handler: async (p) => {
        const flags = simFlags(p.simulation_flags, ['SKIP_VALIDATE']);
        const txs = broadcastList(p.request, 'request').map((t) => (t.type === 'INVOKE' ? withHints(t) : t));
        const b = await resolve(p.block_id);
        const ctx = ctxOn(b, flags.has('SKIP_VALIDATE'));
        await withStateAt(m, b, (base) => simulate(base, txs, ctx, executionError));
        return txs.map(() => feeEstimate(m));
      },
    },
    starknet_simulateTransactions: {
      params: ['block_id', 'transactions', 'simulation_flags'],
      handler: async (p) => {
        const flags = simFlags(p.simulation_flags, SIM_FLAGS);
        const txs = broadcastList(p.transactions, 'transactions').map((t) => (t.type === 'INVOKE' ? withHints(t) : t));
        const b = await resolve(p.block_id);
        const ctx = ctxOn(b, flags.has('SKIP_VALIDATE'));
        const runs = await withStateAt(m, b, (base) => simulate(base, txs, ctx, executionError));
        return runs.map((r, i) => ({ transaction_trace: traceJson(m, txs[i]!, r.trace, r.events, r.diff), fee_estimation: feeEstimate(m) }));
      },
    },
    starknet_traceTransaction: {
      params: ['transaction_hash'],
      handler: async (p) => {
        const hash = felt(p.transaction_hash, 'transaction_hash');
        const place = await findTx(m, hash);
        if (!place) throw E.txHashNotFound();
        const b = place.where === 'open' ? await resolveBlock(m, { tag: 'pre_confirmed' }) : await resolveBlock(m, { number: place.blockNumber });
        const { number, timestamp, txs } = await blockTxsOf(b);
        const traces = await replayBlock(number, txs.slice(0, place.index + 1), timestamp);
        return traces[place.index]!.trace_root;
      },
    },
    starknet_traceBlockTransactions: {
      params: ['block_id', 'trace_flags?'],
      handler: async (p) => {
        if (p.trace_flags !== undefined) {
          if (!Array.isArray(p.trace_flags) || p.trace_flags.length > 1 || p.trace_flags.some((f) => f !== 'RETURN_INITIAL_READS')) throw E.invalidParams('trace_flags must be a list of RETURN_INITIAL_READS');
          if (p.trace_flags.length) throw E.invalidParams('trace_flags: RETURN_INITIAL_READS is not supported by this node');
        }
        const b = await resolve(p.block_id);
        const { number, timestamp, txs } = await blockTxsOf(b);
        if (txs.length === 0) return [];
        return replayBlock(number, txs, timestamp);
      },
    },
    starknet_addInvokeTransaction: {
      params: ['invoke_transaction'],
      handler: async (p) => {
        const tx = parseWrite(p.invoke_transaction, 'INVOKE', 'invoke_transaction') as InvokeTx;
        const pr = producer();
        try {
          const r = m.exchange ? await m.exchange.invoke(tx) : await pr.submit(tx);
          return { transaction_hash: hex(r.hash) };
        } catch (e) {
          throw writeError(e);
        }
      },
    },
    starknet_addDeployAccountTransaction: {
      params: ['deploy_account_transaction'],
      handler: async (p) => {
        const tx = parseWrite(p.deploy_account_transaction, 'DEPLOY_ACCOUNT', 'deploy_account_transaction') as DeployAccountV3Tx;
        try {
          const r = await producer().submit(tx);
          return { transaction_hash: hex(r.hash), contract_address: hex(deployAccountAddress(tx)) };
        } catch (e) {
          throw writeError(e);
        }
      },
    },
    starknet_addDeclareTransaction: {
      params: ['declare_transaction'],
      handler: (p) => {
        const o = obj(p.declare_transaction, 'declare_transaction');
        if (o.type !== 'DECLARE') throw E.invalidParams('declare_transaction.type must be "DECLARE"');
        if (o.version !== '0x3') throw SPEC.unsupportedTxVersion();
        const cc = o.contract_class as any;
        try {
          if (cc && Array.isArray(cc.sierra_program) && cc.entry_points_by_type && typeof cc.abi === 'string') {
            const h = sierraClassHash({ ...cc, sierra_program: cc.sierra_program.map(BigInt), entry_points_by_type: Object.fromEntries(Object.entries(cc.entry_points_by_type).map(([k, l]: [string, any]) => [k, l.map((e: any) => ({ selector: BigInt(e.selector), function_idx: e.function_idx }))])) });
            if (classByHash(h)) throw SPEC.classAlreadyDeclared();
          }
        } catch (e) {
          if (e instanceof RpcError) throw e;
        }
        // No Cairo VM: a class other than the built-in TypeScript ones cannot run here.
        throw SPEC.unsupportedClassVersion();
      },
    },
    starknet_estimateMessageFee: {
      params: ['message', 'block_id'],
      handler: async (p) => {
        const msg = obj(p.message, 'message');
        for (const k of ['from_address', 'to_address', 'entry_point_selector', 'payload']) if (msg[k] === undefined) throw E.invalidParams(`message: missing field "${k}"`);
        const to = felt(msg.to_address, 'message.to_address');
        const c = await (await stateAt(m, await resolve(p.block_id))).contract(to);
        if (!c) throw E.contractNotFound();
        // No class here has an L1 handler: this chain has no L1 messaging.
        throw SPEC.contractError('this chain has no L1 messaging: no contract has an L1_HANDLER entry point');
      },
    },
    starknet_getMessagesStatus: {
      params: ['transaction_hash'],
      handler: (p) => {
        felt(p.transaction_hash, 'transaction_hash');
        // No L1: no L1 transaction ever sent a message to this chain.
        throw E.txHashNotFound();
      },
    },
  };
}
