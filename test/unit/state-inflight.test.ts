/**
 * The world's in-flight layer (pipelined sealing): a block staged as head before its batch is
 * durable must be read back exactly, even when the bounded flat cache has evicted every one
 * of its entries and LevelDB still holds the previous values (a stale read there would be a
 * silent state fork); dropped once durable, rolled back on a failed write.
 */
import { expect } from 'chai';
import { openDataDir } from '../../node/storage/open.ts';
import { WorldState } from '../../node/state/index.ts';
import { writeBatch } from '../../node/storage/db.ts';
import { Tables } from '../../node/storage/schema.ts';
import { tempDir } from '../helpers/tmp.ts';

const A = [0x100n, 0x101n, 0x102n];
const K = [1n, 2n, 3n, 4n];

/** Every slot and nonce of the test's address space, as the head answers them. */
function snapshot(w: WorldState): string {
  const parts: string[] = [w.root.toString(16)];
  for (const a of A) {
    parts.push(`${w.getNonce(a)}/${w.getClassHash(a)}`);
    for (const k of K) parts.push(w.getStorage(a, k).toString(16));
  }
  return parts.join(',');
}

/** Reads enough other slots to push everything else out of a cache of `n` entries. */
function evictAll(w: WorldState, n: number): void {
  for (let i = 0; i < n + 4; i++) w.getStorage(0x900n, BigInt(1000 + i));
}

describe('world state in-flight layer (a block staged before its batch is durable)', () => {
  for (const cacheEntries of [1, 3]) {
    it(`cache of ${cacheEntries}: the staged block is read back exactly although LevelDB still holds the old values; durable, then the next block builds on it`, async () => {
      const tmp = tempDir();
      const dir = await openDataDir(tmp.path);
      try {
        const w = await WorldState.load(dir.db, 'poseidon', { cacheEntries });
        // Block 1, durable and applied: the base values.
        const p1 = w.newBlock();
        for (const a of A) {
          p1.deploy(a, 0xc0n);
          for (const k of K) p1.setStorage(a, k, a * 10n + k);
        }
        const f1 = await p1.finalize();
        await writeBatch(dir.db, f1.ops, { sync: true });
        f1.apply();

        // Block 2: overwrite and delete some slots, bump nonces; staged, its batch NOT written.
        const p2 = w.newBlock();
        for (const a of A) {
          p2.setNonce(a, 7n);
          p2.setStorage(a, 1n, 0n);
          p2.setStorage(a, 2n, a * 100n);
        }
        const before = snapshot(w);
        const f2 = await p2.finalize();
        const expected = (() => {
          // What block 2's head must read: the overlay's own view (p2 over block 1).
          const parts: string[] = [f2.root.toString(16)];
          for (const a of A) {
            parts.push(`${p2.getNonce(a)}/${p2.getClassHash(a)}`);
            for (const k of K) parts.push(p2.getStorage(a, k).toString(16));
          }
          return parts.join(',');
        })();
        const staged = f2.stage();
        expect(w.inFlightEntries).to.be.greaterThan(0);
        evictAll(w, cacheEntries);
        const ev0 = w.cacheStats().evictions;
        expect(snapshot(w)).to.equal(expected);
        evictAll(w, cacheEntries);
        expect(w.cacheStats().evictions).to.be.greaterThan(ev0);
        // LevelDB itself still has block 1's value: without the layer this read would be stale.
        const raw = (dir.db as any).getSync(Tables.storage.key({ address: A[0]!, key: 2n }));
        expect(Tables.storage.decode(raw)).to.equal(A[0]! * 10n + 2n);
        expect(snapshot(w)).to.equal(expected);

        // The next block executes on the staged head meanwhile, but may not commit before it is durable.
        const p3 = w.newBlock();
        p3.setStorage(A[1]!, 3n, p3.getStorage(A[1]!, 2n) + 1n);
        expect(p3.getStorage(A[1]!, 3n)).to.equal(A[1]! * 100n + 1n);
        let refused = false;
        try {
          await p3.finalize();
        } catch {
          refused = true;
        }
        expect(refused, 'finalize while the previous block is in flight').to.equal(true);

        await writeBatch(dir.db, f2.ops, { sync: true });
        staged.durable();
        expect(w.inFlightEntries).to.equal(0);
        evictAll(w, cacheEntries);
        expect(snapshot(w)).to.equal(expected);
        expect(snapshot(w)).to.not.equal(before);
        const f3 = await p3.finalize();
        await writeBatch(dir.db, f3.ops, { sync: true });
        f3.apply();
        expect(w.getStorage(A[1]!, 3n)).to.equal(A[1]! * 100n + 1n);
        expect(w.digest.value).to.equal(await w.computeFlatDigest());
      } finally {
        await dir.close();
        tmp.cleanup();
      }
    });
  }

  it('a failed write: abort puts the previous head back (roots, digest, every value)', async () => {
    const tmp = tempDir();
    const dir = await openDataDir(tmp.path);
    try {
      const w = await WorldState.load(dir.db, 'poseidon', { cacheEntries: 2 });
      const p1 = w.newBlock();
      for (const a of A) for (const k of K) p1.setStorage(a, k, a + k);
      const f1 = await p1.finalize();
      await writeBatch(dir.db, f1.ops, { sync: true });
      f1.apply();
      const before = snapshot(w);
      const digest = w.digest.value;
      const p2 = w.newBlock();
      for (const a of A) p2.setStorage(a, 3n, 999n);
      const f2 = await p2.finalize();
      const staged = f2.stage();
      expect(snapshot(w)).to.not.equal(before);
      staged.abort();
      expect(w.inFlightEntries).to.equal(0);
      expect(snapshot(w)).to.equal(before);
      expect(w.digest.value).to.equal(digest);
      expect(w.digest.value).to.equal(await w.computeFlatDigest());
      // and the head can go on from there
      const p3 = w.newBlock();
      p3.setStorage(A[0]!, 4n, 5n);
      const f3 = await p3.finalize();
      await writeBatch(dir.db, f3.ops, { sync: true });
      f3.apply();
      expect(w.getStorage(A[0]!, 4n)).to.equal(5n);
      expect(w.digest.value).to.equal(await w.computeFlatDigest());
    } finally {
      await dir.close();
      tmp.cleanup();
    }
  });
});
