/**
 * A sealed block: header, hash, sequencer signature, transactions and receipts, and the
 * height-64 Poseidon commitments over them (Starknet 0.13.2+ leaf rules).
 */
import { poseidonHashMany, starknetKeccak } from '../crypto/index.ts';
import { commitmentRoot } from '../trie/index.ts';
import type { ContractEvent } from '../../contracts-ts/state.ts';
import type { BlockHeader } from './header.ts';

export interface Receipt {
  transaction_hash: bigint;
  events: ContractEvent[];
}

/** A transaction as the chain stores it: its hash, signature, and the contracts' JSON form. */
export interface ChainTx {
  hash: bigint;
  signature: bigint[];
  /** contracts-ts `txToJson(tx)`; parsed again with `parseTx` on replay. */
  body: unknown;
}

export interface Block {
  header: BlockHeader;
  hash: bigint;
  signature: [bigint, bigint];
  transactions: ChainTx[];
  receipts: Receipt[];
}

/** leaf = poseidon(tx_hash, signature...), with [tx_hash, 0] for an empty signature. */
export function transactionLeaf(hash: bigint, signature: readonly bigint[]): bigint {
  return poseidonHashMany(signature.length ? [hash, ...signature] : [hash, 0n]);
}

/** leaf = poseidon(from_address, tx_hash, |keys|, keys..., |data|, data...). */
export function eventLeaf(txHash: bigint, e: ContractEvent): bigint {
  return poseidonHashMany([e.fromAddress, txHash, BigInt(e.keys.length), ...e.keys, BigInt(e.data.length), ...e.data]);
}

/**
 * leaf = poseidon(tx_hash, actual_fee, messages_hash, revert_reason_hash, gas_hash). perpnode
 * charges no gas and sends no L1 messages, so fee 0, messages poseidon([0]), no revert
 * (succeeded transactions only), gas poseidon([0, 0, 0]).
 */
let noMessages: bigint | undefined;
let noGas: bigint | undefined;
const NO_MESSAGES = () => (noMessages ??= poseidonHashMany([0n]));
const NO_GAS = () => (noGas ??= poseidonHashMany([0n, 0n, 0n]));
export function receiptLeaf(r: Receipt, revertReason?: string): bigint {
  return poseidonHashMany([r.transaction_hash, 0n, NO_MESSAGES(), revertReason ? starknetKeccak(revertReason) : 0n, NO_GAS()]);
}

export function commitments(txs: readonly ChainTx[], receipts: readonly Receipt[]) {
  const eventLeaves: bigint[] = [];
  for (const r of receipts) for (const e of r.events) eventLeaves.push(eventLeaf(r.transaction_hash, e));
  return {
    transaction_commitment: commitmentRoot(txs.map((t) => transactionLeaf(t.hash, t.signature))),
    event_commitment: commitmentRoot(eventLeaves),
    receipt_commitment: commitmentRoot(receipts.map((r) => receiptLeaf(r))),
    event_count: BigInt(eventLeaves.length),
    transaction_count: BigInt(txs.length),
  };
}

// ---- JSON forms (storage and wire) ----------------------------------------------------------

const hex = (x: bigint) => '0x' + x.toString(16);

export function headerToJson(h: BlockHeader) {
  return {
    block_number: Number(h.block_number),
    parent_hash: hex(h.parent_hash),
    new_root: hex(h.new_root),
    timestamp: Number(h.timestamp),
    sequencer_address: hex(h.sequencer_address),
    l1_gas_price: { price_in_wei: hex(h.l1_gas_price.price_in_wei), price_in_fri: hex(h.l1_gas_price.price_in_fri) },
    l1_data_gas_price: { price_in_wei: hex(h.l1_data_gas_price.price_in_wei), price_in_fri: hex(h.l1_data_gas_price.price_in_fri) },
    l2_gas_price: { price_in_wei: hex(h.l2_gas_price.price_in_wei), price_in_fri: hex(h.l2_gas_price.price_in_fri) },
    l1_da_mode: h.l1_da_mode,
    starknet_version: h.starknet_version,
    transaction_count: Number(h.transaction_count),
    event_count: Number(h.event_count),
    state_diff_length: Number(h.state_diff_length),
    state_diff_commitment: hex(h.state_diff_commitment),
    transaction_commitment: hex(h.transaction_commitment),
    event_commitment: hex(h.event_commitment),
    receipt_commitment: hex(h.receipt_commitment),
  };
}

export function headerFromJson(j: any): BlockHeader {
  const gp = (g: any) => ({ price_in_wei: BigInt(g.price_in_wei), price_in_fri: BigInt(g.price_in_fri) });
  if (j.l1_da_mode !== 'BLOB' && j.l1_da_mode !== 'CALLDATA') throw new Error('bad l1_da_mode');
  if (typeof j.starknet_version !== 'string' || j.starknet_version.length > 31) throw new Error('bad starknet_version');
  return {
    block_number: BigInt(j.block_number),
    parent_hash: BigInt(j.parent_hash),
    new_root: BigInt(j.new_root),
    timestamp: BigInt(j.timestamp),
    sequencer_address: BigInt(j.sequencer_address),
    l1_gas_price: gp(j.l1_gas_price),
    l1_data_gas_price: gp(j.l1_data_gas_price),
    l2_gas_price: gp(j.l2_gas_price),
    l1_da_mode: j.l1_da_mode,
    starknet_version: j.starknet_version,
    transaction_count: BigInt(j.transaction_count),
    event_count: BigInt(j.event_count),
    state_diff_length: BigInt(j.state_diff_length),
    state_diff_commitment: BigInt(j.state_diff_commitment),
    transaction_commitment: BigInt(j.transaction_commitment),
    event_commitment: BigInt(j.event_commitment),
    receipt_commitment: BigInt(j.receipt_commitment),
  };
}

export function receiptToJson(r: Receipt) {
  return { transaction_hash: hex(r.transaction_hash), events: r.events.map((e) => ({ from_address: hex(e.fromAddress), keys: e.keys.map(hex), data: e.data.map(hex) })) };
}

export function receiptFromJson(j: any): Receipt {
  return {
    transaction_hash: BigInt(j.transaction_hash),
    events: j.events.map((e: any) => ({ fromAddress: BigInt(e.from_address), keys: e.keys.map(BigInt), data: e.data.map(BigInt) })),
  };
}

export function chainTxToJson(t: ChainTx) {
  return { hash: hex(t.hash), signature: t.signature.map(hex), body: t.body };
}

export function chainTxFromJson(j: any): ChainTx {
  return { hash: BigInt(j.hash), signature: j.signature.map(BigInt), body: j.body };
}

export function blockToJson(b: Block) {
  return {
    header: headerToJson(b.header),
    hash: hex(b.hash),
    signature: b.signature.map(hex),
    transactions: b.transactions.map(chainTxToJson),
    receipts: b.receipts.map(receiptToJson),
  };
}

export function blockFromJson(j: any): Block {
  if (!j || typeof j !== 'object' || !Array.isArray(j.transactions) || !Array.isArray(j.receipts) || !Array.isArray(j.signature) || j.signature.length !== 2)
    throw new Error('malformed block');
  return {
    header: headerFromJson(j.header),
    hash: BigInt(j.hash),
    signature: [BigInt(j.signature[0]), BigInt(j.signature[1])],
    transactions: j.transactions.map(chainTxFromJson),
    receipts: j.receipts.map(receiptFromJson),
  };
}
