/**
 * Chain definitions (genesis/*.json): parsing with clear errors, and building block 0.
 * Same genesis file -> same state root and same block 0 hash, always: nothing here reads a
 * clock or randomness.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { backend, encodeShortString, getStarkKey, parseFelt, sign, verify } from '../crypto/index.ts';
import { loadNativeAddon } from '../crypto/native.ts';
import { applyGenesis, CONTRACT_CLASSES, parseExchangeGenesis, type ExchangeConfig } from '../../contracts-ts/index.ts';
import { accountAddress, accountAddresses } from '../../contracts-ts/classes.ts';
import { deployAccount } from '../../contracts-ts/account/account.ts';
import { addCollateral, exAdd } from '../../contracts-ts/exchange/ledger.ts';
import { EX } from '../../contracts-ts/layout.ts';
import { poseidonHashMany } from '../../contracts-ts/crypto.ts';
import type { ExecContext } from '../../contracts-ts/state.ts';
import { WorldState, type FinalizedState, type ReverseDiff } from '../state/index.ts';
import { blockHash, emptyStateDiff, stateDiffCommitment, stateDiffLength, type BlockHeader, type GasPrice, type L1DaMode } from './header.ts';
import { commitments, type Block } from './block.ts';
import type { TrieHash } from '../state/commitment.ts';
import { Meta, Tables } from '../storage/schema.ts';
import { writeBatch, type Db } from '../storage/db.ts';
import { ChainStore } from './store.ts';
import { readAccountsFile, sha256File } from './genesis-accounts.ts';

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
  /**
   * Bulk genesis accounts (`accounts_file`, resolved against the genesis file's directory, and
   * the optional `accounts_count`): read only when block 0 is built, streamed in batches.
   */
  accountsFile?: { path: string; count?: number };
  /** The file's raw JSON (for `perp_getConfig` and printing dev accounts). */
  raw: any;
}

export interface ParseGenesisOptions {
  /** Directory `accounts_file` is relative to (the genesis file's; default the working directory). */
  baseDir?: string;
  /**
   * The file is one its data directory was created from (digest checked): dev_accounts'
   * written addresses and private keys are taken as written (see parseExchangeGenesis).
   */
  trustDevAccounts?: boolean;
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

export function parseGenesis(raw: any, opts: ParseGenesisOptions = {}): Genesis {
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
    exchange = parseExchangeGenesis(need(raw.exchange, 'exchange'), { trustDevAccounts: opts.trustDevAccounts });
  } catch (e) {
    throw new GenesisError(`exchange: ${(e as Error).message}`);
  }
  let accountsFile: Genesis['accountsFile'];
  if (raw.accounts_file !== undefined) {
    if (typeof raw.accounts_file !== 'string' || raw.accounts_file === '') throw new GenesisError('accounts_file must be a path (relative to the genesis file)');
    accountsFile = { path: resolve(opts.baseDir ?? '.', raw.accounts_file) };
    if (raw.accounts_count !== undefined) accountsFile.count = int(raw.accounts_count, 'accounts_count', 1);
  } else if (raw.accounts_count !== undefined) throw new GenesisError('accounts_count needs accounts_file');
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
    ...(accountsFile ? { accountsFile } : {}),
    raw,
  };
}

export function loadGenesis(path: string, opts: Omit<ParseGenesisOptions, 'baseDir'> = {}): Genesis {
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
  return parseGenesis(raw, { ...opts, baseDir: dirname(resolve(path)) });
}

/** The genesis JSON in canonical form: keys sorted, `_` comments and `private_key`s left out. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v && typeof v === 'object') {
    const keys = Object.keys(v as object)
      .filter((k) => !k.startsWith('_') && k !== 'private_key')
      .sort();
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonical((v as Record<string, unknown>)[k])).join(',') + '}';
  }
  return JSON.stringify(v);
}

export interface GenesisDigest {
  /** What meta/genesis records and every start compares (hex SHA-256). */
  digest: string;
  /** SHA-256 of the genesis JSON's canonical form. */
  file: string;
  /** SHA-256 of the accounts file's bytes, when there is one. */
  accountsFile?: string;
}

/**
 * The digest of a chain definition: SHA-256 over the genesis JSON in canonical form (so
 * formatting, `_` comments and private keys, which the chain does not depend on, do not count)
 * and over the accounts file's bytes. Costs one streamed read of the accounts file, no hashing
 * of the state.
 */
export async function genesisDigest(g: Genesis): Promise<GenesisDigest> {
  const file = createHash('sha256').update(canonical(g.raw)).digest('hex');
  const accountsFile = g.accountsFile ? await sha256File(g.accountsFile.path) : undefined;
  const digest = createHash('sha256')
    .update(`perpnode-genesis-v1\n${file}\n${accountsFile ?? '-'}`)
    .digest('hex');
  return accountsFile ? { digest, file, accountsFile } : { digest, file };
}

/** dev_accounts' written addresses against their keys (at chain creation: see trustDevAccounts). */
export function checkDevAccountAddresses(g: Genesis): void {
  g.exchange.devAccounts.forEach((a, i) => {
    const expected = accountAddress(a.publicKey);
    if (a.address !== expected) throw new GenesisError(`exchange: dev_accounts[${i}].address is not the account address of its public_key (expected 0x${expected.toString(16)})`);
    if (a.privateKey !== undefined && getStarkKey(a.privateKey) !== a.publicKey) throw new GenesisError(`exchange: dev_accounts[${i}].private_key does not match its public_key`);
  });
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

/** The inline part of block 0: classes, `contracts`, the exchange's genesis with its dev_accounts. */
function applyInline(g: Genesis, pending: ReturnType<WorldState['newBlock']>): void {
  for (const c of CONTRACT_CLASSES) pending.declareClass(c.classHash, c.compiledClassHash);
  for (const c of g.declaredClasses) pending.declareClass(c.classHash, c.compiledClassHash);
  for (const c of g.contracts) {
    pending.deploy(c.address, c.classHash);
    if (c.nonce) pending.setNonce(c.address, c.nonce);
    for (const [k, v] of c.storage) pending.setStorage(c.address, k, v);
  }
  applyGenesis(pending, g.exchange, execContext(g, 0n, g.timestamp));
}

function sealGenesis(g: Genesis, root: bigint, diffLength: bigint, diffCommitment: bigint): Block {
  const header = { ...makeHeader(g, 0n, 0n, g.timestamp, { root, stateDiff: emptyStateDiff() }, commitments([], [])), state_diff_length: diffLength, state_diff_commitment: diffCommitment };
  const hash = blockHash(header);
  const signature: [bigint, bigint] = g.sequencer.privateKey ? toPair(sign(hash, g.sequencer.privateKey)) : [0n, 0n];
  return { header, hash, signature, transactions: [], receipts: [] };
}

/**
 * Applies the genesis state to an empty world and returns block 0 (unsigned when the genesis
 * holds no private key: followers then take the signature from the sequencer and check it).
 * In memory: for a genesis without `accounts_file` (createGenesis builds the others).
 */
export async function buildGenesisBlock(g: Genesis, world: WorldState): Promise<{ block: Block; state: FinalizedState }> {
  if (g.accountsFile) throw new GenesisError('a genesis with accounts_file is built by createGenesis (in batches, into the database)');
  genesisStats.builds++;
  const pending = world.newBlock();
  applyInline(g, pending);
  const state = await pending.finalize();
  return { block: sealGenesis(g, state.root, stateDiffLength(state.stateDiff), stateDiffCommitment(state.stateDiff)), state };
}

/** How often block 0 was built in this process (tests: a restart must not build it). */
export const genesisStats = { builds: 0, accounts: 0 };

/** Accounts per batch of the bulk genesis: one state commit (and one LevelDB batch) each. */
export const GENESIS_BATCH_ACCOUNTS = 20_000;
/**
 * Flat entries the build's state cache holds. A batch's reads are of absent entries (new
 * accounts) and of the few exchange totals, the PendingState overlay holds what a batch wrote,
 * so a cache buys nothing here, and an LRU Map that evicts on every insert costs: V8 leaves a
 * hole per delete at the front of the Map, which `keys().next()` walks (10 % of a build in
 * `settle` with 20,000 entries).
 */
const GENESIS_FLAT_CACHE = 1;

export interface CreateGenesisOptions {
  /** Accounts per state commit (default GENESIS_BATCH_ACCOUNTS). */
  batchSize?: number;
  /** Called after each batch with the accounts written so far. */
  onProgress?: (accounts: number) => void;
  /** The digest to record (computed when absent). */
  digest?: GenesisDigest;
}

/**
 * Builds block 0 into an empty database and writes it with the head pointer and meta/genesis
 * (genesis digest included). Without `accounts_file` it is one atomic batch, the same block 0
 * as always. With one, block 0's state is committed in batches of accounts through the state's
 * normal commit path (PendingState.finalize: every root Starknet's), each batch written before
 * the next is read, so memory holds one batch; the header, head and meta/genesis go last, in
 * one synced batch (a directory without them is an unfinished build: openChain refuses it).
 * Block 0's state diff then covers the whole state, so its commitment is computed by streaming
 * the flat tables (in key order, which is the commitment's order); the stored state diff record
 * of block 0 holds the inline part only (see docs/genesis.md).
 */
export async function createGenesis(g: Genesis, db: Db, opts: CreateGenesisOptions = {}): Promise<{ block: Block; digest: GenesisDigest; accounts: number }> {
  checkDevAccountAddresses(g);
  const digest = opts.digest ?? (await genesisDigest(g));
  const record = (block: Block, accounts?: number) =>
    Meta.genesis.put({ chain_id: g.chainIdName, block_hash: block.hash, state_hash: g.stateHash, genesis_digest: digest.digest, ...(accounts === undefined ? {} : { accounts }) });
  // Caches sized for a build that touches every account once: the tries' upper levels (what
  // each batch re-reads) stay, the rest is not worth holding (memory stays bounded).
  const world = g.accountsFile ? WorldState.empty(db, g.stateHash, { cacheEntries: GENESIS_FLAT_CACHE, trieCacheNodes: 400_000 }) : WorldState.empty(db, g.stateHash);
  if (!g.accountsFile) {
    const { block, state } = await buildGenesisBlock(g, world);
    await writeBatch(db, [...state.ops, ...ChainStore.blockOps(block, state), record(block)], { sync: true });
    return { block, digest, accounts: 0 };
  }
  const file = g.accountsFile;
  const batchSize = opts.batchSize ?? GENESIS_BATCH_ACCOUNTS;
  // A first pass parses every line (no crypto): a corrupted or truncated file is refused
  // before anything is written.
  for await (const _ of readAccountsFile(file.path, batchSize, file.count));
  genesisStats.builds++;
  const inline = world.newBlock();
  applyInline(g, inline);
  const first = await inline.finalize();
  await writeBatch(db, first.ops);
  first.apply();
  const inlineDiff = first.stateDiff;
  let done = 0;
  // Pipelined: while batch k's ops are written (LevelDB's thread), batch k+1 is read, parsed
  // and its addresses derived (they need no state); it executes once batch k is applied.
  const it = readAccountsFile(file.path, batchSize, file.count)[Symbol.asyncIterator]();
  const prepare = async () => {
    const r = await it.next();
    return r.done ? undefined : { batch: r.value, addrs: accountAddresses(r.value.map((a) => a.publicKey)) };
  };
  try {
    let next = await prepare();
    while (next) {
      const { batch, addrs } = next;
      const p = world.newBlock();
      batch.forEach((a, i) => {
        const addr = addrs[i]!;
        if (a.address !== undefined && a.address !== addr) throw new GenesisError(`accounts file ${file.path} line ${a.line}: address 0x${a.address.toString(16)} is not the account address of its public_key (expected 0x${addr.toString(16)})`);
        if (p.getClassHash(addr) !== 0n)
          throw new GenesisError(`accounts file ${file.path} line ${a.line}: duplicate account: public_key 0x${a.publicKey.toString(16)} (address 0x${addr.toString(16)}) is already deployed by an earlier line, dev_accounts or a genesis contract`);
        deployAccount(p, g.exchange, a.publicKey);
        if (a.balance > 0n) {
          exAdd(p, g.exchange, EX.totalDeposits, a.balance);
          addCollateral(p, g.exchange, addr, a.balance);
        }
      });
      const f = await p.finalize();
      const written = writeBatch(db, f.ops);
      const following = prepare();
      // Both settle before going on (a failed write must not leave `following` unobserved).
      const [w, nx] = await Promise.allSettled([written, following]);
      if (w.status === 'rejected') throw w.reason;
      if (nx.status === 'rejected') throw nx.reason;
      f.apply();
      next = nx.value;
      done += batch.length;
      genesisStats.accounts += batch.length;
      opts.onProgress?.(done);
    }
  } finally {
    await it.return?.(undefined); // closes the file on a refusal mid-way
  }
  const { length, commitment } = await flatStateDiffCommitment(db);
  const block = sealGenesis(g, world.root, length, commitment);
  const rev: ReverseDiff = { storage: [], contracts: [], declared: [], roots: { contracts_root: 0n, classes_root: 0n } };
  await writeBatch(db, [...ChainStore.blockOps(block, { stateDiff: inlineDiff, reverseDiff: rev, contractsRoot: world.contractsRoot, classesRoot: world.classesRoot }), record(block, done)], { sync: true });
  return { block, digest, accounts: done };
}

/** Whether the database holds flat state (an unfinished genesis build when it has no head). */
export async function hasFlatState(db: Db): Promise<boolean> {
  for await (const _ of db.keys({ ...Tables.contract.all(), limit: 1 })) return true;
  for await (const _ of db.keys({ ...Tables.declaredClass.all(), limit: 1 })) return true;
  return false;
}

/** Removes what an unfinished genesis build wrote (the directory holds no chain yet). */
export async function clearGenesisState(db: Db): Promise<void> {
  for (const t of [Tables.storage, Tables.contract, Tables.contractState, Tables.trieNode, Tables.declaredClass]) await db.clear(t.all());
  await writeBatch(db, [Meta.stateRoots.del()], { sync: true });
}

/**
 * Starknet's state diff commitment (header.ts stateDiffCommitment) and length of a state diff
 * that is the whole flat state: block 0 starts from nothing, so its diff is every contract
 * (deployed, with its nonce when nonzero), every storage entry and every declared class at its
 * end. Two streamed passes over the flat tables (LevelDB's key order is the ascending felt
 * order the commitment sorts by): the first counts, the second writes the felts, 32 bytes each,
 * into one buffer hashed by the native backend (the JS one gets the bigints).
 */
export async function flatStateDiffCommitment(db: Db): Promise<{ length: bigint; commitment: bigint }> {
  let deployed = 0;
  let nonces = 0;
  for await (const [, rec] of Tables.contract.entries(db)) {
    if (rec.classHash !== 0n) deployed++;
    if (rec.nonce !== 0n) nonces++;
  }
  // Storage keys are tag ‖ address (32 bytes) ‖ key (32 bytes), values 32 bytes: counted and
  // later copied as raw bytes (no bigint per entry).
  const perContract: number[] = [];
  let entries = 0;
  let lastAddr: Uint8Array | undefined;
  const sameAddr = (k: Uint8Array) => {
    if (!lastAddr) return false;
    for (let i = 1; i < 33; i++) if (k[i] !== lastAddr[i - 1]) return false;
    return true;
  };
  for await (const k of db.keys({ ...Tables.storage.all(), keyEncoding: 'view' }) as AsyncIterable<Uint8Array>) {
    if (!sameAddr(k)) {
      perContract.push(0);
      lastAddr = k.slice(1, 33);
    }
    perContract[perContract.length - 1]!++;
    entries++;
  }
  let declared = 0;
  for await (const _ of Tables.declaredClass.keys(db)) declared++;
  const felts = 1 + 1 + 2 * deployed + 1 + 2 * declared + 1 + 2 + 1 + 2 * perContract.length + 2 * entries + 1 + 2 * nonces;
  const native = backend().name === 'native';
  const buf = native ? new Uint8Array(felts * 32) : undefined;
  const view = buf ? new DataView(buf.buffer) : undefined;
  const arr: bigint[] = [];
  let at = 0;
  const M = (1n << 64n) - 1n;
  const put = (x: bigint) => {
    if (view) {
      const o = at * 32;
      view.setBigUint64(o, x >> 192n);
      view.setBigUint64(o + 8, (x >> 128n) & M);
      view.setBigUint64(o + 16, (x >> 64n) & M);
      view.setBigUint64(o + 24, x & M);
    } else arr.push(x);
    at++;
  };
  const putBytes = (b: Uint8Array) => {
    if (b.length !== 32) throw new Error('genesis: a flat storage record is not 32 bytes');
    if (buf) buf.set(b, at * 32);
    else arr.push(b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n));
    at++;
  };
  put(STATE_DIFF0);
  put(BigInt(deployed));
  for await (const [address, rec] of Tables.contract.entries(db)) if (rec.classHash !== 0n) put(address), put(rec.classHash);
  put(BigInt(declared));
  for await (const [ch, compiled] of Tables.declaredClass.entries(db)) put(ch), put(compiled);
  put(0n); // deprecated declared classes
  put(1n);
  put(0n);
  put(BigInt(perContract.length));
  let ci = -1;
  lastAddr = undefined;
  for await (const [k, v] of db.iterator({ ...Tables.storage.all(), keyEncoding: 'view', valueEncoding: 'view' }) as AsyncIterable<[Uint8Array, Uint8Array]>) {
    if (!sameAddr(k)) {
      lastAddr = k.slice(1, 33);
      putBytes(lastAddr);
      put(BigInt(perContract[++ci]!));
    }
    putBytes(k.subarray(33, 65));
    putBytes(v);
  }
  put(BigInt(nonces));
  for await (const [address, rec] of Tables.contract.entries(db)) if (rec.nonce !== 0n) put(address), put(rec.nonce);
  if (at !== felts) throw new Error(`genesis: the flat state changed while its state diff commitment was computed (${at} felts, counted ${felts})`);
  let commitment: bigint;
  if (buf) {
    const out = new Uint8Array(32);
    loadNativeAddon().poseidonHashManyPacked(buf, out);
    commitment = out.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
  } else commitment = poseidonHashMany(arr);
  return { length: BigInt(deployed + declared + entries + nonces), commitment };
}

const STATE_DIFF0 = encodeShortString('STARKNET_STATE_DIFF0');

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
