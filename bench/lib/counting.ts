/**
 * A crypto backend wrapper that counts the work going through it (main thread only): Poseidon
 * permutations (poseidonHash = 1; poseidonHashMany over n felts = floor(n/2) + 1, the sponge's
 * rate-2 absorption with its padding), Pedersen hashes, verifications. The backend is chosen
 * once per process, so the wrapper is installed at that one selection (`useCounting`: the
 * `wrap` hook of useBackend) and counts from then on; readers take differences. Results are the
 * wrapped backend's, unchanged.
 */
import { useBackend, type BackendChoice, type CryptoBackend } from '../../node/crypto/index.ts';

export interface HashCounts {
  poseidon: number;
  poseidonManyCalls: number;
  pedersen: number;
  verify: number;
  /** Calls of the single forms (pedersen, poseidonHash). */
  singleCalls: number;
  /** Calls of the batch forms (pedersenBatch, poseidonBatch) and the pairs they hashed. */
  batchCalls: number;
  batchItems: number;
}

export interface Counting {
  backend: CryptoBackend;
  counts: HashCounts;
  total: () => number;
  /** Where hashes come from (function and file), recorded while set: slow, for diagnosis only. */
  sites: Map<string, number> | undefined;
}

/**
 * With `sites`, each counted hash is also attributed to the first caller outside the hashing
 * layers (node/crypto, contracts-ts/crypto.ts through which the contracts hash, node/trie's core
 * and trie; function and file, from a stack trace: slow, for diagnosis only).
 */
/** Stack frames that are hashing layers, not call sites (SKIP_FRAME.test(frame line)). */
export const SKIP_FRAME = /node\/crypto\/|contracts-ts\/crypto(\.ts|\/)|bench\/lib\/counting|node\/trie\/(core|trie)\.ts/;

export function countingBackend(inner: CryptoBackend, sites?: Map<string, number>): Counting {
  const counts: HashCounts = { poseidon: 0, poseidonManyCalls: 0, pedersen: 0, verify: 0, singleCalls: 0, batchCalls: 0, batchItems: 0 };
  const at = (n: number) => {
    const sites = self.sites;
    if (!sites) return;
    const lines = (new Error().stack ?? '').split('\n').slice(2);
    const frame = lines.find((l) => !SKIP_FRAME.test(l)) ?? '?';
    const m = /at (?:async )?([^ ]+) \(.*?([^/]+\/[^/]+\.ts)/.exec(frame);
    const k = m ? `${m[1]} (${m[2]})` : frame.trim();
    sites.set(k, (sites.get(k) ?? 0) + n);
  };
  const backend: CryptoBackend = {
    name: inner.name,
    pedersen: (a, b) => {
      counts.pedersen++;
      counts.singleCalls++;
      at(1);
      return inner.pedersen(a, b);
    },
    poseidonHash: (a, b) => {
      counts.poseidon++;
      counts.singleCalls++;
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
      counts.batchCalls++;
      counts.batchItems += as.length;
      at(as.length);
      return inner.pedersenBatch(as, bs);
    },
    poseidonBatch: (as, bs) => {
      counts.poseidon += as.length;
      counts.batchCalls++;
      counts.batchItems += as.length;
      at(as.length);
      return inner.poseidonBatch(as, bs);
    },
    verifyBatch: (items) => {
      counts.verify += items.length;
      return inner.verifyBatch(items);
    },
  };
  const self: Counting = { backend, counts, total: () => counts.poseidon + counts.pedersen, sites };
  return self;
}

let installed: Counting | undefined;

/**
 * The process's counting wrapper: installed around the backend at the one selection when this
 * is the first to select (or when the selection installed it already: a test root hook, an
 * earlier run in the same process). Throws when another selection without it came first.
 */
export async function useCounting(choice: BackendChoice): Promise<Counting> {
  if (!installed) await useBackend(choice, { wrap: (inner) => (installed = countingBackend(inner)).backend });
  else await useBackend(choice);
  return installed!;
}

/** The counting wrapper installed at the selection, if any. */
export function installedCounting(): Counting | undefined {
  return installed;
}
