/**
 * The world state reads LevelDB's flat tables through a bounded cache: a 4-entry cache must
 * give exactly the roots, diffs and reads of a cache that holds everything, across blocks,
 * reverted transactions, deletions, restarts and rollbacks.
 */
import { expect } from 'chai';
import { openDataDir, type OpenedDataDir } from '../../node/storage/open.ts';
import { WorldState, type ReverseDiff } from '../../node/state/index.ts';
import { writeBatch } from '../../node/storage/db.ts';
import { tempDir } from '../helpers/tmp.ts';

/** A small deterministic PRNG (xorshift32): the same script for both caches. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

type Op = ['s', bigint, bigint, bigint] | ['n', bigint, bigint] | ['d', bigint, bigint] | ['k', bigint, bigint] | ['revert'];

/** Blocks of transactions over 6 contracts x 5 keys: writes, zeroing (deletes), nonces, deploys, declares and reverted transactions. */
function script(seed: number, blocks: number): Op[][][] {
  const r = rng(seed);
  const out: Op[][][] = [];
  for (let b = 0; b < blocks; b++) {
    const txs: Op[][] = [];
    for (let t = 0; t < 1 + r(4); t++) {
      const tx: Op[] = [];
      for (let i = 0; i < 1 + r(5); i++) {
        const a = BigInt(0x100 + r(6));
        const kind = r(10);
        if (kind < 6) tx.push(['s', a, BigInt(r(5)), r(3) === 0 ? 0n : BigInt(1 + r(1000))]);
        else if (kind < 8) tx.push(['n', a, BigInt(1 + r(50))]);
        else if (kind < 9) tx.push(['d', a, BigInt(0xc0 + r(3))]);
        else tx.push(['k', BigInt(0xe0 + r(3)), BigInt(1 + r(9))]);
      }
      if (r(5) === 0) tx.push(['revert']);
      txs.push(tx);
    }
    out.push(txs);
  }
  return out;
}

interface Trace {
  roots: bigint[];
  reads: string[];
}

/** Everything a reader can see of the head: every slot, nonce and class of the test's address space. */
function snapshot(w: WorldState): string {
  const parts: string[] = [w.root.toString(16)];
  for (let a = 0x100n; a < 0x106n; a++) {
    parts.push(`${w.getNonce(a)}/${w.getClassHash(a)}/${w.getContract(a)?.storageRoot ?? '-'}`);
    for (let k = 0n; k < 5n; k++) parts.push(w.getStorage(a, k).toString(16));
  }
  for (let c = 0xe0n; c < 0xe3n; c++) parts.push(String(w.getDeclared(c) ?? '-'));
  return parts.join(',');
}

async function run(cacheEntries: number, blocks: Op[][][]): Promise<Trace & { evictions: number; maxEntries: number }> {
  const tmp = tempDir();
  let dir: OpenedDataDir = await openDataDir(tmp.path);
  const trace: Trace = { roots: [], reads: [] };
  let evictions = 0;
  let maxEntries = 0;
  const note = (w: WorldState) => {
    const s = w.cacheStats();
    maxEntries = Math.max(maxEntries, s.entries);
    evictions = Math.max(evictions, s.evictions);
  };
  try {
    let world = await WorldState.load(dir.db, 'poseidon', { cacheEntries });
    const reverses: ReverseDiff[] = [];
    for (const [i, txs] of blocks.entries()) {
      const p = world.newBlock();
      for (const tx of txs) {
        p.beginTx();
        for (const op of tx) {
          if (op[0] === 's') p.setStorage(op[1], op[2], op[3]);
          else if (op[0] === 'n') p.setNonce(op[1], op[2]);
          else if (op[0] === 'd') p.deploy(op[1], op[2]);
          else if (op[0] === 'k') p.declareClass(op[1], op[2]);
        }
        if (tx.some((op) => op[0] === 'revert')) p.revertTx();
        else p.commitTx();
      }
      const before = snapshot(world);
      const f = await p.finalize();
      await writeBatch(dir.db, f.ops, { sync: true });
      // The batch is in LevelDB but not applied yet: readers still see the previous head.
      expect(snapshot(world), `block ${i}: the head changed before apply`).to.equal(before);
      f.apply();
      note(world);
      reverses.push(f.reverseDiff);
      trace.roots.push(world.root);
      trace.reads.push(snapshot(world));
      if (i % 4 === 3) {
        // Restart: a new world over the reopened directory reads only the roots.
        await dir.close();
        dir = await openDataDir(tmp.path);
        world = await WorldState.load(dir.db, 'poseidon', { cacheEntries });
        expect(world.cacheStats().reads).to.equal(0);
        expect(world.digest.value).to.equal(await world.computeFlatDigest());
        trace.reads.push(snapshot(world));
      }
    }
    // Roll back half of the chain, one block at a time, restarting halfway.
    for (let i = reverses.length - 1; i >= reverses.length / 2; i--) {
      const before = snapshot(world);
      const u = world.unwind(reverses[i]!);
      await writeBatch(dir.db, u.ops, { sync: true });
      expect(snapshot(world), `unwind of block ${i}: the head changed before apply`).to.equal(before);
      u.apply();
      note(world);
      trace.roots.push(world.root);
      trace.reads.push(snapshot(world));
      if (i === reverses.length - 3) {
        await dir.close();
        dir = await openDataDir(tmp.path);
        world = await WorldState.load(dir.db, 'poseidon', { cacheEntries });
        trace.reads.push(snapshot(world));
      }
    }
    expect(world.digest.value).to.equal(await world.computeFlatDigest());
    note(world);
    return { ...trace, evictions, maxEntries };
  } finally {
    await dir.close();
    tmp.cleanup();
  }
}

describe('world state cache (flat state read from LevelDB)', () => {
  for (const seed of [1, 7, 42]) {
    it(`a 4-entry cache gives the roots and reads of an unbounded one (seed ${seed}): 16 blocks, restarts, 8 blocks rolled back`, async () => {
      const blocks = script(seed, 16);
      const big = await run(1_000_000, blocks);
      const tiny = await run(4, blocks);
      expect(big.evictions).to.equal(0);
      expect(tiny.evictions, 'the tiny cache must actually evict').to.be.greaterThan(100);
      expect(tiny.maxEntries).to.be.at.most(4);
      expect(tiny.roots).to.deep.equal(big.roots);
      expect(tiny.reads).to.deep.equal(big.reads);
      // The chain did something: distinct roots, and the rollback came back to an earlier one.
      expect(new Set(big.roots).size).to.be.greaterThan(8);
      expect(big.roots[big.roots.length - 1]).to.equal(big.roots[7]);
    });
  }

  it('a world reads only meta/state_roots when it opens, and a cache miss is one LevelDB read', async () => {
    const tmp = tempDir();
    const dir = await openDataDir(tmp.path);
    try {
      const w = await WorldState.load(dir.db, 'pedersen', { cacheEntries: 2 });
      const p = w.newBlock();
      for (let k = 0n; k < 10n; k++) p.setStorage(0x100n, k, k + 1n);
      p.deploy(0x100n, 0xaan);
      const f = await p.finalize();
      await writeBatch(dir.db, f.ops, { sync: true });
      f.apply();
      const w2 = await WorldState.load(dir.db, 'pedersen', { cacheEntries: 2 });
      expect(w2.root).to.equal(w.root);
      expect(w2.cacheStats()).to.include({ entries: 0, reads: 0 });
      expect(w2.getStorage(0x100n, 3n)).to.equal(4n);
      expect(w2.getStorage(0x100n, 3n)).to.equal(4n);
      expect(w2.cacheStats()).to.include({ entries: 1, reads: 1, hits: 1 });
      for (let k = 0n; k < 10n; k++) expect(w2.getStorage(0x100n, k)).to.equal(k + 1n);
      expect(w2.cacheStats().entries, 'bounded by the capacity').to.be.within(1, 2);
      expect(w2.getStorage(0x100n, 99n)).to.equal(0n);
      const refused = await WorldState.load(dir.db, 'pedersen', { cacheEntries: 0 }).then(
        () => 'opened',
        (e: Error) => e.message,
      );
      expect(refused).to.match(/positive integer/);
    } finally {
      await dir.close();
      tmp.cleanup();
    }
  });
});

describe('world state prefetch (entries read on LevelDB threads before execution)', () => {
  /** A world over a fresh directory with contract 0x100's slots 0..9 set to 1 in block 1. */
  async function fixture(cacheEntries: number) {
    const tmp = tempDir();
    const dir = await openDataDir(tmp.path);
    const world = await WorldState.load(dir.db, 'poseidon', { cacheEntries });
    const p = world.newBlock();
    p.beginTx();
    for (let k = 0n; k < 10n; k++) p.setStorage(0x100n, k, 1n);
    p.commitTx();
    const f = await p.finalize();
    await writeBatch(dir.db, f.ops, { sync: true });
    f.apply();
    const block = async (key: bigint, value: bigint) => {
      const b = world.newBlock();
      b.beginTx();
      b.setStorage(0x100n, key, value);
      b.commitTx();
      const x = await b.finalize();
      await writeBatch(dir.db, x.ops, { sync: true });
      x.apply();
    };
    return { tmp, dir, world, block };
  }

  it('caches what it read in one getMany, so execution makes no synchronous read for it', async () => {
    const { tmp, dir, world } = await fixture(1000);
    try {
      // A restart: nothing is cached.
      const w = await WorldState.load(dir.db, 'poseidon', { cacheEntries: 1000 });
      expect(await w.prefetch([0n, 1n, 2n, 11n].map((key) => ({ address: 0x100n, key })), [0x100n])).to.equal(5);
      const reads = w.cacheStats().reads;
      expect([0n, 1n, 2n, 11n].map((k) => w.getStorage(0x100n, k))).to.deep.equal([1n, 1n, 1n, 0n]);
      expect(w.getContract(0x100n)?.storageRoot).to.equal(world.getContract(0x100n)?.storageRoot);
      expect(w.cacheStats().reads, 'no synchronous LevelDB read after the prefetch').to.equal(reads);
      expect(await w.prefetch([{ address: 0x100n, key: 0n }]), 'already cached: nothing read').to.equal(0);
    } finally {
      await dir.close();
      tmp.cleanup();
    }
  });

  it('a block applied while its read is in flight discards it: never a stale value, even after the new one was evicted', async () => {
    const { tmp, dir, world, block } = await fixture(2);
    try {
      for (let k = 5n; k < 9n; k++) world.getStorage(0x100n, k); // slot 0 is not cached (2 entries)
      const db = dir.db as any;
      const orig = db.getMany.bind(db);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      db.getMany = (keys: Uint8Array[]) => orig(keys).then((r: unknown) => gate.then(() => r)); // reads now, answers later
      const p = world.prefetch([{ address: 0x100n, key: 0n }]);
      await block(0n, 42n); // the block changes slot 0 after the prefetch read it
      for (let k = 5n; k < 9n; k++) world.getStorage(0x100n, k); // ... and its new value leaves the 2-entry cache
      release();
      expect(await p, 'the read from before the block is dropped').to.equal(0);
      db.getMany = orig;
      expect(world.getStorage(0x100n, 0n)).to.equal(42n);
    } finally {
      await dir.close();
      tmp.cleanup();
    }
  });
});
