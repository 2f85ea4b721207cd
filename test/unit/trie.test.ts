import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { P, pedersen, poseidonHash, poseidonHashMany } from '../../node/crypto/index.ts';
import { installedCounting } from '../../bench/lib/counting.ts';
import {
  commitmentRoot,
  createTrie,
  decodeNode,
  encodeNode,
  hashTrieNode,
  MemoryNodeStore,
  MissingNodeError,
  Trie,
  TrieError,
  TrieIntegrityError,
  TrieProofError,
  verifyProof,
  verifyProofValue,
  type HashKind,
  type NodeStore,
  type ProofNode,
  type TrieNode,
} from '../../node/trie/index.ts';
import { vectorsPath } from '../helpers/vectors.ts';

const V = JSON.parse(readFileSync(vectorsPath(), 'utf8'));
const MAX251 = (1n << 251n) - 1n;
/** TRIE_RUNS=n scales every property up for a soak run. */
const runs = (n: number) => Number(process.env.TRIE_RUNS ?? n);

// ---- an independent reference: the root straight from the definition, no stores, no batching ----

type Ref = { leaf: bigint } | { l: Ref; r: Ref } | { path: bigint; len: number; child: Ref };
function refNode(entries: Array<[bigint, bigint]>, d: number, height: number): Ref | null {
  if (entries.length === 0) return null;
  if (d === height) return { leaf: entries[0]![1] };
  const bit = (k: bigint) => (k >> BigInt(height - 1 - d)) & 1n;
  const L = entries.filter(([k]) => bit(k) === 0n);
  const R = entries.filter(([k]) => bit(k) === 1n);
  if (L.length && R.length) return { l: refNode(L, d + 1, height)!, r: refNode(R, d + 1, height)! };
  const b = L.length ? 0n : 1n;
  const s = refNode(L.length ? L : R, d + 1, height)!;
  if ('path' in s) return { path: (b << BigInt(s.len)) | s.path, len: s.len + 1, child: s.child };
  return { path: b, len: 1, child: s };
}
function refHash(n: Ref, kind: HashKind): bigint {
  const H = kind === 'pedersen' ? pedersen : poseidonHash;
  if ('leaf' in n) return n.leaf;
  if ('l' in n) return H(refHash(n.l, kind), refHash(n.r, kind));
  return (H(refHash(n.child, kind), n.path) + BigInt(n.len)) % P;
}
function referenceRoot(m: Map<bigint, bigint>, kind: HashKind, height = 251): bigint {
  const entries = [...m].filter(([, v]) => v !== 0n);
  const n = refNode(entries, 0, height);
  return n ? refHash(n, kind) : 0n;
}

// ---- generators: keys that share long prefixes, so edges split, merge and collapse ----

function keyArb(height: 251 | 64): fc.Arbitrary<bigint> {
  const max = (1n << BigInt(height)) - 1n;
  const mid = 1n << BigInt(height - 1);
  return fc.oneof(
    fc.bigInt(0n, 15n),
    fc.bigInt(mid - 8n, mid + 8n),
    fc.bigInt(max - 8n, max),
    fc.bigInt(0n, max),
    fc.bigInt(0n, 0xffffn).map((x) => (x << BigInt(height - 16)) | 5n),
  );
}
const valueArb = fc.oneof(fc.bigInt(1n, 1000n), fc.bigInt(1n, P - 1n));
/** put(key, value) with some deletions (value 0). */
const opArb = (height: 251 | 64) => fc.tuple(keyArb(height), fc.oneof({ weight: 4, arbitrary: valueArb }, { weight: 1, arbitrary: fc.constant(0n) }));

async function buildFresh(m: Map<bigint, bigint>, kind: HashKind, height: 251 | 64 = 251): Promise<Trie> {
  const t = createTrie({ hash: kind, height });
  for (const [k, v] of m) if (v !== 0n) t.put(k, v);
  await t.commit();
  return t;
}

function shuffle<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** All node hashes reachable from root in a memory store. */
function reachable(store: MemoryNodeStore, root: bigint, height: number): Set<bigint> {
  const seen = new Set<bigint>();
  const walk = (h: bigint, d: number) => {
    if (h === 0n || d === height) return;
    seen.add(h);
    const n = store.get(h)!;
    if (n.kind === 'binary') {
      walk(n.left, d + 1);
      walk(n.right, d + 1);
    } else walk(n.child, d + n.length);
  };
  walk(root, 0);
  return seen;
}

describe('trie: shared vectors', () => {
  it('binary and edge node hashes (pedersen)', () => {
    const b = V.trie_nodes_pedersen.binary;
    const e = V.trie_nodes_pedersen.edge;
    expect(hashTrieNode({ kind: 'binary', left: BigInt(b.left), right: BigInt(b.right) }, 'pedersen')).to.equal(BigInt(b.out));
    expect(hashTrieNode({ kind: 'edge', child: BigInt(e.child), path: BigInt(e.path), length: e.length }, 'pedersen')).to.equal(BigInt(e.out));
  });

  it('height-251 pedersen roots, also with the independent reference', async () => {
    expect(V.trie_roots_pedersen_height_251.length).to.be.greaterThan(3);
    for (const v of V.trie_roots_pedersen_height_251) {
      const m = new Map<bigint, bigint>(v.leaves.map(([k, x]: [string, string]) => [BigInt(k), BigInt(x)]));
      const t = createTrie({ hash: 'pedersen' });
      for (const [k, x] of m) t.put(k, x);
      expect(await t.commit()).to.equal(BigInt(v.root));
      expect(t.root).to.equal(BigInt(v.root));
      expect(referenceRoot(m, 'pedersen')).to.equal(BigInt(v.root));
      for (const [k, x] of m) {
        expect(await t.get(k)).to.equal(x);
        expect(verifyProof(t.root, k, await t.prove(k), { hash: 'pedersen' })).to.equal(x);
      }
    }
  });

  it('transaction commitment (height 64, poseidon)', () => {
    const c = V.transaction_commitment_height_64_poseidon;
    expect(poseidonHashMany([1n, 2n, 3n])).to.equal(BigInt(c.leaves[0])); // leaf = poseidon_many([tx_hash, ...sig])
    expect(commitmentRoot(c.leaves.map(BigInt))).to.equal(BigInt(c.root));
    expect(commitmentRoot(c.leaves.map(BigInt), 'poseidon')).to.equal(BigInt(c.root));
  });

  it('a lone leaf is an edge of full height under the root', async () => {
    const t = createTrie({ hash: 'pedersen' });
    t.put(1n, 2n);
    const root = await t.commit();
    expect(root).to.equal((pedersen(2n, 1n) + 251n) % P);
    const proof = await t.prove(1n);
    expect(proof).to.deep.equal([{ node_hash: root, node: { child: 2n, path: 1n, length: 251 } }]);
  });
});

describe('trie: basics', () => {
  it('empty root is 0; get of anything is 0; proofs of absence are empty', async () => {
    const t = createTrie({ hash: 'poseidon' });
    expect(await t.commit()).to.equal(0n);
    expect(t.root).to.equal(0n);
    expect(await t.get(5n)).to.equal(0n);
    expect(await t.prove(5n)).to.deep.equal([]);
    expect(verifyProof(0n, 5n, [], { hash: 'poseidon' })).to.equal('absent');
    expect(commitmentRoot([])).to.equal(0n);
  });

  it('rejects keys outside the height and values outside the field', () => {
    const t = createTrie({ hash: 'poseidon' });
    expect(() => t.put(1n << 251n, 1n)).to.throw(TrieError);
    expect(() => t.put(-1n, 1n)).to.throw(TrieError);
    expect(() => t.put(1n, P)).to.throw(TrieError);
    const s = createTrie({ hash: 'poseidon', height: 64 });
    expect(() => s.put(1n << 64n, 1n)).to.throw(TrieError);
    s.put((1n << 64n) - 1n, 1n);
    expect(() => createTrie({ hash: 'sha' as HashKind })).to.throw(TrieError);
    expect(() => createTrie({ hash: 'poseidon', height: 128 as 64 })).to.throw(TrieError);
  });

  it('get sees uncommitted puts; discard drops them; deleting everything gives 0', async () => {
    const t = createTrie({ hash: 'poseidon' });
    t.put(7n, 70n);
    expect(await t.get(7n)).to.equal(70n);
    expect(t.root).to.equal(0n);
    const r1 = await t.commit();
    t.put(7n, 0n);
    expect(await t.get(7n)).to.equal(0n);
    t.discard();
    expect(await t.get(7n)).to.equal(70n);
    expect(await t.commit()).to.equal(r1);
    t.put(7n, 0n);
    expect(await t.commit()).to.equal(0n);
  });

  it('node encoding round-trips and is fixed-size', () => {
    const b: TrieNode = { kind: 'binary', left: P - 1n, right: 3n };
    const e: TrieNode = { kind: 'edge', child: 123456789n, path: MAX251, length: 251 };
    expect(encodeNode(b).length).to.equal(65);
    expect(encodeNode(e).length).to.equal(66);
    expect(decodeNode(encodeNode(b))).to.deep.equal(b);
    expect(decodeNode(encodeNode(e))).to.deep.equal(e);
    expect(() => decodeNode(new Uint8Array(10))).to.throw(TrieError);
    fc.assert(
      fc.property(fc.bigInt(0n, P - 1n), fc.bigInt(0n, P - 1n), fc.integer({ min: 1, max: 251 }), (x, y, len) => {
        const n: TrieNode = { kind: 'edge', child: x, path: y & ((1n << BigInt(len)) - 1n), length: len };
        expect(decodeNode(encodeNode(n))).to.deep.equal(n);
        expect(decodeNode(encodeNode({ kind: 'binary', left: x, right: y }))).to.deep.equal({ kind: 'binary', left: x, right: y });
      }),
    );
  });

  it('old roots stay readable in the same store (versions)', async () => {
    const store = new MemoryNodeStore();
    const t = createTrie({ hash: 'poseidon', store });
    t.put(1n, 10n);
    t.put(2n, 20n);
    const r1 = await t.commit();
    t.put(1n, 11n);
    t.put(2n, 0n);
    t.put(MAX251, 5n);
    const r2 = await t.commit();
    expect(await t.getAt(r1, 1n)).to.equal(10n);
    expect(await t.getAt(r1, 2n)).to.equal(20n);
    expect(await t.getAt(r2, 2n)).to.equal(0n);
    const old = createTrie({ hash: 'poseidon', store, root: r1 });
    expect(await old.get(2n)).to.equal(20n);
    expect(verifyProof(r1, 1n, await t.prove(1n, r1), { hash: 'poseidon' })).to.equal(10n);
    expect([...(await collectLeaves(old))]).to.deep.equal([
      [1n, 10n],
      [2n, 20n],
    ]);
  });

  it('a missing node is a MissingNodeError, not a wrong answer', async () => {
    const t = createTrie({ hash: 'poseidon', store: new MemoryNodeStore(), root: 12345n });
    let err: unknown;
    try {
      await t.get(1n);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(MissingNodeError);
  });

  it('puts made while a commit is in flight go to the next commit', async () => {
    const t = createTrie({ hash: 'poseidon' });
    t.put(1n, 1n);
    const p = t.commit();
    t.put(2n, 2n);
    expect(await t.get(1n)).to.equal(1n);
    const r1 = await p;
    expect(r1).to.equal(referenceRoot(new Map([[1n, 1n]]), 'poseidon'));
    expect(t.pendingCount).to.equal(1);
    expect(await t.commit()).to.equal(referenceRoot(new Map([[1n, 1n], [2n, 2n]]), 'poseidon'));
  });

  it('a failed write leaves the root and the puts as they were', async () => {
    let fail = true;
    const inner = new MemoryNodeStore();
    const store = {
      get: (h: bigint) => inner.get(h),
      writeNodes: (n: ReadonlyMap<bigint, TrieNode>) => {
        if (fail) throw new Error('disk full');
        inner.writeNodes(n);
      },
    };
    const t = createTrie({ hash: 'poseidon', store });
    t.put(3n, 4n);
    let err: unknown;
    try {
      await t.commit();
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.equal('disk full');
    expect(t.root).to.equal(0n);
    expect(t.pendingCount).to.equal(1);
    fail = false;
    expect(await t.commit()).to.equal(referenceRoot(new Map([[3n, 4n]]), 'poseidon'));
  });

  it('a failing store read fails the commit and keeps root and puts (sync and async stores)', async () => {
    for (const asyncStore of [false, true]) {
      const inner = new MemoryNodeStore();
      let broken = false;
      const read = (h: bigint) => {
        if (broken) throw new Error('io error');
        return inner.get(h);
      };
      const store = {
        get: asyncStore ? async (h: bigint) => read(h) : read,
        writeNodes: (n: ReadonlyMap<bigint, TrieNode>) => inner.writeNodes(n),
      };
      const t = createTrie({ hash: 'poseidon', store, cacheSize: 1 });
      for (let i = 0n; i < 8n; i++) t.put(i << 248n, i + 1n);
      const r0 = await t.commit();
      broken = true;
      for (let i = 0n; i < 8n; i++) t.put((i << 248n) | 1n, 5n);
      let err: unknown;
      try {
        await t.commit();
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.equal('io error');
      expect(t.root).to.equal(r0);
      expect(t.pendingCount).to.equal(8);
      broken = false;
      const m = new Map<bigint, bigint>();
      for (let i = 0n; i < 8n; i++) m.set(i << 248n, i + 1n).set((i << 248n) | 1n, 5n);
      expect(await t.commit()).to.equal(referenceRoot(m, 'poseidon'));
    }
  });

  it('verify() checks every node and catches a corrupted store', async () => {
    const store = new MemoryNodeStore();
    const t = createTrie({ hash: 'poseidon', store });
    for (let i = 0n; i < 20n; i++) t.put(i * 7919n + (i << 240n), i + 1n);
    await t.commit();
    const ok = await t.verify({ full: true });
    expect(ok.leaves).to.equal(20);
    expect(ok.nodes).to.equal(reachable(store, t.root, 251).size);
    // Corrupt one deep node in place: the full check finds it, the root-only check does not.
    const victim = [...reachable(store, t.root, 251)].find((h) => h !== t.root && store.get(h)!.kind === 'binary')!;
    const n = store.get(victim)! as { kind: 'binary'; left: bigint; right: bigint };
    store.put(victim, { kind: 'binary', left: n.left, right: n.right + 1n });
    expect((await t.verify()).nodes).to.equal(1);
    let err: unknown;
    try {
      await t.verify({ full: true });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(TrieIntegrityError);
  });
});

async function collectLeaves(t: Trie): Promise<Array<[bigint, bigint]>> {
  const out: Array<[bigint, bigint]> = [];
  for await (const { key, value } of t.leaves()) out.push([key, value]);
  return out;
}

describe('trie: properties (poseidon, real hashes)', function () {
  this.timeout(120_000);

  it('any sequence of puts and commits equals the reference root of the final map; gets and leaves agree', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb(251), { maxLength: 12 }), { minLength: 1, maxLength: 4 }), fc.boolean(), async (rounds, asyncStore) => {
        // Half the runs through a store that answers by promise with a tiny cache: the async merge path.
        const inner = new MemoryNodeStore();
        const t = asyncStore
          ? createTrie({ hash: 'poseidon', store: { get: async (h: bigint) => inner.get(h), writeNodes: async (n: ReadonlyMap<bigint, TrieNode>) => inner.writeNodes(n) }, cacheSize: 2 })
          : createTrie({ hash: 'poseidon' });
        const m = new Map<bigint, bigint>();
        for (const ops of rounds) {
          for (const [k, v] of ops) {
            t.put(k, v);
            m.set(k, v);
          }
          await t.commit();
        }
        expect(t.root).to.equal(referenceRoot(m, 'poseidon'));
        const fresh = await buildFresh(m, 'poseidon');
        expect(t.root).to.equal(fresh.root);
        for (const [k, v] of m) expect(await t.get(k)).to.equal(v);
        const live = [...m].filter(([, v]) => v !== 0n).sort(([a], [b]) => (a < b ? -1 : 1));
        expect(await collectLeaves(t)).to.deep.equal(live);
        await t.verify({ full: true });
      }),
      { numRuns: runs(40) },
    );
  });

  it('insertion order does not matter', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.tuple(keyArb(251), valueArb), { selector: ([k]) => k, minLength: 1, maxLength: 16 }), fc.integer(), async (entries, seed) => {
        const a = createTrie({ hash: 'poseidon' });
        for (const [k, v] of entries) a.put(k, v);
        const b = createTrie({ hash: 'poseidon' });
        // Different order, and split over several commits.
        const sh = shuffle(entries, seed);
        for (let i = 0; i < sh.length; i++) {
          b.put(sh[i]![0], sh[i]![1]);
          if (i % 3 === 2) await b.commit();
        }
        expect(await a.commit()).to.equal(await b.commit());
      }),
      { numRuns: runs(30) },
    );
  });

  it('deleting a key equals never inserting it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(keyArb(251), valueArb), { selector: ([k]) => k, minLength: 1, maxLength: 14 }),
        fc.uniqueArray(fc.tuple(keyArb(251), valueArb), { selector: ([k]) => k, minLength: 1, maxLength: 5 }),
        async (keep, extra) => {
          const keepKeys = new Set(keep.map(([k]) => k));
          const extraOnly = extra.filter(([k]) => !keepKeys.has(k));
          const without = createTrie({ hash: 'poseidon' });
          for (const [k, v] of keep) without.put(k, v);
          const r0 = await without.commit();
          const t = createTrie({ hash: 'poseidon' });
          for (const [k, v] of [...keep, ...extraOnly]) t.put(k, v);
          await t.commit();
          for (const [k] of extraOnly) t.put(k, 0n);
          expect(await t.commit()).to.equal(r0);
          // Deleting keys that are not there is a no-op that hashes nothing.
          for (const [k] of extraOnly) t.put(k, 0n);
          expect(await t.commit()).to.equal(r0);
          expect(t.stats.lastCommitHashes).to.equal(0);
        },
      ),
      { numRuns: runs(30) },
    );
  });

  it('every membership and non-membership proof verifies; tampered proofs fail', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.tuple(keyArb(251), valueArb), { selector: ([k]) => k, maxLength: 12 }), fc.array(keyArb(251), { maxLength: 6 }), async (entries, probes) => {
        const t = createTrie({ hash: 'poseidon' });
        const m = new Map(entries);
        for (const [k, v] of entries) t.put(k, v);
        const root = await t.commit();
        for (const k of [...m.keys(), ...probes]) {
          const proof = await t.prove(k);
          const want = m.get(k);
          expect(verifyProof(root, k, proof, { hash: 'poseidon' })).to.equal(want ?? 'absent');
          expect(verifyProofValue(root, k, proof, { hash: 'poseidon' })).to.equal(want ?? 0n);
          // Any order of the nodes verifies the same.
          expect(verifyProof(root, k, [...proof].reverse(), { hash: 'poseidon' })).to.equal(want ?? 'absent');
          for (const bad of tamperings(proof)) expect(() => verifyProof(root, k, bad, { hash: 'poseidon' }), 'tampered proof').to.throw(TrieProofError);
          if (root !== 0n) expect(() => verifyProof(root + 1n, k, proof, { hash: 'poseidon' })).to.throw(TrieProofError);
        }
      }),
      { numRuns: runs(30) },
    );
  });
});

/** Changed sibling, changed value/child, changed path or length, truncated. Each must fail. */
function tamperings(proof: ProofNode[]): ProofNode[][] {
  const out: ProofNode[][] = [];
  const withNode = (i: number, node: ProofNode['node']) => proof.map((p, j) => (j === i ? { node_hash: p.node_hash, node } : p));
  proof.forEach((p, i) => {
    const n = p.node;
    if ('left' in n) {
      out.push(withNode(i, { left: n.left, right: (n.right + 1n) % P }));
      out.push(withNode(i, { left: (n.left + 1n) % P, right: n.right }));
      out.push(withNode(i, { left: n.right, right: n.left }));
    } else {
      out.push(withNode(i, { child: (n.child + 1n) % P, path: n.path, length: n.length }));
      out.push(withNode(i, { child: n.child, path: n.path ^ 1n, length: n.length }));
      if (n.length > 1) out.push(withNode(i, { child: n.child, path: n.path >> 1n, length: n.length - 1 }));
    }
  });
  if (proof.length > 0) {
    out.push(proof.slice(0, -1)); // truncated
    out.push(proof.slice(1)); // root node dropped
  }
  return out;
}

describe('trie: height 64', function () {
  this.timeout(60_000);

  it('random puts, deletes and commits match the reference at height 64', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb(64), { maxLength: 12 }), { minLength: 1, maxLength: 3 }), async (rounds) => {
        const t = createTrie({ hash: 'poseidon', height: 64 });
        const m = new Map<bigint, bigint>();
        for (const ops of rounds) {
          for (const [k, v] of ops) {
            t.put(k, v);
            m.set(k, v);
          }
          await t.commit();
        }
        expect(t.root).to.equal(referenceRoot(m, 'poseidon', 64));
        for (const k of m.keys()) {
          expect(verifyProof(t.root, k, await t.prove(k), { hash: 'poseidon', height: 64 })).to.equal(m.get(k) || 'absent');
        }
      }),
      { numRuns: runs(30) },
    );
  });

  it('commitmentRoot equals a height-64 trie over keys 0..n-1, for every n up to 40', async () => {
    const leaves = Array.from({ length: 40 }, (_, i) => poseidonHash(BigInt(i), 77n));
    for (let n = 0; n <= 40; n++) {
      const t = createTrie({ hash: 'poseidon', height: 64 });
      for (let i = 0; i < n; i++) t.put(BigInt(i), leaves[i]!);
      const want = await t.commit();
      expect(commitmentRoot(leaves.slice(0, n)), `n=${n}`).to.equal(want);
      if (n === 9) expect(want).to.equal(referenceRoot(new Map(leaves.slice(0, 9).map((v, i) => [BigInt(i), v])), 'poseidon', 64));
    }
    expect(commitmentRoot(leaves.slice(0, 5), 'pedersen')).to.equal(referenceRoot(new Map(leaves.slice(0, 5).map((v, i) => [BigInt(i), v])), 'pedersen', 64));
  });
});

describe('trie: hashing work', function () {
  this.timeout(60_000);

  /** Counts what reaches the crypto backend while `fn` runs (the counting wrapper the root hook installed). */
  async function counting<T>(fn: () => Promise<T>): Promise<{ result: T; batched: number; batches: number; single: number }> {
    const c = installedCounting();
    if (!c) throw new Error('no counting wrapper: the test root hook (test/helpers/backend-hook.ts) installs it');
    const before = { ...c.counts };
    const result = await fn();
    return { result, batched: c.counts.batchItems - before.batchItems, batches: c.counts.batchCalls - before.batchCalls, single: c.counts.singleCalls - before.singleCalls };
  }

  it('a commit of k changed keys hashes exactly the new nodes, each once, in one batch per rank', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(keyArb(251), valueArb), { selector: ([k]) => k, minLength: 8, maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.oneof(valueArb, fc.constant(0n))), { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(keyArb(251), valueArb), { maxLength: 3 }),
        async (initial, changes, inserts) => {
          // Distinct values everywhere, so no two subtrees are identical (which would share a hash).
          initial = initial.map(([k], i) => [k, BigInt(i + 1)]);
          changes = changes.map(([i, v], j) => [i, v === 0n ? 0n : 1_000_000n + BigInt(j)]);
          inserts = inserts.map(([k], j) => [k, 2_000_000n + BigInt(j)]);
          const store = new MemoryNodeStore();
          const t = createTrie({ hash: 'poseidon', store });
          for (const [k, v] of initial) t.put(k, v);
          const r0 = await t.commit();
          const before = reachable(store, r0, 251);
          const m = new Map(initial);
          for (const [i, v] of changes) {
            const k = initial[i % initial.length]![0];
            t.put(k, v);
            m.set(k, v);
          }
          for (const [k, v] of inserts) {
            t.put(k, v);
            m.set(k, v);
          }
          const { result: r1, batched, batches, single } = await counting(() => t.commit());
          expect(r1).to.equal(referenceRoot(m, 'poseidon'));
          const after = reachable(store, r1, 251);
          const fresh = [...after].filter((h) => !before.has(h));
          expect(t.stats.lastCommitHashes).to.equal(fresh.length);
          expect(batched).to.equal(fresh.length);
          expect(single).to.equal(0);
          // One batch per rank: never more batches than the longest new path has nodes.
          expect(batches).to.be.at.most(fresh.length);
          if (fresh.length > 0) expect(batches).to.be.at.most(after.size);
        },
      ),
      { numRuns: runs(25) },
    );
  });

  it('rewriting a value with itself hashes nothing', async () => {
    const t = createTrie({ hash: 'poseidon' });
    for (let i = 1n; i <= 10n; i++) t.put(i << 200n, i);
    const r = await t.commit();
    for (let i = 1n; i <= 10n; i++) t.put(i << 200n, i);
    const { batched } = await counting(() => t.commit());
    expect(t.root).to.equal(r);
    expect(batched).to.equal(0);
    expect(t.stats.lastCommitHashes).to.equal(0);
  });

  it('changing one leaf of 64 rehashes only its path', async () => {
    const t = createTrie({ hash: 'poseidon', height: 64 });
    for (let i = 0n; i < 64n; i++) t.put(i, i + 1n);
    await t.commit();
    t.put(37n, 999n);
    await t.commit();
    // keys 0..63: a root edge of 58 bits over a full binary tree of depth 6 -> 6 binaries + 1 edge.
    expect(t.stats.lastCommitHashes).to.equal(7);
  });

  it('commitAll hashes several tries together and gives the same roots as separate commits', async () => {
    const kinds: HashKind[] = ['poseidon', 'pedersen', 'poseidon'];
    const tries = kinds.map((hash) => createTrie({ hash }));
    const maps = kinds.map(() => new Map<bigint, bigint>());
    tries.forEach((t, i) => {
      for (let j = 1n; j <= 4n; j++) {
        const k = (j * 0x1234567n) << BigInt(100 + i);
        t.put(k, j + BigInt(i));
        maps[i]!.set(k, j + BigInt(i));
      }
    });
    const empty = createTrie({ hash: 'poseidon' });
    const { result: roots, batches } = await counting(() => Trie.commitAll([...tries, empty]));
    roots.slice(0, 3).forEach((r, i) => expect(r).to.equal(referenceRoot(maps[i]!, kinds[i]!)));
    expect(roots[3]).to.equal(0n);
    const ranks = Math.max(...tries.map((t) => t.stats.lastCommitHashes));
    expect(batches).to.be.lessThan(tries.reduce((s, t) => s + t.stats.lastCommitHashes, 0));
    expect(batches).to.be.at.most(2 * ranks);
    expect(() => Trie.commitAll([tries[0]!, tries[0]!])).to.throw(TrieError);
  });
});

describe('trie: store without writeNodes (integrator batches the writes)', () => {
  it('takeWrites returns each commit’s new nodes once; they stay readable until written', async () => {
    const disk = new Map<bigint, TrieNode>();
    const store: NodeStore = { get: async (h) => disk.get(h) };
    const t = createTrie({ hash: 'poseidon', store });
    const m = new Map<bigint, bigint>();
    for (let i = 1n; i <= 12n; i++) {
      t.put(i * 1000003n, i);
      m.set(i * 1000003n, i);
    }
    await t.commit();
    // Not written yet, and a second commit needs them.
    t.put(5n * 1000003n, 55n);
    m.set(5n * 1000003n, 55n);
    const r = await t.commit();
    expect(r).to.equal(referenceRoot(m, 'poseidon'));
    const w = t.takeWrites();
    expect(w.size).to.be.greaterThan(0);
    expect(t.takeWrites().size).to.equal(0);
    for (const [h, n] of w) {
      expect(hashTrieNode(n, 'poseidon')).to.equal(h);
      disk.set(h, n);
    }
    const reopened = createTrie({ hash: 'poseidon', store, root: r });
    for (const [k, v] of m) expect(await reopened.get(k)).to.equal(v);
    await reopened.verify({ full: true });
  });
});
