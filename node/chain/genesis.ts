/**
 * Chain definitions (genesis/*.json): parsing with clear errors, and building block 0.
 * Same genesis file -> same state root and same block 0 hash, always: nothing here reads a
 * clock or randomness.
 */
import { readFileSync } from 'node:fs';
import { encodeShortString, getStarkKey, parseFelt, sign, verify } from '../crypto/index.ts';
import { applyGenesis, CONTRACT_CLASSES, parseExchangeGenesis, type ExchangeConfig } from '../../contracts-ts/index.ts';
import type { ExecContext } from '../../contracts-ts/state.ts';
import type { WorldState, FinalizedState } from '../state/index.ts';
import { blockHash, stateDiffCommitment, stateDiffLength, type BlockHeader, type GasPrice, type L1DaMode } from './header.ts';
import { commitments, type Block } from './block.ts';
import type { TrieHash } from '../state/commitment.ts';

export interface Genesis {
  chainIdName: string;
  chainId: bigint;
  starknetVersion: string;
  stateHash: TrieHash;
  timestamp: bigint;
  blockTimeMs: number;
  heartbeatMs: number;
  maxBlockTransactions: number;
  checkpointInterval: number;
  sequencer: { address: bigint; publicKey: bigint; privateKey?: bigint };
  gasPrices: { l1: GasPrice; l1Data: GasPrice; l2: GasPrice };
  l1DaMode: L1DaMode;
  declaredClasses: { classHash: bigint; compiledClassHash: bigint }[];
  contracts: { address: bigint; classHash: bigint; nonce: bigint; storage: [bigint, bigint][] }[];
  exchange: ExchangeConfig;
  /** The file's raw JSON (for `perp_getConfig` and printing dev accounts). */
  raw: any;
}

export class GenesisError extends Error {
  constructor(message: string) {
    super(`genesis: ${message}`);
    this.name = 'GenesisError';
  }
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined || v === null) throw new GenesisError(`missing ${what}`);
  return v;
}

function int(v: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new GenesisError(`${what} must be an integer in [${min}, ${max}]`);
  return v;
}

function felt(v: unknown, what: string): bigint {
  try {
    return parseFelt(v, what);
  } catch (e) {
    throw new GenesisError((e as Error).message);
  }
}

function gasPrice(v: any, what: string): GasPrice {
  if (v === undefined) return { price_in_wei: 1n, price_in_fri: 1n };
  return { price_in_wei: felt(v.price_in_wei, `${what}.price_in_wei`), price_in_fri: felt(v.price_in_fri, `${what}.price_in_fri`) };
}

export function parseGenesis(raw: any): Genesis {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new GenesisError('the file must hold a JSON object');
  const chainIdName = need(raw.chain_id, 'chain_id');
  if (typeof chainIdName !== 'string' || !/^[\x20-\x7e]{1,31}$/.test(chainIdName)) throw new GenesisError('chain_id must be a printable short string of at most 31 characters');
  const stateHash = raw.state_hash ?? 'poseidon';
  if (stateHash !== 'poseidon' && stateHash !== 'pedersen') throw new GenesisError('state_hash must be "pedersen" or "poseidon"');
  const seq = need(raw.sequencer, 'sequencer');
  const publicKey = felt(need(seq.public_key, 'sequencer.public_key'), 'sequencer.public_key');
  let privateKey: bigint | undefined;
  if (seq.private_key !== undefined) {
    privateKey = felt(seq.private_key, 'sequencer.private_key');
    if (getStarkKey(privateKey) !== publicKey) throw new GenesisError('sequencer.private_key does not match sequencer.public_key');
  }
  const daMode = raw.l1_da_mode ?? 'BLOB';
  if (daMode !== 'BLOB' && daMode !== 'CALLDATA') throw new GenesisError('l1_da_mode must be BLOB or CALLDATA');
  const version = raw.starknet_version ?? '0.14.0';
  if (typeof version !== 'string' || version.length > 31) throw new GenesisError('starknet_version must be a short string');
  const declaredClasses = (raw.declared_classes ?? []).map((c: any, i: number) => ({
    classHash: felt(c.class_hash, `declared_classes[${i}].class_hash`),
    compiledClassHash: felt(c.compiled_class_hash, `declared_classes[${i}].compiled_class_hash`),
  }));
  const contracts = (raw.contracts ?? []).map((c: any, i: number) => ({
    address: felt(c.address, `contracts[${i}].address`),
    classHash: felt(c.class_hash, `contracts[${i}].class_hash`),
    nonce: c.nonce === undefined ? 0n : felt(c.nonce, `contracts[${i}].nonce`),
    storage: Object.entries(c.storage ?? {}).map(([k, v]) => [felt(k, `contracts[${i}].storage key`), felt(v, `contracts[${i}].storage[${k}]`)] as [bigint, bigint]),
  }));
  let exchange: ExchangeConfig;
  try {
    exchange = parseExchangeGenesis(need(raw.exchange, 'exchange'));
  } catch (e) {
    throw new GenesisError(`exchange: ${(e as Error).message}`);
  }
  return {
    chainIdName,
    chainId: encodeShortString(chainIdName),
    starknetVersion: version,
    stateHash,
    timestamp: BigInt(int(need(raw.genesis_timestamp, 'genesis_timestamp'), 'genesis_timestamp')),
    blockTimeMs: int(raw.block_time_ms ?? 1000, 'block_time_ms', 1, 3_600_000),
    heartbeatMs: int(raw.heartbeat_ms ?? 10_000, 'heartbeat_ms', 1, 3_600_000),
    maxBlockTransactions: int(raw.max_block_transactions ?? 5000, 'max_block_transactions', 1, 1_000_000),
    checkpointInterval: int(raw.checkpoint_interval ?? 1000, 'checkpoint_interval', 0),
    sequencer: { address: felt(need(seq.address, 'sequencer.address'), 'sequencer.address'), publicKey, privateKey },
    gasPrices: { l1: gasPrice(raw.gas_prices?.l1_gas, 'gas_prices.l1_gas'), l1Data: gasPrice(raw.gas_prices?.l1_data_gas, 'gas_prices.l1_data_gas'), l2: gasPrice(raw.gas_prices?.l2_gas, 'gas_prices.l2_gas') },
    l1DaMode: daMode,
    declaredClasses,
    contracts,
    exchange,
    raw,
  };
}

export function loadGenesis(path: string): Genesis {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new GenesisError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new GenesisError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseGenesis(raw);
}

/** A header with this chain's fixed fields filled in. */
export function headerTemplate(g: Genesis): Pick<BlockHeader, 'sequencer_address' | 'l1_gas_price' | 'l1_data_gas_price' | 'l2_gas_price' | 'l1_da_mode' | 'starknet_version'> {
  return {
    sequencer_address: g.sequencer.address,
    l1_gas_price: g.gasPrices.l1,
    l1_data_gas_price: g.gasPrices.l1Data,
    l2_gas_price: g.gasPrices.l2,
    l1_da_mode: g.l1DaMode,
    starknet_version: g.starknetVersion,
  };
}

export function execContext(g: Genesis, blockNumber: bigint, timestamp: bigint, verifier: (msgHash: bigint, starkKey: bigint, sig: readonly [bigint, bigint]) => boolean = (m, k, s) => verify(m, k, s)): ExecContext {
  return {
    block: { blockNumber, timestamp, chainId: g.chainId, sequencerAddress: g.sequencer.address },
    verify: (msgHash, starkKey, r, s) => verifier(msgHash, starkKey, [r, s]),
  };
}

/**
 * Applies the genesis state to an empty world and returns block 0 (unsigned when the genesis
 * holds no private key: followers then take the signature from the sequencer and check it).
 */
export async function buildGenesisBlock(g: Genesis, world: WorldState): Promise<{ block: Block; state: FinalizedState }> {
  const pending = world.newBlock();
  for (const c of CONTRACT_CLASSES) pending.declareClass(c.classHash, c.compiledClassHash);
  for (const c of g.declaredClasses) pending.declareClass(c.classHash, c.compiledClassHash);
  for (const c of g.contracts) {
    pending.deploy(c.address, c.classHash);
    if (c.nonce) pending.setNonce(c.address, c.nonce);
    for (const [k, v] of c.storage) pending.setStorage(c.address, k, v);
  }
  applyGenesis(pending, g.exchange, execContext(g, 0n, g.timestamp));
  const state = await pending.finalize();
  const header = makeHeader(g, 0n, 0n, g.timestamp, state, commitments([], []));
  const hash = blockHash(header);
  const signature: [bigint, bigint] = g.sequencer.privateKey ? toPair(sign(hash, g.sequencer.privateKey)) : [0n, 0n];
  return { block: { header, hash, signature, transactions: [], receipts: [] }, state };
}

/** A block's header from its number, parent, time, committed state and body commitments. */
export function makeHeader(g: Genesis, number: bigint, parentHash: bigint, timestamp: bigint, state: Pick<FinalizedState, 'root' | 'stateDiff'>, c: ReturnType<typeof commitments>): BlockHeader {
  return {
    ...headerTemplate(g),
    block_number: number,
    parent_hash: parentHash,
    new_root: state.root,
    timestamp,
    transaction_count: c.transaction_count,
    event_count: c.event_count,
    state_diff_length: stateDiffLength(state.stateDiff),
    state_diff_commitment: stateDiffCommitment(state.stateDiff),
    transaction_commitment: c.transaction_commitment,
    event_commitment: c.event_commitment,
    receipt_commitment: c.receipt_commitment,
  };
}

export function toPair(s: { r: bigint; s: bigint }): [bigint, bigint] {
  return [s.r, s.s];
}
