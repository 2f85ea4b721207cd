/**
 * The crypto floor, measured in the same process on the same machine just before the run:
 * verifications/s over real workload signatures (distinct keys), Poseidon permutations/s and
 * Pedersen hashes/s on random felts, through the active backend.
 */
import { pedersen, poseidonHash, verify } from '../../node/crypto/index.ts';
import type { SignedOrder } from '../../contracts-ts/index.ts';

export interface CryptoRates {
  backend: string;
  verifyPerSec: number;
  poseidonPerSec: number;
  pedersenPerSec: number;
}

function rate(minMs: number, minOps: number, op: (i: number) => void): number {
  // Warm-up: JIT, and the precomputed tables some primitives build on first use.
  const w0 = performance.now();
  for (let i = 0; i < 3 || performance.now() - w0 < minMs / 3; i++) op(i);
  const t0 = performance.now();
  let n = 0;
  while (n < minOps || performance.now() - t0 < minMs) op(n++);
  return (n * 1000) / (performance.now() - t0);
}

export function measureCrypto(backendName: string, samples: { signed: SignedOrder; key: bigint }[], budgetMs = 1500): CryptoRates {
  let x = 0x1234567n;
  const felt = () => (x = (x * 6364136223846793005n + 1442695040888963407n) & ((1n << 250n) - 1n));
  const ins = Array.from({ length: 64 }, () => [felt(), felt()] as const);
  let bad = 0;
  const verifyPerSec = rate(budgetMs * 0.6, Math.min(20, samples.length), (i) => {
    const s = samples[i % samples.length]!;
    if (!verify(s.signed.hash, s.key, s.signed.signature)) bad++;
  });
  if (bad) throw new Error(`crypto floor: ${bad} workload signatures did not verify`);
  const poseidonPerSec = rate(budgetMs * 0.2, 50, (i) => void poseidonHash(ins[i & 63]![0], ins[i & 63]![1]));
  const pedersenPerSec = rate(budgetMs * 0.2, 20, (i) => void pedersen(ins[i & 63]![0], ins[i & 63]![1]));
  return { backend: backendName, verifyPerSec, poseidonPerSec, pedersenPerSec };
}

export interface Floor {
  /** Per trade, all main-thread hashing of the run divided by its trades. */
  poseidonPerTrade: number;
  pedersenPerTrade: number;
  verificationsPerTrade: number;
  /** Seconds of crypto per trade on one core: 2 verifications + the hashes. */
  cryptoSecondsPerTrade: number;
  /** Trades/s if one core did nothing but this crypto. */
  tradesPerSec1Core: number;
  /** With verification spread over every core and hashing on the main thread. */
  tradesPerSecAllCores: number;
}

export function floorOf(r: CryptoRates, poseidonPerTrade: number, pedersenPerTrade: number, cores: number): Floor {
  const v = 2 / r.verifyPerSec;
  const h = poseidonPerTrade / r.poseidonPerSec + pedersenPerTrade / r.pedersenPerSec;
  const c = v + h;
  return {
    poseidonPerTrade,
    pedersenPerTrade,
    verificationsPerTrade: 2,
    cryptoSecondsPerTrade: c,
    tradesPerSec1Core: 1 / c,
    tradesPerSecAllCores: 1 / Math.max(c / cores, h),
  };
}
