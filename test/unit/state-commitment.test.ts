import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { contractLeaf, globalRoot } from '../../node/state/commitment.ts';
import { poseidonHashMany, encodeShortString } from '../../node/crypto/index.ts';
import { vectorsPath } from '../helpers/vectors.ts';

const V = JSON.parse(readFileSync(vectorsPath(), 'utf8'));

describe('state commitment', () => {
  it('contract leaf with pedersen matches the public vector', () => {
    const c = V.contract_state_hash_pedersen;
    expect(contractLeaf('pedersen', BigInt(c.class_hash), BigInt(c.storage_root), BigInt(c.nonce))).to.equal(BigInt(c.out));
  });
  it('global root: contracts root alone when no classes, else STARKNET_STATE_V0 poseidon', () => {
    expect(globalRoot(5n, 0n)).to.equal(5n);
    expect(globalRoot(5n, 7n)).to.equal(poseidonHashMany([encodeShortString('STARKNET_STATE_V0'), 5n, 7n]));
  });
});
