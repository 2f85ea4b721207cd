import { expect } from 'chai';
import { join } from 'node:path';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { ClassicLevel } from 'classic-level';
import { startSequencer } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import { bigIntToBytes32, bytesToBigInt, decodeJson, encodeJson, metaKey, storageKey } from '../../node/storage/schema.ts';
import { loadGenesis } from '../../node/chain/genesis.ts';
import { ACC, MKT, marketBase } from '../../contracts-ts/layout.ts';
import { ROOT, runCli } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

const GENESIS = join(ROOT, 'genesis/devnet.json');
const log = createLogger('silent');

async function runBlocks(dataDir: string, n: number) {
  const node = await startSequencer({ dataDir, genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log });
  for (let i = 0; i < n; i++) await node.producer.sealNow(true);
  await node.stop();
}

async function poke(dataDir: string, address: bigint, key: bigint, f: (v: bigint) => bigint): Promise<bigint> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dataDir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const k = storageKey(address, key);
  const raw = await db.get(k);
  const before = raw ? bytesToBigInt(raw) : 0n;
  const after = f(before);
  if (after === 0n) await db.del(k);
  else await db.put(k, bigIntToBytes32(after));
  await db.close();
  return before;
}

/** Opens the data directory's LevelDB directly (as an attacker with the node stopped would). */
async function withDb<T>(dataDir: string, f: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dataDir, 'db'), { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: false });
  await db.open();
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}

const cli = (...args: string[]) => runCli([...args, '--genesis', GENESIS]);

async function startError(dataDir: string): Promise<Error | undefined> {
  try {
    const node = await startSequencer({ dataDir, genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log });
    await node.stop();
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

describe('startup integrity (storage altered while stopped)', function () {
  this.timeout(60_000);
  const g = loadGenesis(GENESIS);
  const btc = g.exchange.markets[0]!;

  it('a reset funding index makes the node refuse to start, naming the index; restoring it lets it start', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await runBlocks(data, 2);
      const key = marketBase(btc.id) + MKT.fundingIndex;
      const original = await poke(data, g.exchange.exchangeAddress, key, (v) => v + 12345n);
      const err = await startError(data);
      expect(err, 'node started on altered storage').to.not.equal(undefined);
      expect(err!.message).to.contain('refusing to start');
      expect(err!.message).to.contain(`funding index of ${btc.symbol}`);
      await poke(data, g.exchange.exchangeAddress, key, () => original);
      expect(await startError(data)).to.equal(undefined);
    } finally {
      t.cleanup();
    }
  });

  it('any altered flat value is caught by the state digest and named', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await runBlocks(data, 1);
      const acct = g.exchange.devAccounts[0]!.address;
      await poke(data, acct, 0x777n, () => 5n);
      const err = await startError(data);
      expect(err?.message).to.contain('altered');
      expect(err?.message).to.contain('0x777');
    } finally {
      t.cleanup();
    }
  });

  it('a state-roots record without its flat_digest is damage: start refuses and verify --full fails (balance raised by 1,000,000 USDC)', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await runBlocks(data, 2);
      await withDb(data, async (db) => {
        const j = decodeJson((await db.get(metaKey('state_roots')))!);
        expect(j.flat_digest, 'the fixture writes a digest').to.be.a('string');
        delete j.flat_digest;
        await db.put(metaKey('state_roots'), encodeJson(j));
      });
      await poke(data, g.exchange.devAccounts[0]!.address, ACC.collateral, (v) => v + 1_000_000n * 10n ** 6n);
      const err = await startError(data);
      expect(err?.message).to.contain('refusing to start');
      expect(err?.message).to.contain('has no flat_digest');
      const v = await cli('verify', '--full', '--data-dir', data);
      expect(v.code).to.equal(1);
      expect(v.stderr).to.contain('has no flat_digest');
      expect(v.stdout).to.not.contain('verify: ok');
    } finally {
      t.cleanup();
    }
  });

  it('a deleted schema_version is refused at start, naming the record', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await runBlocks(data, 1);
      await withDb(data, (db) => db.del(metaKey('schema_version')));
      const err = await startError(data);
      expect(err?.message).to.contain(data);
      expect(err?.message).to.contain('no schema_version record');
      expect(await withDb(data, async (db) => db.get(metaKey('schema_version')))).to.equal(undefined, 'the refused start wrote a schema_version');
    } finally {
      t.cleanup();
    }
  });

  it('read-only commands on a path that is not a data directory fail naming it and create nothing', async () => {
    const t = tempDir();
    try {
      const typo = join(t.path, 'dat');
      for (const cmd of [['verify', '--full'], ['status']]) {
        const r = await cli(...cmd, '--data-dir', typo);
        expect(r.code, `${cmd.join(' ')}: ${r.stderr}`).to.equal(1);
        expect(r.stderr).to.contain(`${typo} is not a perpnode data directory`);
        expect(r.stdout).to.not.contain('verify: ok');
        expect(existsSync(typo), `${cmd.join(' ')} created ${typo}`).to.equal(false);
      }
      const r = await cli('rollback', '--to', '0', '--data-dir', typo);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain(`${typo} is not a perpnode data directory`);
      expect(existsSync(typo)).to.equal(false);
    } finally {
      t.cleanup();
    }
  });

  it('verify on a database whose db/CURRENT is missing refuses and keeps every table file', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await runBlocks(data, 2);
      await runBlocks(data, 1); // reopening turns the previous write-ahead log into a table
      const db = join(data, 'db');
      const tables = () => readdirSync(db).filter((f) => f.endsWith('.ldb')).map((f) => `${f}:${statSync(join(db, f)).size}`).sort();
      const before = tables();
      expect(before.length, 'the fixture has .ldb tables').to.be.greaterThan(0);
      rmSync(join(db, 'CURRENT'));
      for (const cmd of [['verify'], ['status']]) {
        const r = await cli(...cmd, '--data-dir', data);
        expect(r.code).to.equal(1);
        expect(r.stderr).to.contain('db/CURRENT is missing');
        expect(tables()).to.deep.equal(before);
        expect(existsSync(join(db, 'CURRENT')), `${cmd} created a new database`).to.equal(false);
      }
      const err = await startError(data);
      expect(err?.message).to.contain('db/CURRENT is missing');
      expect(tables()).to.deep.equal(before);
    } finally {
      t.cleanup();
    }
  });
});
