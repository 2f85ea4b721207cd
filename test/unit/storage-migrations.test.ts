import { expect } from 'chai';
import { openDataDir } from '../../node/storage/open.ts';
import { MIGRATIONS, planMigrations, type Migration } from '../../node/storage/migrations.ts';
import { Meta, SCHEMA_VERSION, Tables } from '../../node/storage/schema.ts';
import type { Db, DbOp } from '../../node/storage/db.ts';
import { writeBatch } from '../../node/storage/db.ts';
import { tempDir } from '../helpers/tmp.ts';

/*
 * The migration runner, driven with made-up future layouts (the real list is empty while the
 * layout is at version 1): v1 directories written by today's code are migrated to versions 2
 * and 3, and every way a step can go wrong must leave the directory readable at the version it
 * had, byte for byte.
 */

const TEST_TAG = 0x75; // 'u': a table no version of perpnode has used
const testKey = (address: bigint) => Uint8Array.from([TEST_TAG, ...Tables.storage.key({ address, key: 0n }).subarray(1, 33)]);

/** 1 -> 2: index every storage slot's address in a new table (reads the v1 bytes). */
const indexAddresses: Migration = {
  from: 1,
  name: 'index storage addresses in table u',
  async ops(db: Db): Promise<DbOp[]> {
    const out: DbOp[] = [];
    for await (const [k] of db.iterator(Tables.storage.all())) {
      const address = BigInt('0x' + Buffer.from(k.subarray(1, 33)).toString('hex'));
      out.push({ type: 'put', key: testKey(address), value: new Uint8Array(0) });
    }
    return out;
  },
};
/** 2 -> 3: drop the index again. */
const dropIndex: Migration = {
  from: 2,
  name: 'drop table u',
  async ops(db: Db): Promise<DbOp[]> {
    const out: DbOp[] = [];
    for await (const k of db.keys({ gte: Uint8Array.of(TEST_TAG), lt: Uint8Array.of(TEST_TAG + 1) })) out.push({ type: 'del', key: k });
    return out;
  },
};
const failing = (from: number): Migration => ({
  from,
  name: 'a step that fails half way',
  async ops(db: Db) {
    // writing inside ops() is forbidden, but even reading everything first then failing must change nothing
    for await (const _ of db.keys()) void _;
    throw new Error('disk says no');
  },
});

async function v1Dir(): Promise<{ path: string; cleanup(): void }> {
  const t = tempDir();
  const d = await openDataDir(t.path);
  await writeBatch(d.db, [Tables.storage.put({ address: 0x42n, key: 1n }, 7n), Tables.storage.put({ address: 0x43n, key: 2n }, 8n)]);
  await d.close();
  return t;
}

async function dump(path: string): Promise<string[]> {
  const d = await openDataDir(path, { mode: 'readonly' });
  try {
    const out: string[] = [];
    for await (const [k, v] of d.db.iterator()) out.push(Buffer.from(k).toString('hex') + '=' + Buffer.from(v).toString('hex'));
    return out;
  } finally {
    await d.close();
  }
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a refusal');
}

describe('storage migrations', () => {
  it('the real list has one step per version up to SCHEMA_VERSION', () => {
    expect(planMigrations(1, SCHEMA_VERSION, MIGRATIONS)).to.have.length(SCHEMA_VERSION - 1);
    expect(MIGRATIONS.map((m) => m.from)).to.deep.equal(Array.from({ length: SCHEMA_VERSION - 1 }, (_, i) => i + 1));
  });

  it('migrates a v1 directory step by step at open, each step logged, data rewritten', async () => {
    const t = await v1Dir();
    const lines: string[] = [];
    const d = await openDataDir(t.path, { mode: 'existing', log: (l) => lines.push(l), layout: { version: 3, migrations: [dropIndex, indexAddresses] } });
    try {
      expect(await Meta.schemaVersion.get(d.db)).to.equal(3);
      expect(lines).to.have.length(2);
      expect(lines[0]).to.match(/from schema version 1 to 2: index storage addresses in table u \(2 writes\)/);
      expect(lines[1]).to.match(/from schema version 2 to 3: drop table u \(2 writes\)/);
      expect(await Tables.storage.get(d.db, { address: 0x42n, key: 1n })).to.equal(7n);
    } finally {
      await d.close();
    }
    // stopping half way (target 2) leaves the index in place
    const t2 = await v1Dir();
    const d2 = await openDataDir(t2.path, { layout: { version: 2, migrations: [indexAddresses] } });
    try {
      expect(await Meta.schemaVersion.get(d2.db)).to.equal(2);
      expect(await d2.db.get(testKey(0x42n))).to.deep.equal(new Uint8Array(0));
      expect(await d2.db.get(testKey(0x43n))).to.deep.equal(new Uint8Array(0));
    } finally {
      await d2.close();
    }
    // opening again at the same version migrates nothing
    const lines2: string[] = [];
    const d3 = await openDataDir(t2.path, { log: (l) => lines2.push(l), layout: { version: 2, migrations: [indexAddresses] } });
    await d3.close();
    expect(lines2).to.deep.equal([]);
    t.cleanup();
    t2.cleanup();
  });

  it('a failing step leaves the directory at the last version that landed, byte for byte', async () => {
    const t = await v1Dir();
    const before = await dump(t.path);
    const e = await refusal(openDataDir(t.path, { layout: { version: 2, migrations: [failing(1)] } }));
    expect(e.message).to.match(/migration 1 -> 2 \(a step that fails half way\) failed, nothing was written and the directory stays at version 1: disk says no/);
    expect(await dump(t.path)).to.deep.equal(before);
    // and it still opens with today's code (the lock was released, the version is 1)
    const d = await openDataDir(t.path);
    expect(await Meta.schemaVersion.get(d.db)).to.equal(1);
    await d.close();

    // 1 -> 2 lands, 2 -> 3 fails: the directory is a good version-2 one
    const e2 = await refusal(openDataDir(t.path, { layout: { version: 3, migrations: [indexAddresses, failing(2)] } }));
    expect(e2.message).to.match(/stays at version 2/);
    const d2 = await openDataDir(t.path, { layout: { version: 2, migrations: [indexAddresses] } });
    expect(await Meta.schemaVersion.get(d2.db)).to.equal(2);
    expect(await d2.db.get(testKey(0x42n))).to.deep.equal(new Uint8Array(0));
    await d2.close();
    t.cleanup();
  });

  it('a read-only command refuses an older directory instead of migrating it', async () => {
    const t = await v1Dir();
    const before = await dump(t.path);
    const e = await refusal(openDataDir(t.path, { mode: 'readonly', layout: { version: 2, migrations: [indexAddresses] } }));
    expect(e.name).to.equal('SchemaError');
    expect(e.message).to.match(/schema version 1 and this perpnode reads version 2; a read-only command does not migrate it: run `perpnode start`/);
    expect(await dump(t.path)).to.deep.equal(before);
    t.cleanup();
  });

  it('refuses a newer directory and a list with a gap, naming the versions, writing nothing', async () => {
    const t = await v1Dir();
    const d = await openDataDir(t.path);
    await writeBatch(d.db, [Meta.schemaVersion.put(99)]);
    await d.close();
    const e = await refusal(openDataDir(t.path));
    expect(e.message).to.match(new RegExp(`schema version 99; this perpnode reads version ${SCHEMA_VERSION}: .*newer than the ${SCHEMA_VERSION} this perpnode reads`));

    const t2 = await v1Dir();
    const before = await dump(t2.path);
    const e2 = await refusal(openDataDir(t2.path, { layout: { version: 3, migrations: [indexAddresses] } }));
    expect(e2.message).to.match(/no migration from schema version 2 to 3/);
    expect(await dump(t2.path)).to.deep.equal(before);
    const e3 = await refusal(openDataDir(t2.path, { layout: { version: 2, migrations: [indexAddresses, { ...indexAddresses, name: 'again' }] } }));
    expect(e3.message).to.match(/more than one migration from schema version 1 to 2/);
    expect(await dump(t2.path)).to.deep.equal(before);
    t.cleanup();
    t2.cleanup();
  });
});
