/**
 * Block headers and the Starknet block hash (STARKNET_BLOCK_HASH1, Starknet >= 0.13.4, used
 * unchanged by 0.14), plus the state-diff commitment. Spec-anchored: the field order below is
 * the one every Starknet implementation hashes.
 */
import { encodeShortString, poseidonHashMany } from '../crypto/index.ts';

export type L1DaMode = 'CALLDATA' | 'BLOB';

export interface GasPrice {
  price_in_wei: bigint;
  price_in_fri: bigint;
}

export interface BlockHeader {
  block_number: bigint;
  parent_hash: bigint;
  /** Global state root after this block. */
  new_root: bigint;
  /** Seconds since the epoch. */
  timestamp: bigint;
  sequencer_address: bigint;
  l1_gas_price: GasPrice;
  l1_data_gas_price: GasPrice;
  l2_gas_price: GasPrice;
  l1_da_mode: L1DaMode;
  starknet_version: string;
  transaction_count: bigint;
  event_count: bigint;
  state_diff_length: bigint;
  state_diff_commitment: bigint;
  transaction_commitment: bigint;
  event_commitment: bigint;
  receipt_commitment: bigint;
}

const BLOCK_HASH1 = encodeShortString('STARKNET_BLOCK_HASH1');
const GAS_PRICES0 = encodeShortString('STARKNET_GAS_PRICES0');
const STATE_DIFF0 = encodeShortString('STARKNET_STATE_DIFF0');
const U64 = (1n << 64n) - 1n;

/** tx count | event count | state diff length | DA-mode byte (0x80 = blob), 64 bits each. */
export function concatCounts(h: Pick<BlockHeader, 'transaction_count' | 'event_count' | 'state_diff_length' | 'l1_da_mode'>): bigint {
  for (const [k, v] of [['transaction_count', h.transaction_count], ['event_count', h.event_count], ['state_diff_length', h.state_diff_length]] as const)
    if (v < 0n || v > U64) throw new RangeError(`${k} does not fit 64 bits`);
  const da = h.l1_da_mode === 'BLOB' ? 0x80n << 56n : 0n;
  return (h.transaction_count << 192n) | (h.event_count << 128n) | (h.state_diff_length << 64n) | da;
}

export function gasPricesHash(h: Pick<BlockHeader, 'l1_gas_price' | 'l1_data_gas_price' | 'l2_gas_price'>): bigint {
  return poseidonHashMany([
    GAS_PRICES0,
    h.l1_gas_price.price_in_wei,
    h.l1_gas_price.price_in_fri,
    h.l1_data_gas_price.price_in_wei,
    h.l1_data_gas_price.price_in_fri,
    h.l2_gas_price.price_in_wei,
    h.l2_gas_price.price_in_fri,
  ]);
}

export function blockHash(h: BlockHeader): bigint {
  return poseidonHashMany([
    BLOCK_HASH1,
    h.block_number,
    h.new_root,
    h.sequencer_address,
    h.timestamp,
    concatCounts(h),
    h.state_diff_commitment,
    h.transaction_commitment,
    h.event_commitment,
    h.receipt_commitment,
    gasPricesHash(h),
    encodeShortString(h.starknet_version),
    0n,
    h.parent_hash,
  ]);
}

/** Starknet's STATE_DIFF shape (RPC `state_diff`), with bigint felts. */
export interface StateDiff {
  storage_diffs: { address: bigint; storage_entries: { key: bigint; value: bigint }[] }[];
  deprecated_declared_classes: bigint[];
  declared_classes: { class_hash: bigint; compiled_class_hash: bigint }[];
  deployed_contracts: { address: bigint; class_hash: bigint }[];
  replaced_classes: { contract_address: bigint; class_hash: bigint }[];
  nonces: { contract_address: bigint; nonce: bigint }[];
}

export function emptyStateDiff(): StateDiff {
  return { storage_diffs: [], deprecated_declared_classes: [], declared_classes: [], deployed_contracts: [], replaced_classes: [], nonces: [] };
}

/** Number of entries the block hash counts: storage entries + nonces + deployments + declarations. */
export function stateDiffLength(d: StateDiff): bigint {
  let n = d.deployed_contracts.length + d.replaced_classes.length + d.declared_classes.length + d.deprecated_declared_classes.length + d.nonces.length;
  for (const s of d.storage_diffs) n += s.storage_entries.length;
  return BigInt(n);
}

const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Poseidon("STARKNET_STATE_DIFF0", deployed+replaced, declared, deprecated declared, 1, 0,
 * storage diffs, nonces); each section is its length then its sorted entries.
 */
export function stateDiffCommitment(d: StateDiff): bigint {
  const out: bigint[] = [STATE_DIFF0];
  const updated = [...d.deployed_contracts.map((x) => [x.address, x.class_hash] as const), ...d.replaced_classes.map((x) => [x.contract_address, x.class_hash] as const)].sort((a, b) => cmp(a[0], b[0]));
  out.push(BigInt(updated.length));
  for (const [a, c] of updated) out.push(a, c);
  const declared = [...d.declared_classes].sort((a, b) => cmp(a.class_hash, b.class_hash));
  out.push(BigInt(declared.length));
  for (const x of declared) out.push(x.class_hash, x.compiled_class_hash);
  const deprecated = [...d.deprecated_declared_classes].sort(cmp);
  out.push(BigInt(deprecated.length), ...deprecated);
  out.push(1n, 0n);
  const storage = d.storage_diffs.filter((s) => s.storage_entries.length > 0).sort((a, b) => cmp(a.address, b.address));
  out.push(BigInt(storage.length));
  for (const s of storage) {
    const entries = [...s.storage_entries].sort((a, b) => cmp(a.key, b.key));
    out.push(s.address, BigInt(entries.length));
    for (const e of entries) out.push(e.key, e.value);
  }
  const nonces = [...d.nonces].sort((a, b) => cmp(a.contract_address, b.contract_address));
  out.push(BigInt(nonces.length));
  for (const n of nonces) out.push(n.contract_address, n.nonce);
  return poseidonHashMany(out);
}
