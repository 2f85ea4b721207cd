/**
 * What a run starts from, built once and cached in bench/.cache (git-ignored):
 *  - keys2-<seed>.bin: account keys (private, stark key, address; 96 bytes each), extended as
 *    larger --accounts need more (key i is the same for every N). Private key i is
 *    base(seed) + i, so stark key i is one point addition from key i - 1 (~20,000 keys/s a
 *    core instead of ~800 with a scalar multiplication each): bench keys, published, worthless;
 *  - genesis-<id>.json + accounts-<id>.jsonl: the bench chain (devnet.json's keys and market
 *    parameters, M markets, funding every second) with its N accounts, each holding
 *    ACCOUNT_DEPOSIT, in a genesis accounts file (docs/genesis.md);
 *  - snap-<id>-<N>/: the data directory that genesis creates (block 0 built by the bulk genesis
 *    path: accounts in batches, no transactions, no signatures), copied for each run and never
 *    written to. Wallets still sign every order, cancel and oracle update of the run.
 * The crypto backend used to build these does not matter (backends are bit-exact), so the
 * fastest one available builds them whatever --crypto the run uses.
 */
import { createHash } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { bigIntToBytes32, bytesToBigInt, CURVE_ORDER, getStarkKey } from '../../node/crypto/index.ts';
import { openChain } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import { accountAddress } from '../../contracts-ts/classes.ts';
import { TaskPool } from './tasks.ts';
import type { Progress } from './progress.ts';

export const SETUP_VERSION = 2;
export const USDC = 10n ** 6n;
/** Every account's deposit at set-up. */
export const ACCOUNT_DEPOSIT = 10_000n * USDC;

export interface Account {
  index: number;
  sk: bigint;
  pk: bigint;
  addr: bigint;
}

export function repoRoot(): string {
  return new URL('../../', import.meta.url).pathname;
}

export function defaultCacheDir(): string {
  return join(repoRoot(), 'bench', '.cache');
}

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** The accounts' consecutive private keys start here: 1 + sha256(tag, seed) mod (n - 2^40). */
export function benchKeyBase(seed: number): bigint {
  const h = BigInt('0x' + sha(`perpnode-bench-key-base:${seed}`));
  return 1n + (h % (CURVE_ORDER - (1n << 40n)));
}

/** Private key i of a seed: benchKeyBase(seed) + i (below the curve order for i < 2^40). */
export function benchKey(seed: number, i: number): bigint {
  return benchKeyBase(seed) + BigInt(i);
}

const REC = 96;

/** Keys 0..n-1 of `seed`, from the cache, generating (and appending) the missing ones. */
export async function ensureKeys(cacheDir: string, seed: number, n: number, tasks: () => Promise<TaskPool>, progress?: Progress): Promise<Account[]> {
  mkdirSync(cacheDir, { recursive: true });
  const path = join(cacheDir, `keys2-${seed}.bin`);
  const out: Account[] = [];
  let have = 0;
  if (existsSync(path)) {
    const buf = readFileSync(path);
    have = Math.floor(buf.length / REC);
    for (let i = 0; i < Math.min(have, n); i++) {
      const o = i * REC;
      out.push({ index: i, sk: bytesToBigInt(buf.subarray(o, o + 32)), pk: bytesToBigInt(buf.subarray(o + 32, o + 64)), addr: bytesToBigInt(buf.subarray(o + 64, o + 96)) });
    }
    // A truncated last record (interrupted append) is regenerated.
    if (buf.length % REC !== 0) writeFileSync(path, buf.subarray(0, have * REC));
    // Addresses derive from the account class hash: a new class makes every cached address stale.
    if (out.length > 0 && accountAddress(out[0]!.pk) !== out[0]!.addr) {
      rmSync(path, { force: true });
      out.length = 0;
      have = 0;
    }
  }
  if (have >= n) return out;
  const pool = await tasks();
  const todo: bigint[][] = [];
  const per = 2000;
  for (let i = have; i < n; i += per) todo.push(Array.from({ length: Math.min(per, n - i) }, (_, k) => benchKey(seed, i + k)));
  progress?.start(`keys for ${n - have} accounts`, n - have);
  const fd = openSync(path, 'a');
  try {
    const results = new Map<number, { pks: bigint[]; addrs: bigint[] }>();
    let written = 0;
    await pool.map(
      todo.map((sks) => ({ kind: 'keyRange', sk0: sks[0]!, count: sks.length })),
      (i, r) => {
        if (r.kind !== 'keys') throw new Error('unexpected task result');
        // One scalar multiplication per range checks the additions.
        if (r.pks[0] !== getStarkKey(todo[i]![0]!)) throw new Error('bench keys: point addition disagrees with getStarkKey');
        results.set(i, r);
        // Append in index order so the file is always a valid prefix.
        while (results.has(written)) {
          const res = results.get(written)!;
          results.delete(written);
          const sks = todo[written]!;
          const buf = Buffer.alloc(sks.length * REC);
          sks.forEach((sk, k) => {
            buf.set(bigIntToBytes32(sk), k * REC);
            buf.set(bigIntToBytes32(res.pks[k]!), k * REC + 32);
            buf.set(bigIntToBytes32(res.addrs[k]!), k * REC + 64);
            out.push({ index: out.length, sk, pk: res.pks[k]!, addr: res.addrs[k]! });
          });
          writeSync(fd, buf);
          written++;
          progress?.tick(sks.length);
        }
      },
    );
  } finally {
    closeSync(fd);
    progress?.done();
  }
  return out;
}

/** The bench chain: devnet.json's keys and market parameters, `markets` markets, no dev accounts (ensureSnapshot adds the accounts file). */
export function benchGenesis(markets: number): any {
  const dev = JSON.parse(readFileSync(join(repoRoot(), 'genesis', 'devnet.json'), 'utf8'));
  const g = structuredClone(dev);
  g._comment = 'perpnode block-throughput benchmark chain (generated by bench/run.ts from genesis/devnet.json; DEVNET KEYS, public).';
  g.chain_id = 'PERPNODE_BENCH';
  const ex = g.exchange;
  delete ex.dev_accounts;
  ex.vault_initial_balance = '100000000';
  const templates: any[] = ex.markets;
  const out: any[] = [];
  for (let i = 0; i < markets; i++) {
    let m: any;
    if (i < templates.length) m = structuredClone(templates[i]);
    else {
      // More markets than devnet defines: ETH-like markets at distinct prices.
      m = structuredClone(templates[templates.length - 1]);
      m.symbol = `M${i}-USD-PERP`;
      m.initial_price = String(100 + 50 * i);
    }
    m.funding_interval_seconds = 1; // a funding tick (almost) every block
    m.open_interest_cap = '100000000';
    out.push(m);
  }
  ex.markets = out;
  return g;
}

export interface Snapshot {
  id: string;
  dir: string;
  genesisPath: string;
  head: number;
  accounts: number;
}

function snapshotId(genesis: unknown, n: number, seed: number): string {
  return sha(JSON.stringify({ genesis, n, seed, v: SETUP_VERSION, deposit: ACCOUNT_DEPOSIT.toString() })).slice(0, 16);
}

/** What building a snapshot cost (bench/README.md "Numbers: issue 14"). */
export interface SnapshotBuild {
  accounts: number;
  seconds: number;
  /** CPU-seconds of the whole process (every thread) while block 0 was built. */
  cpuSeconds: number;
  accountsPerSecond: number;
  accountsPerCpuSecond: number;
  /** Peak RSS of the process during the build (sampled), MB. */
  peakRssMb: number;
  /** Seconds writing the accounts file (not part of the rate). */
  fileSeconds: number;
}

/**
 * The cached data directory for (genesis, N accounts, seed); built when missing by the bulk
 * genesis path: the N accounts (stark key, ACCOUNT_DEPOSIT each) go into the genesis accounts
 * file and `openChain` creates the chain from it, writing block 0 in batches of accounts. No
 * transaction and no signature is involved (the wallets' keys sign only the run's workload).
 */
export async function ensureSnapshot(
  cacheDir: string,
  opts: { markets: number; accounts: Account[]; seed: number; buildCrypto: 'js' | 'native'; log: (s: string) => void },
  _tasks?: () => Promise<TaskPool>,
  progress?: Progress,
): Promise<Snapshot & { build?: SnapshotBuild }> {
  const n = opts.accounts.length;
  const base = benchGenesis(opts.markets);
  const id = snapshotId(base, n, opts.seed);
  const accountsName = `accounts-${id}-${n}.jsonl`;
  const genesis = { ...base, accounts_file: accountsName, accounts_count: n };
  const genesisPath = join(cacheDir, `genesis-${id}-${n}.json`);
  const accountsPath = join(cacheDir, accountsName);
  const dir = join(cacheDir, `snap-${id}-${n}`);
  const metaPath = join(dir, 'bench-snapshot.json');
  if (existsSync(metaPath) && existsSync(genesisPath) && existsSync(accountsPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    return { id, dir, genesisPath, head: meta.head, accounts: meta.accounts };
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  opts.log(`building the ${n}-account data directory through the bulk genesis (once; cached in ${dir})`);
  const tFile = performance.now();
  writeAccountsFile(accountsPath, opts.accounts, ACCOUNT_DEPOSIT);
  writeFileSync(genesisPath, JSON.stringify(genesis, null, 2) + '\n');
  const fileSeconds = (performance.now() - tFile) / 1000;
  progress?.start(`genesis accounts for ${n} accounts`, n);
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let head = 0;
  try {
    let last = 0;
    const c = await openChain({
      dataDir: tmp,
      genesisPath,
      log: createLogger('warn', 'bench-setup'),
      skipCheck: true,
      onGenesisProgress: (k) => {
        progress?.tick(k - last);
        last = k;
      },
    });
    head = Number((await c.chain.head())!.number);
    await c.close();
  } finally {
    clearInterval(sampler);
    progress?.done();
  }
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(cpu0);
  const cpuSeconds = (cu.user + cu.system) / 1e6;
  peak = Math.max(peak, process.memoryUsage().rss);
  const build: SnapshotBuild = { accounts: n, seconds, cpuSeconds, accountsPerSecond: n / seconds, accountsPerCpuSecond: n / cpuSeconds, peakRssMb: peak / 1e6, fileSeconds };
  opts.log(
    `bulk genesis: ${n} accounts in ${seconds.toFixed(1)} s (${build.accountsPerSecond.toFixed(0)} accounts/s; ${cpuSeconds.toFixed(1)} CPU-s, ${build.accountsPerCpuSecond.toFixed(0)} accounts per CPU-second), peak RSS ${build.peakRssMb.toFixed(0)} MB; accounts file written in ${fileSeconds.toFixed(1)} s`,
  );
  writeFileSync(join(tmp, 'bench-snapshot.json'), JSON.stringify({ id, accounts: n, head, seed: opts.seed, genesis: genesisPath, build, built: new Date().toISOString() }, null, 2));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { id, dir, genesisPath, head, accounts: n, build };
}

/** The genesis accounts file: one JSON object per line (docs/genesis.md), written in chunks. */
function writeAccountsFile(path: string, accounts: readonly Account[], deposit: bigint): void {
  const balance = (deposit / USDC).toString();
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (let i = 0; i < accounts.length; i += 10_000) {
      let chunk = '';
      for (const a of accounts.slice(i, i + 10_000)) chunk += `{"public_key":"0x${a.pk.toString(16)}","balance":"${balance}"}\n`;
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** A fresh copy of the snapshot for one run (never run in the cache itself). */
export function copySnapshot(snap: Snapshot, to: string): void {
  rmSync(to, { recursive: true, force: true });
  cpSync(snap.dir, to, { recursive: true });
  rmSync(join(to, 'perpnode.lock'), { force: true });
}

/** Bytes under a directory. */
export function dirSize(path: string): number {
  let total = 0;
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSyncSafe(p)) walk(join(p, e));
    } else total += st.size;
  };
  if (existsSync(path)) walk(path);
  return total;
}

function readdirSyncSafe(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}
