/**
 * bench/lib/counting.ts `--hash-sites`: a hash is credited to its caller, not to the hashing
 * layers it passes through (node/crypto, contracts-ts/crypto.ts through which the contracts
 * hash, the trie's core).
 */
import { expect } from 'chai';
import { installedCounting, SKIP_FRAME } from '../../bench/lib/counting.ts';
import { cancelHash } from '../../contracts-ts/typed-data.ts';
import { poseidonHash } from '../../contracts-ts/crypto.ts';

describe('bench hash-site attribution', () => {
  it('skips the hashing layers, keeps callers', () => {
    for (const f of [
      '    at poseidonHashMany (file:///r/contracts-ts/crypto.ts:60:10)',
      '    at jsPoseidon (file:///r/contracts-ts/crypto/js.ts:12:3)',
      '    at Object.poseidonHash (file:///r/node/crypto/native.ts:1:1)',
      '    at at (file:///r/bench/lib/counting.ts:45:20)',
      '    at commitAll (file:///r/node/trie/trie.ts:200:5)',
    ])
      expect(SKIP_FRAME.test(f), f).to.equal(true);
    for (const f of ['    at messageHash (file:///r/contracts-ts/typed-data.ts:140:3)', '    at orderKey (file:///r/contracts-ts/layout.ts:30:1)', '    at commit (file:///r/node/state/world.ts:1:1)'])
      expect(SKIP_FRAME.test(f), f).to.equal(false);
  });

  it('credits a contracts hash to its contracts-ts caller, never to contracts-ts/crypto.ts', () => {
    const c = installedCounting();
    expect(c, 'the root hook installs the counting backend').to.not.equal(undefined);
    const sites = new Map<string, number>();
    c!.sites = sites;
    try {
      cancelHash({ account: 5n, orderHash: 7n }, 1n);
      poseidonHash(1n, 2n);
    } finally {
      c!.sites = undefined;
    }
    const keys = [...sites.keys()];
    expect(keys.length).to.be.greaterThan(0);
    for (const k of keys) expect(k).to.not.contain('crypto.ts');
    expect(keys.some((k) => k.includes('contracts-ts/typed-data.ts')), keys.join(', ')).to.equal(true);
    expect(keys.some((k) => k.includes('bench-counting.test.ts')), keys.join(', ')).to.equal(true);
  });
});
