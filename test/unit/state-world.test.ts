import { expect } from 'chai';
import fc from 'fast-check';
import { openDataDir, type OpenedDataDir } from '../../node/storage/open.ts';
import { WorldState } from '../../node/state/index.ts';
import { createTrie } from '../../node/trie/index.ts';
import { contractLeaf, globalRoot } from '../../node/state/commitment.ts';
import { tempDir } from '../helpers/tmp.ts';
import { vectorsPath } from '../helpers/vectors.ts';
import { readFileSync } from 'node:fs';

async function commit(world: WorldState, dir: OpenedDataDir, writes: (p: ReturnType<WorldState['newBlock']>) => void) {
  const p = world.newBlock();
  writes(p);
  const f = await p.finalize();
  await dir.db.batch(f.ops as any, { sync: true });
  f.apply();
  return f;
}

describe('world state over LevelDB', () => {
  let tmp: ReturnType<typeof tempDir>;
  let dir: OpenedDataDir;
  beforeEach(async () => {
    tmp = tempDir();
    dir = await openDataDir(tmp.path);
  });
  afterEach(async () => {
    await dir.close();
    tmp.cleanup();
  });

  it('root equals an independent recomputation from the raw storage', async () => {
    const world = await WorldState.load(dir.db, 'pedersen');
    await commit(world, dir, (p) => {
      p.deploy(0x100n, 0xaaan);
      p.setStorage(0x100n, 1n, 2n);
      p.setStorage(0x100n, 5n, 7n);
      p.setNonce(0x100n, 3n);
      p.deploy(0x200n, 0xbbbn);
    });
    const s100 = createTrie({ hash: 'pedersen' });
    s100.put(1n, 2n);
    s100.put(5n, 7n);
    const r100 = await s100.commit();
    const contracts = createTrie({ hash: 'pedersen' });
    contracts.put(0x100n, contractLeaf('pedersen', 0xaaan, r100, 3n));
    contracts.put(0x200n, contractLeaf('pedersen', 0xbbbn, 0n, 0n));
    expect(world.root).to.equal(globalRoot(await contracts.commit(), 0n));
  });

  it('with pedersen, contract storage roots equal Starknet trie roots (public vectors)', async () => {
    const V = JSON.parse(readFileSync(vectorsPath(), 'utf8'));
    const world = await WorldState.load(dir.db, 'pedersen');
    const cases = V.trie_roots_pedersen_height_251.filter((c: any) => c.leaves.length > 0);
    await commit(world, dir, (p) => {
      cases.forEach((c: any, i: number) => {
        p.deploy(0x1000n + BigInt(i), 0x77n);
        for (const [k, v] of c.leaves) p.setStorage(0x1000n + BigInt(i), BigInt(k), BigInt(v));
      });
    });
    cases.forEach((c: any, i: number) => expect(world.getContract(0x1000n + BigInt(i))!.storageRoot).to.equal(BigInt(c.root)));
  });

  it('a reverted transaction leaves no trace', async () => {
    const world = await WorldState.load(dir.db, 'poseidon');
    const p = world.newBlock();
    p.setStorage(1n, 1n, 1n);
    p.beginTx();
    p.setStorage(1n, 1n, 9n);
    p.setStorage(2n, 2n, 2n);
    p.setNonce(1n, 5n);
    p.deploy(3n, 3n);
    p.revertTx();
    expect(p.getStorage(1n, 1n)).to.equal(1n);
    expect(p.getStorage(2n, 2n)).to.equal(0n);
    expect(p.getNonce(1n)).to.equal(0n);
    expect(p.getClassHash(3n)).to.equal(0n);
    const f = await p.finalize();
    expect(f.stateDiff.storage_diffs).to.have.length(1);
    expect(f.stateDiff.nonces).to.have.length(0);
    expect(f.stateDiff.deployed_contracts).to.have.length(0);
  });

  it('state survives a reopen and unwinding blocks restores the exact earlier roots (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 3 })), { maxLength: 8 }), { minLength: 1, maxLength: 5 }),
        async (blocks) => {
          const t = tempDir();
          let d = await openDataDir(t.path);
          try {
            let world = await WorldState.load(d.db, 'poseidon');
            const roots: bigint[] = [world.root];
            const reverses = [];
            for (const writes of blocks) {
              const f = await commit(world, d, (p) => {
                for (const [a, k, v] of writes) p.setStorage(BigInt(a), BigInt(k), BigInt(v));
              });
              reverses.push(f.reverseDiff);
              roots.push(world.root);
            }
            await d.close();
            d = await openDataDir(t.path);
            world = await WorldState.load(d.db, 'poseidon');
            expect(world.root).to.equal(roots[roots.length - 1]);
            for (let i = reverses.length - 1; i >= 0; i--) {
              const u = world.unwind(reverses[i]!);
              await d.db.batch(u.ops as any, { sync: true });
              u.apply();
              expect(world.root).to.equal(roots[i]);
            }
            const reloaded = await WorldState.load(d.db, 'poseidon');
            expect(reloaded.root).to.equal(roots[0]);
            const left = [];
            for await (const e of reloaded.storageEntries()) left.push(e);
            expect(left).to.deep.equal([]);
          } finally {
            await d.close();
            t.cleanup();
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});
