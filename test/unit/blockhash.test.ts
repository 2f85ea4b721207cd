import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { blockHash, concatCounts, emptyStateDiff, stateDiffCommitment, type BlockHeader } from '../../node/chain/header.ts';
import { vectorsPath } from '../helpers/vectors.ts';

const V = JSON.parse(readFileSync(vectorsPath(), 'utf8')).block_hash_v1_synthetic;
const gp = (g: { price_in_wei: string; price_in_fri: string }) => ({ price_in_wei: BigInt(g.price_in_wei), price_in_fri: BigInt(g.price_in_fri) });

function vectorHeader(): BlockHeader {
  return {
    block_number: BigInt(V.block_number),
    parent_hash: BigInt(V.parent_hash),
    new_root: BigInt(V.state_root),
    timestamp: BigInt(V.timestamp),
    sequencer_address: BigInt(V.sequencer_address),
    l1_gas_price: gp(V.l1_gas_price),
    l1_data_gas_price: gp(V.l1_data_gas_price),
    l2_gas_price: gp(V.l2_gas_price),
    l1_da_mode: V.l1_da_mode,
    starknet_version: V.starknet_version,
    transaction_count: BigInt(V.transaction_count),
    event_count: BigInt(V.event_count),
    state_diff_length: BigInt(V.state_diff_length),
    state_diff_commitment: BigInt(V.state_diff_commitment),
    transaction_commitment: BigInt(V.transaction_commitment),
    event_commitment: BigInt(V.event_commitment),
    receipt_commitment: BigInt(V.receipt_commitment),
  };
}

describe('block hash (STARKNET_BLOCK_HASH1)', () => {
  it('matches the public vector', () => {
    expect(blockHash(vectorHeader())).to.equal(BigInt(V.block_hash));
  });
  it('every header field is committed', () => {
    const base = blockHash(vectorHeader());
    const tweaks: Array<(h: BlockHeader) => void> = [
      (h) => (h.block_number += 1n),
      (h) => (h.parent_hash += 1n),
      (h) => (h.new_root += 1n),
      (h) => (h.timestamp += 1n),
      (h) => (h.sequencer_address += 1n),
      (h) => (h.l2_gas_price = { ...h.l2_gas_price, price_in_fri: 1n }),
      (h) => (h.l1_da_mode = 'CALLDATA'),
      (h) => (h.starknet_version = '0.14.0'),
      (h) => (h.transaction_count += 1n),
      (h) => (h.event_count += 1n),
      (h) => (h.state_diff_length += 1n),
      (h) => (h.state_diff_commitment += 1n),
      (h) => (h.transaction_commitment += 1n),
      (h) => (h.event_commitment += 1n),
      (h) => (h.receipt_commitment += 1n),
    ];
    for (const t of tweaks) {
      const h = vectorHeader();
      t(h);
      expect(blockHash(h)).to.not.equal(base);
    }
  });
  it('counts must fit 64 bits', () => {
    const h = vectorHeader();
    h.event_count = 1n << 64n;
    expect(() => concatCounts(h)).to.throw(/64 bits/);
  });
  it('state diff commitment does not depend on entry order', () => {
    const a = emptyStateDiff();
    a.storage_diffs = [
      { address: 5n, storage_entries: [{ key: 2n, value: 9n }, { key: 1n, value: 8n }] },
      { address: 3n, storage_entries: [{ key: 7n, value: 1n }] },
    ];
    a.nonces = [{ contract_address: 5n, nonce: 1n }, { contract_address: 3n, nonce: 2n }];
    const b = emptyStateDiff();
    b.storage_diffs = [
      { address: 3n, storage_entries: [{ key: 7n, value: 1n }] },
      { address: 5n, storage_entries: [{ key: 1n, value: 8n }, { key: 2n, value: 9n }] },
    ];
    b.nonces = [{ contract_address: 3n, nonce: 2n }, { contract_address: 5n, nonce: 1n }];
    expect(stateDiffCommitment(a)).to.equal(stateDiffCommitment(b));
    b.nonces[0]!.nonce = 3n;
    expect(stateDiffCommitment(a)).to.not.equal(stateDiffCommitment(b));
  });
});
