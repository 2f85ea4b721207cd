/**
 * A crypto backend wrapper that counts the work going through it (main thread only): Poseidon
 * permutations (poseidonHash = 1; poseidonHashMany over n felts = floor(n/2) + 1, the sponge's
 * rate-2 absorption with its padding), Pedersen hashes, verifications. Installed with
 * setBackend for the measured run; results are the wrapped backend's, unchanged.
 */
import type { CryptoBackend } from '../../node/crypto/index.ts';

export interface HashCounts {
  poseidon: number;
  poseidonManyCalls: number;
  pedersen: number;
  verify: number;
}

/**
 * With `sites`, each counted hash is also attributed to the first caller outside node/crypto and
 * node/trie (function and file, from a stack trace: slow, for diagnosis only).
 */
export function countingBackend(inner: CryptoBackend, sites?: Map<string, number>): { backend: CryptoBackend; counts: HashCounts; total: () => number } {
  const counts: HashCounts = { poseidon: 0, poseidonManyCalls: 0, pedersen: 0, verify: 0 };
  const at = (n: number) => {
    if (!sites) return;
    const lines = (new Error().stack ?? '').split('\n').slice(2);
    const frame = lines.find((l) => !/node\/crypto\/|bench\/lib\/counting|node\/trie\/(core|trie)\.ts/.test(l)) ?? '?';
    const m = /at (?:async )?([^ ]+) \(.*?([^/]+\/[^/]+\.ts)/.exec(frame);
    const k = m ? `${m[1]} (${m[2]})` : frame.trim();
    sites.set(k, (sites.get(k) ?? 0) + n);
  };
  const backend: CryptoBackend = {
    name: inner.name,
    pedersen: (a, b) => {
      counts.pedersen++;
      at(1);
      return inner.pedersen(a, b);
    },
    poseidonHash: (a, b) => {
      counts.poseidon++;
      at(1);
      return inner.poseidonHash(a, b);
    },
    poseidonHashMany: (xs) => {
      counts.poseidonManyCalls++;
      counts.poseidon += Math.floor(xs.length / 2) + 1;
      at(Math.floor(xs.length / 2) + 1);
      return inner.poseidonHashMany(xs);
    },
    verify: (m, k, r, s) => {
      counts.verify++;
      return inner.verify(m, k, r, s);
    },
    pedersenBatch: (as, bs) => {
      counts.pedersen += as.length;
      at(as.length);
      return inner.pedersenBatch(as, bs);
    },
    poseidonBatch: (as, bs) => {
      counts.poseidon += as.length;
      at(as.length);
      return inner.poseidonBatch(as, bs);
    },
    verifyBatch: (items) => {
      counts.verify += items.length;
      return inner.verifyBatch(items);
    },
  };
  return { backend, counts, total: () => counts.poseidon + counts.pedersen };
}
