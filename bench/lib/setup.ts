/**
 * What a run starts from, built once and cached in bench/.cache (git-ignored):
 *  - keys-<seed>.bin: account keys (private, stark key, address; 96 bytes each), extended as
 *    larger --accounts need more (key i is the same for every N);
 *  - genesis-<id>.json: the bench chain (devnet.json's keys and market parameters, M markets,
 *    funding every second, no genesis accounts);
 *  - snap-<id>-<N>/: a data directory after N DEPLOY_ACCOUNT + DEPOSIT transactions went through
 *    the real sequencer (in bulk: a full block per turn of the producer lock) (so opening it costs no genesis re-hashing of N accounts), copied for
 *    each run and never written to.
 * The crypto backend used to build these does not matter (backends are bit-exact), so the
 * fastest one available builds them whatever --crypto the run uses.
 */
import { createHash } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { bigIntToBytes32, bytesToBigInt, CURVE_ORDER } from '../../node/crypto/index.ts';
import { startSequencer } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import { signatureJobs, VerifyPool } from '../../node/sequencer/verify-pool.ts';
import { loadGenesis } from '../../node/chain/genesis.ts';
import { ACC } from '../../contracts-ts/layout.ts';
import { accountAddress } from '../../contracts-ts/classes.ts';
import type { PerpTx } from '../../contracts-ts/index.ts';
import { TaskPool } from './tasks.ts';
import type { Progress } from './progress.ts';

export const SETUP_VERSION = 1;
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

/** Private key i of a seed: 1 + sha256(tag, seed, i) mod (n - 1). */
export function benchKey(seed: number, i: number): bigint {
  const h = BigInt('0x' + sha(`perpnode-bench-key:${seed}:${i}`));
  return 1n + (h % (CURVE_ORDER - 1n));
}

const REC = 96;

/** Keys 0..n-1 of `seed`, from the cache, generating (and appending) the missing ones. */
export async function ensureKeys(cacheDir: string, seed: number, n: number, tasks: () => Promise<TaskPool>, progress?: Progress): Promise<Account[]> {
  mkdirSync(cacheDir, { recursive: true });
  const path = join(cacheDir, `keys-${seed}.bin`);
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
  const per = 100;
  for (let i = have; i < n; i += per) todo.push(Array.from({ length: Math.min(per, n - i) }, (_, k) => benchKey(seed, i + k)));
  progress?.start(`keys for ${n - have} accounts`, n - have);
  const fd = openSync(path, 'a');
  try {
    const results = new Map<number, { pks: bigint[]; addrs: bigint[] }>();
    let written = 0;
    await pool.map(
      todo.map((sks) => ({ kind: 'keys', sks })),
      (i, r) => {
        if (r.kind !== 'keys') throw new Error('unexpected task result');
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

/** The bench chain: devnet.json's keys and market parameters, `markets` markets, no genesis accounts. */
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

/**
 * The cached data directory for (genesis, N accounts, seed); built through the real sequencer
 * when missing: DEPLOY_ACCOUNT and DEPOSIT for every account, signatures checked on the pool.
 */
export async function ensureSnapshot(
  cacheDir: string,
  opts: { markets: number; accounts: Account[]; seed: number; buildCrypto: 'js' | 'native'; log: (s: string) => void },
  tasks: () => Promise<TaskPool>,
  progress?: Progress,
): Promise<Snapshot> {
  const genesis = benchGenesis(opts.markets);
  const n = opts.accounts.length;
  const id = snapshotId(genesis, n, opts.seed);
  const genesisPath = join(cacheDir, `genesis-${sha(JSON.stringify(genesis)).slice(0, 16)}.json`);
  if (!existsSync(genesisPath)) writeFileSync(genesisPath, JSON.stringify(genesis, null, 2) + '\n');
  const dir = join(cacheDir, `snap-${id}-${n}`);
  const metaPath = join(dir, 'bench-snapshot.json');
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    return { id, dir, genesisPath, head: meta.head, accounts: meta.accounts };
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  opts.log(`building the ${n}-account data directory (once; cached in ${dir})`);
  const g = loadGenesis(genesisPath);
  const op = g.exchange.bridgeOperator;
  if (op.privateKey === undefined) throw new Error('bench genesis has no bridge operator private key');
  const node = await startSequencer({ dataDir: tmp, genesisPath, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', blockTimeMs: 500, log: createLogger('warn', 'bench-setup') });
  const vpool = await VerifyPool.create({ backend: opts.buildCrypto });
  node.producer.sigCache.attachPool(vpool);
  let head = 0;
  try {
    const pool = await tasks();
    // Bulk load: a block per chunk, every account's DEPLOY_ACCOUNT then its DEPOSIT executed in
    // one turn of the producer lock (no per-transaction queueing, duplicate look-up or re-hash;
    // a transaction that fails a rule fails the set-up), then sealed. The chunk fills a block
    // (max_block_transactions); signing and verification of the next chunk run on the workers
    // while this one executes.
    const chunk = Math.max(1, Math.floor(g.maxBlockTransactions / 2));
    progress?.start(`set-up transactions for ${n} accounts`, n);
    const keyOf = (a: bigint) => node.chain.world.getStorage(a, ACC.publicKey);
    const sign = async (from: number): Promise<{ accs: Account[]; deploys: PerpTx[]; deposits: PerpTx[] }> => {
      const accs = opts.accounts.slice(from, from + chunk);
      const parts: (typeof accs)[] = [];
      for (let i = 0; i < accs.length; i += 50) parts.push(accs.slice(i, i + 50));
      const rs = await Promise.all(
        parts.map((p) =>
          pool.run({
            kind: 'setup',
            chainId: g.chainId,
            operatorSk: op.privateKey!,
            operatorPk: op.publicKey,
            accounts: p.map((a) => ({ sk: a.sk, pk: a.pk, addr: a.addr, depositId: 1_000_000n + BigInt(a.index), amount: ACCOUNT_DEPOSIT })),
          }),
        ),
      );
      const deploys: PerpTx[] = [];
      const deposits: PerpTx[] = [];
      let k = 0;
      for (const r of rs) {
        if (r.kind !== 'setup') throw new Error('unexpected task result');
        for (let j = 0; j < r.deploySigs.length; j++, k++) {
          const a = accs[k]!;
          deploys.push({ type: 'DEPLOY_ACCOUNT', publicKey: a.pk, signature: r.deploySigs[j]! });
          deposits.push({ type: 'DEPOSIT', depositId: 1_000_000n + BigInt(a.index), recipient: a.addr, amount: ACCOUNT_DEPOSIT, signature: r.depositSigs[j]! });
        }
      }
      // Deploys' keys come from the transaction itself; deposits are signed by the operator.
      await node.producer.sigCache.prepare([...deploys, ...deposits].flatMap((tx) => signatureJobs(tx, keyOf, g.chainId, op.publicKey)));
      return { accs, deploys, deposits };
    };
    let pending = sign(0);
    for (let from = 0; from < n; from += chunk) {
      const { accs, deploys, deposits } = await pending;
      if (from + chunk < n) pending = sign(from + chunk);
      await node.producer.lock.run(() => {
        for (const tx of deploys) node.producer.executeLocked(tx);
        for (const tx of deposits) node.producer.executeLocked(tx);
      });
      await node.producer.sealNow();
      progress?.tick(accs.length);
    }
    await node.producer.sealNow();
    head = Number(node.producer.head.number);
  } finally {
    progress?.done();
    await vpool.close();
    await node.stop();
  }
  writeFileSync(join(tmp, 'bench-snapshot.json'), JSON.stringify({ id, accounts: n, head, seed: opts.seed, genesis: genesisPath, built: new Date().toISOString() }, null, 2));
  renameSync(tmp, dir);
  return { id, dir, genesisPath, head, accounts: n };
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
