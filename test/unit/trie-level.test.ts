import { expect } from 'chai';
import { ClassicLevel } from 'classic-level';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTrie,
  decodeNode,
  encodeNode,
  hashTrieNode,
  LevelNodeStore,
  NodeCache,
  nodeDbKey,
  nodeWriteOps,
  TrieIntegrityError,
  verifyProof,
  type TrieNode,
} from '../../node/trie/index.ts';

type Db = ClassicLevel<Uint8Array, Uint8Array>;
const open = async (dir: string): Promise<Db> => {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  return db;
};

/** Keys with shared prefixes and scattered ones, deterministic. */
function keyOf(i: number): bigint {
  const x = BigInt(i);
  if (i % 3 === 0) return x;
  if (i % 3 === 1) return (x * 0x9e3779b97f4a7c15n) % (1n << 251n);
  return (1n << 250n) | (x << 100n);
}

describe('trie in LevelDB (classic-level)', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'perpnode-trie-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const sync of [true, false]) {
    it(`builds, closes, reopens from the root; get, prove and old roots work (${sync ? 'getSync' : 'async get'})`, async () => {
      let db = await open(dir);
      const t = createTrie({ hash: 'poseidon', db });
      const m = new Map<bigint, bigint>();
      const roots: bigint[] = [];
      const snapshots: Map<bigint, bigint>[] = [];
      for (let round = 0; round < 3; round++) {
        for (let i = round * 20; i < round * 20 + 40; i++) {
          const v = (i + round) % 7 === 0 ? 0n : BigInt(i * 1000 + round + 1);
          t.put(keyOf(i), v);
          m.set(keyOf(i), v);
        }
        roots.push(await t.commit());
        snapshots.push(new Map(m));
      }
      await db.close();

      db = await open(dir);
      const store = new LevelNodeStore(db, { sync });
      const r = createTrie({ hash: 'poseidon', store, root: roots[2]! });
      for (const [k, v] of m) {
        expect(await r.get(k)).to.equal(v);
        expect(verifyProof(r.root, k, await r.prove(k), { hash: 'poseidon' })).to.equal(v === 0n ? 'absent' : v);
      }
      expect(await r.get(keyOf(1000))).to.equal(0n);
      // Every version is still there.
      for (let i = 0; i < 3; i++) {
        for (const [k, v] of snapshots[i]!) expect(await r.getAt(roots[i]!, k)).to.equal(v);
        const old = createTrie({ hash: 'poseidon', store, root: roots[i]! });
        const { leaves } = await old.verify({ full: true });
        expect(leaves).to.equal([...snapshots[i]!.values()].filter((v) => v !== 0n).length);
      }
      // Keep going on the reopened trie; a fresh build of the final map agrees.
      const w = createTrie({ hash: 'poseidon', db, root: roots[2]! });
      w.put(keyOf(5), 77n);
      m.set(keyOf(5), 77n);
      const r3 = await w.commit();
      const mem = createTrie({ hash: 'poseidon' });
      for (const [k, v] of m) if (v) mem.put(k, v);
      expect(await mem.commit()).to.equal(r3);
      expect(w.stats.storeReads).to.be.greaterThan(0);
      await db.close();
    });
  }

  it('stores nodes under prefix + hash32 with the fixed encoding, and nothing else', async () => {
    const db = await open(dir);
    const t = createTrie({ hash: 'pedersen', db, prefix: 'N' });
    t.put(1n, 2n);
    t.put(1n << 250n, 4n);
    const root = await t.commit();
    const entries: Array<[Uint8Array, Uint8Array]> = [];
    for await (const [k, v] of db.iterator()) entries.push([k, v]);
    expect(entries.length).to.equal(3); // root binary + two leaf edges
    for (const [k, v] of entries) {
      expect(k.length).to.equal(33);
      expect(k[0]).to.equal('N'.charCodeAt(0));
      const node = decodeNode(v);
      const h = BigInt('0x' + Buffer.from(k.subarray(1)).toString('hex'));
      expect(hashTrieNode(node, 'pedersen')).to.equal(h);
    }
    const rootNode = decodeNode((await db.get(nodeDbKey(new TextEncoder().encode('N'), root)))!);
    expect(rootNode.kind).to.equal('binary');
    expect(hashTrieNode(rootNode, 'pedersen')).to.equal(root);
    await db.close();
  });

  it('integrator mode: persist off, takeWrites -> nodeWriteOps in one own batch, reopen works', async () => {
    let db = await open(dir);
    const store = new LevelNodeStore(db);
    const cache = new NodeCache(1000);
    const t = createTrie({ hash: 'poseidon', store, persist: false, cache });
    for (let i = 0; i < 30; i++) t.put(keyOf(i), BigInt(i + 1));
    const r1 = await t.commit();
    t.put(keyOf(4), 0n);
    const r2 = await t.commit(); // reads the first commit's nodes before they reach the disk
    let count = 0;
    for await (const _ of db.keys()) count++;
    expect(count).to.equal(0);
    const writes: Map<bigint, TrieNode> = t.takeWrites();
    await db.batch([...nodeWriteOps(writes), { type: 'put', key: new TextEncoder().encode('Mhead'), value: new Uint8Array([1]) }], { sync: true });
    await db.close();
    db = await open(dir);
    const re = createTrie({ hash: 'poseidon', db, root: r2 });
    await re.verify({ full: true });
    expect(await re.get(keyOf(4))).to.equal(0n);
    expect(await re.get(keyOf(5))).to.equal(6n);
    expect(await re.getAt(r1, keyOf(4))).to.equal(5n);
    await db.close();
  });

  it('a node altered on disk is caught by verify', async () => {
    let db = await open(dir);
    const t = createTrie({ hash: 'poseidon', db });
    for (let i = 0; i < 10; i++) t.put(keyOf(i), BigInt(i + 1));
    const root = await t.commit();
    const ks: Uint8Array[] = [];
    for await (const k of db.keys()) ks.push(k);
    const victim = ks.find((k) => BigInt('0x' + Buffer.from(k.subarray(1)).toString('hex')) !== root)!;
    const node = decodeNode((await db.get(victim))!);
    const bad: TrieNode = node.kind === 'binary' ? { ...node, left: node.left ^ 1n } : { ...node, child: node.child ^ 1n };
    await db.put(victim, encodeNode(bad));
    await db.close();
    db = await open(dir);
    const re = createTrie({ hash: 'poseidon', db, root });
    await re.verify(); // the root alone is fine
    let err: unknown;
    try {
      await re.verify({ full: true });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(TrieIntegrityError);
    await db.close();
  });
});
