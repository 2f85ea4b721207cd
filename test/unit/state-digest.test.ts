import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import fc from 'fast-check';
import { entryHash, Sha256Sum } from '../../node/state/digest.ts';
import { WorldState } from '../../node/state/world.ts';
import { Tables } from '../../node/storage/schema.ts';
import { writeBatch, type DbOp } from '../../node/storage/db.ts';
import { tempDir } from '../helpers/tmp.ts';

/*
 * The start-up pass hashes stored bytes, the per-block update hashes decoded fields: both must
 * give the digest of the definition (SHA-256 of tag | 32-byte words, summed mod 2^256), or every
 * node would refuse its own data directory (or, worse, accept an edited one).
 */
const MOD = 1n << 256n;
const word = (x: bigint) => x.toString(16).padStart(64, '0');
/** The definition, written independently: SHA-256 over hex-built bytes, BigInt sums. */
const reference = (tag: number, ...xs: bigint[]) => BigInt('0x' + createHash('sha256').update(Buffer.from(tag.toString(16).padStart(2, '0') + xs.map(word).join(''), 'hex')).digest('hex'));
const felt = fc.bigInt({ min: 0n, max: (1n << 251n) - 1n });

describe('flat-state digest', () => {
  it('entryHash is the definition for every table', () => {
    fc.assert(
      fc.property(felt, felt, felt, felt, (a, b, c, d) => {
        expect(entryHash.storage(a, b, c)).to.equal(reference(0x73, a, b, c));
        expect(entryHash.contract(a, b, c, d)).to.equal(reference(0x63, a, b, c, d));
        expect(entryHash.declared(a, b)).to.equal(reference(0x6b, a, b));
      }),
      { numRuns: 200 },
    );
  });

  it('Sha256Sum equals the BigInt sum across folds and wrap-around', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 120 }), { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (items, every) => {
        const s = new Sha256Sum(every);
        let ref = 0n;
        for (const x of items) {
          s.add(x.subarray(0, 7), x.subarray(7));
          ref = (ref + BigInt('0x' + createHash('sha256').update(x).digest('hex'))) % MOD;
        }
        expect(s.value).to.equal(ref);
        expect(s.value).to.equal(ref); // reading twice changes nothing
      }),
      { numRuns: 100 },
    );
    expect(() => new Sha256Sum(0)).to.throw(RangeError);
  });

  it('the start-up pass over LevelDB equals the sum of entryHash over the decoded entries', async () => {
    const t = tempDir();
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(t.path, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    try {
      const sample = fc.sample(fc.tuple(felt, felt, felt, felt), 3000);
      const ops: DbOp[] = [];
      let ref = 0n;
      sample.forEach(([a0, b, c, d], i) => {
        const a = (a0 % (1n << 200n)) + (BigInt(i) << 200n); // distinct keys (fast-check repeats small values)
        if (i % 3 === 0) {
          ops.push(Tables.storage.put({ address: a, key: b }, c));
          ref += entryHash.storage(a, b, c);
        } else if (i % 3 === 1) {
          ops.push(Tables.contract.put(a, { classHash: b, nonce: c, storageRoot: d }));
          ref += entryHash.contract(a, b, c, d);
        } else {
          ops.push(Tables.declaredClass.put(a, b));
          ref += entryHash.declared(a, b);
        }
      });
      // a record of a table outside the flat state must not count
      ops.push(Tables.trieNode.put(5n, { kind: 'binary', left: 1n, right: 2n }));
      await writeBatch(db, ops);
      const world = await WorldState.load(db, 'poseidon');
      expect(await world.computeFlatDigest()).to.equal(ref % MOD);
      // one changed value changes it
      const [a, b, c] = sample[0]!; // entry 0: a storage slot at address a % 2^200 (+ 0 << 200)
      const a0 = a % (1n << 200n);
      await writeBatch(db, [Tables.storage.put({ address: a0, key: b }, c + 1n)]);
      expect(await world.computeFlatDigest()).to.equal((ref - entryHash.storage(a0, b, c) + entryHash.storage(a0, b, c + 1n)) % MOD);
    } finally {
      await db.close();
      t.cleanup();
    }
  });
});
