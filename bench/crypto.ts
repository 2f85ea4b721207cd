/**
 * `npm run bench:crypto`: ops/s of each crypto primitive on the JS reference backend and on the
 * native backend, side by side in one run, with the ratio.
 *
 * Time is this process's CPU time (process.cpuUsage), not wall time, so other processes on a
 * busy machine do not count; rounds alternate between the two backends (JS, native, JS, ...) and
 * each figure is the median over rounds. Inputs are fixed (seeded), and native results are
 * checked against the JS results before timing starts.
 *
 * Env: BENCH_CRYPTO_MS (CPU ms per round and side, default 300), BENCH_CRYPTO_ROUNDS (default 5),
 * BENCH_CRYPTO_CLOCK=wall to time with the wall clock instead.
 */
import { createHash } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import * as scure from '@scure/starknet';
import type { CryptoBackend, VerifyItem } from '../node/crypto/backend.ts';
import { P } from '../node/crypto/felt.ts';
import { jsBackend } from '../node/crypto/js.ts';

const ROUND_MS = Number(process.env.BENCH_CRYPTO_MS ?? 300);
const ROUNDS = Number(process.env.BENCH_CRYPTO_ROUNDS ?? 5);
const WALL = process.env.BENCH_CRYPTO_CLOCK === 'wall';

function seeded(label: string, i: number): bigint {
  return BigInt('0x' + createHash('sha256').update(`bench/${label}/${i}`).digest('hex'));
}

const PAIRS = 1024;
const as = Array.from({ length: PAIRS }, (_, i) => seeded('a', i) % P);
const bs = Array.from({ length: PAIRS }, (_, i) => seeded('b', i) % P);
const lists = Array.from({ length: 64 }, (_, i) => Array.from({ length: 10 }, (_, j) => seeded(`l${i}`, j) % P));

const KEYS = 32;
const SIGS = 256;
const items: VerifyItem[] = (() => {
  const keys = Array.from({ length: KEYS }, (_, i) => {
    const priv = (seeded('key', i) % (2n ** 250n)) + 1n;
    return { priv, starkKey: BigInt(scure.getStarkKey(priv.toString(16).padStart(64, '0'))) };
  });
  return Array.from({ length: SIGS }, (_, i) => {
    const k = keys[i % KEYS]!;
    const msgHash = seeded('msg', i) % 2n ** 251n;
    const sig = scure.sign(msgHash.toString(16).padStart(64, '0'), k.priv.toString(16).padStart(64, '0'));
    return { msgHash, starkKey: k.starkKey, r: sig.r, s: sig.s };
  });
})();

interface Case {
  name: string;
  /** operations done by one call of run */
  opsPerCall: number;
  run: (b: CryptoBackend, i: number) => unknown;
}

const BATCH = 256;
const VBATCH = 32;
const cases: Case[] = [
  { name: 'poseidonHash', opsPerCall: 1, run: (b, i) => b.poseidonHash(as[i % PAIRS]!, bs[i % PAIRS]!) },
  { name: 'poseidonHashMany (10 felts)', opsPerCall: 1, run: (b, i) => b.poseidonHashMany(lists[i % lists.length]!) },
  { name: 'pedersen', opsPerCall: 1, run: (b, i) => b.pedersen(as[i % PAIRS]!, bs[i % PAIRS]!) },
  { name: 'verify (x-only key)', opsPerCall: 1, run: (b, i) => b.verify(items[i % SIGS]!.msgHash, items[i % SIGS]!.starkKey, items[i % SIGS]!.r, items[i % SIGS]!.s) },
  {
    name: `poseidonBatch (${BATCH} pairs), per hash`,
    opsPerCall: BATCH,
    run: (b, i) => {
      const o = (i * BATCH) % PAIRS;
      return b.poseidonBatch(as.slice(o, o + BATCH), bs.slice(o, o + BATCH));
    },
  },
  {
    name: `pedersenBatch (${BATCH} pairs), per hash`,
    opsPerCall: BATCH,
    run: (b, i) => {
      const o = (i * BATCH) % PAIRS;
      return b.pedersenBatch(as.slice(o, o + BATCH), bs.slice(o, o + BATCH));
    },
  },
  {
    name: `verifyBatch (${VBATCH} sigs), per signature`,
    opsPerCall: VBATCH,
    run: (b, i) => {
      const o = (i * VBATCH) % SIGS;
      return b.verifyBatch(items.slice(o, o + VBATCH));
    },
  },
];

/** CPU time of this process in ms: unlike wall time, it does not count while other processes run. */
function cpuMs(): number {
  if (WALL) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** ops per CPU-second of one side, running for about ROUND_MS of CPU time */
function measure(c: Case, b: CryptoBackend, start: number): { ops: number; next: number } {
  let i = start;
  let calls = 0;
  const t0 = cpuMs();
  let t = t0;
  do {
    c.run(b, i++);
    calls++;
    if ((calls & 15) === 0 || c.opsPerCall > 1 || b.name === 'js') t = cpuMs();
  } while (t - t0 < ROUND_MS);
  t = cpuMs();
  return { ops: (calls * c.opsPerCall * 1000) / (t - t0), next: i };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function fmt(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  let native: CryptoBackend;
  try {
    const mod = await import('../node/crypto/native.ts');
    native = mod.loadNativeBackend();
  } catch (e) {
    console.error(`native backend unavailable: ${(e as Error).message}`);
    console.error('build it with `npm run build:native` (or `npm install`), then run this again.');
    process.exitCode = 1;
    return;
  }
  const loadMs = performance.now() - t0;

  // exactness first: a benchmark of wrong answers is worthless
  for (const c of cases) {
    for (let i = 0; i < 4; i++) {
      const want = JSON.stringify(c.run(jsBackend, i), (_, v) => (typeof v === 'bigint' ? v.toString(16) : v));
      const got = JSON.stringify(c.run(native, i), (_, v) => (typeof v === 'bigint' ? v.toString(16) : v));
      if (want !== got) throw new Error(`${c.name}: native result differs from js (${got} vs ${want})`);
    }
  }
  if (!items.every((it) => native.verify(it.msgHash, it.starkKey, it.r, it.s))) throw new Error('a valid signature failed natively');
  // warm the JS backend's per-key parity cache (what a running node has), so JS pays one verify per signature
  for (let i = 0; i < KEYS; i++) {
    const it = items[i]!;
    if (!jsBackend.verify(it.msgHash, it.starkKey, it.r, it.s)) throw new Error('a valid signature failed in js');
  }

  console.log(`perpnode crypto benchmark: node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`native addon loaded and tables built in ${loadMs.toFixed(1)} ms (wall); ops per ${WALL ? 'wall' : 'CPU'}-second, median of ${ROUNDS} alternating rounds of ${ROUND_MS} ms per side\n`);
  const rows: string[][] = [['primitive', 'js ops/s', 'native ops/s', 'native/js']];
  for (const c of cases) {
    const js: number[] = [];
    const nat: number[] = [];
    let ij = 0;
    let inn = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const a = measure(c, jsBackend, ij);
      ij = a.next;
      js.push(a.ops);
      const b = measure(c, native, inn);
      inn = b.next;
      nat.push(b.ops);
    }
    const mj = median(js);
    const mn = median(nat);
    rows.push([c.name, fmt(mj), fmt(mn), `${(mn / mj).toFixed(1)}x`]);
    printRow(rows[0]!, rows.at(-1)!, rows.length === 2);
  }
}

function printRow(header: string[], row: string[], withHeader: boolean): void {
  const w = [40, 14, 16, 10];
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('');
  if (withHeader) {
    console.log(line(header));
    console.log('-'.repeat(w.reduce((x, y) => x + y, 0)));
  }
  console.log(line(row));
}

await main();
