/**
 * starknet_* methods in the spec 0.10 shapes. Felts are served as 0x-hex without leading zeros.
 */
import { decodeShortString } from '../crypto/index.ts';
import type { BlockHeader } from '../chain/header.ts';
import type { Methods } from './jsonrpc.ts';
import type { CallContext } from './http.ts';
import { resolveBlock, type RpcModules } from './context.ts';
import { blockId } from './params.ts';
import { E } from './errors.ts';

export const SPEC_VERSION = '0.10.2';
const hex = (x: bigint) => '0x' + x.toString(16);

export function headerView(h: BlockHeader, hash: bigint) {
  return {
    status: 'ACCEPTED_ON_L2',
    block_hash: hex(hash),
    parent_hash: hex(h.parent_hash),
    block_number: Number(h.block_number),
    new_root: hex(h.new_root),
    timestamp: Number(h.timestamp),
    sequencer_address: hex(h.sequencer_address),
    l1_gas_price: { price_in_fri: hex(h.l1_gas_price.price_in_fri), price_in_wei: hex(h.l1_gas_price.price_in_wei) },
    l2_gas_price: { price_in_fri: hex(h.l2_gas_price.price_in_fri), price_in_wei: hex(h.l2_gas_price.price_in_wei) },
    l1_data_gas_price: { price_in_fri: hex(h.l1_data_gas_price.price_in_fri), price_in_wei: hex(h.l1_data_gas_price.price_in_wei) },
    l1_da_mode: h.l1_da_mode,
    starknet_version: h.starknet_version,
    transaction_commitment: hex(h.transaction_commitment),
    event_commitment: hex(h.event_commitment),
    receipt_commitment: hex(h.receipt_commitment),
    state_diff_commitment: hex(h.state_diff_commitment),
    transaction_count: Number(h.transaction_count),
    event_count: Number(h.event_count),
    state_diff_length: Number(h.state_diff_length),
  };
}

export function starknetMethods(m: RpcModules): Methods<CallContext> {
  const g = m.genesis;
  const preConfirmedHeader = (number: bigint, timestamp: bigint) => ({
    block_number: Number(number),
    timestamp: Number(timestamp),
    sequencer_address: hex(g.sequencer.address),
    l1_gas_price: { price_in_fri: hex(g.gasPrices.l1.price_in_fri), price_in_wei: hex(g.gasPrices.l1.price_in_wei) },
    l2_gas_price: { price_in_fri: hex(g.gasPrices.l2.price_in_fri), price_in_wei: hex(g.gasPrices.l2.price_in_wei) },
    l1_data_gas_price: { price_in_fri: hex(g.gasPrices.l1Data.price_in_fri), price_in_wei: hex(g.gasPrices.l1Data.price_in_wei) },
    l1_da_mode: g.l1DaMode,
    starknet_version: g.starknetVersion,
  });
  return {
    starknet_specVersion: { params: [], handler: () => SPEC_VERSION },
    starknet_chainId: { params: [], handler: () => hex(g.chainId) },
    starknet_syncing: { params: [], handler: () => false },
    starknet_blockNumber: {
      params: [],
      handler: async () => {
        const h = await m.chain.head();
        if (!h) throw E.noBlocks();
        return Number(h.number);
      },
    },
    starknet_blockHashAndNumber: {
      params: [],
      handler: async () => {
        const h = await m.chain.head();
        if (!h) throw E.noBlocks();
        return { block_hash: hex(h.hash), block_number: Number(h.number) };
      },
    },
    starknet_getBlockWithTxHashes: {
      params: ['block_id'],
      handler: async (p) => {
        const b = await resolveBlock(m, blockId(p.block_id));
        if (b.kind === 'pre_confirmed') {
          const open = m.producer?.openBlock;
          return { ...preConfirmedHeader(b.number, b.timestamp), transactions: open ? open.txs.map((t) => hex(t.hash)) : [] };
        }
        const body = await m.chain.body(b.number);
        return { ...headerView(b.header, b.hash), transactions: (body?.transactions ?? []).map((t) => hex(t.hash)) };
      },
    },
    perp_sequencerSignature: {
      params: ['block_id'],
      handler: async (p) => {
        const b = await resolveBlock(m, blockId(p.block_id));
        if (b.kind !== 'confirmed') throw E.blockNotFound();
        const sig = await m.chain.signature(b.number);
        return { block_hash: hex(b.hash), block_number: Number(b.number), signature: sig!.map(hex), public_key: hex(g.sequencer.publicKey) };
      },
    },
  };
}

export { decodeShortString };
