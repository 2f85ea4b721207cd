/**
 * Bulk genesis (issue 14): accounts from an `accounts_file` written into block 0 in batches,
 * and data directories that remember their genesis by digest instead of rebuilding block 0 at
 * every start. Real LevelDB in temp directories.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { openChain, StartupError } from '../../node/node.ts';
import { createGenesis, genesisStats, loadGenesis } from '../../node/chain/genesis.ts';
import { fullCheck } from '../../node/chain/verify.ts';
import { Meta } from '../../node/storage/schema.ts';
import { accountAddress } from '../../contracts-ts/classes.ts';
import { ACC, EX } from '../../contracts-ts/layout.ts';
import { createLogger } from '../../node/log.ts';
import { ROOT } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';
import type { Db } from '../../node/storage/db.ts';
import { useCounting } from '../../bench/lib/counting.ts';

const log = createLogger('silent');
const DEVNET = join(ROOT, 'genesis/devnet.json');
/**
 * Devnet block 0 as main's own buildGenesisBlock builds it without bulk genesis (main at
 * b9ab6c7; a contract class version bump changes it, and then this vector with it).
 */
const DEVNET_BLOCK0 = 0xae5b4efebc19baf0f61b94c563ae5b839cab871a3ba7bfed13886273f96d4dn;

/** A deterministic stark key (any nonzero felt below 2^251 is one for genesis purposes). */
const key = (i: number) => (BigInt('0x' + createHash('sha256').update(`genesis-bulk-test:${i}`).digest('hex')) % (2n ** 251n - 1n)) + 1n;
const line = (i: number, balance = `${1000 + (i % 7)}`) => JSON.stringify({ public_key: '0x' + key(i).toString(16), balance }) + '\n';

function writeChain(dir: string, n: number, edit: (g: any) => void = () => {}): string {
  const g = JSON.parse(readFileSync(DEVNET, 'utf8'));
  g.accounts_file = 'accounts.jsonl';
  g.accounts_count = n;
  edit(g);
  writeFileSync(join(dir, 'accounts.jsonl'), Array.from({ length: n }, (_, i) => line(i)).join(''));
  const p = join(dir, 'genesis.json');
  writeFileSync(p, JSON.stringify(g, null, 2));
  return p;
}

async function openDb(path: string): Promise<Db> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  return db as unknown as Db;
}

async function refused(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => null,
    (x: Error) => x,
  );
  expect(e, 'expected a refusal').to.be.instanceOf(Error);
  return e!;
}

describe('bulk genesis: accounts_file, and starts that compare the genesis digest', function () {
  this.timeout(120_000);
  // Importing node/node.ts first leaves this file with a crypto module instance the root hook
  // did not select (contracts then hash on the JS reference: ~50x slower Pedersen). Selecting
  // here the way the hook does (with the counting wrapper, so later in-process bench runs can
  // still count) is a no-op where the hook's selection is visible.
  before(async () => {
    await useCounting((process.env.PERPNODE_CRYPTO ?? 'auto') as 'auto');
  });

  it('devnet block 0 is unchanged, and its directory records the genesis digest', async () => {
    const t = tempDir();
    try {
      const c = await openChain({ dataDir: join(t.path, 'data'), genesisPath: DEVNET, log });
      const rec = await Meta.genesis.get(c.db);
      expect((await c.chain.head())!.hash).to.equal(DEVNET_BLOCK0);
      expect(rec!.block_hash).to.equal(DEVNET_BLOCK0);
      expect(rec!.genesis_digest).to.match(/^[0-9a-f]{64}$/);
      expect(rec!.accounts).to.equal(undefined);
      await c.close();
    } finally {
      t.cleanup();
    }
  });

  it('accounts from the file give the same block 0 as the same accounts in dev_accounts (several batches)', async () => {
    const t = tempDir();
    try {
      const n = 257;
      const file = loadGenesis(writeChain(t.path, n));
      const inlineRaw = JSON.parse(readFileSync(DEVNET, 'utf8'));
      for (let i = 0; i < n; i++) inlineRaw.exchange.dev_accounts.push({ public_key: '0x' + key(i).toString(16), balance: `${1000 + (i % 7)}` });
      const inlinePath = join(t.path, 'inline.json');
      writeFileSync(inlinePath, JSON.stringify(inlineRaw));
      const inline = loadGenesis(inlinePath);
      const a = await createGenesis(file, await openDb(join(t.path, 'a')), { batchSize: 40 });
      const b = await createGenesis(inline, await openDb(join(t.path, 'b')));
      expect(a.accounts).to.equal(n);
      expect(a.block.header.new_root).to.equal(b.block.header.new_root);
      expect(a.block.header.state_diff_length).to.equal(b.block.header.state_diff_length);
      expect(a.block.header.state_diff_commitment).to.equal(b.block.header.state_diff_commitment);
      expect(a.block.hash).to.equal(b.block.hash);
    } finally {
      t.cleanup();
    }
  });

  it('a few thousand accounts build; a restart compares the digest and builds nothing', async () => {
    const t = tempDir();
    try {
      const n = 3000;
      const genesisPath = writeChain(t.path, n);
      const dataDir = join(t.path, 'data');
      const before = { ...genesisStats };
      const c = await openChain({ dataDir, genesisPath, log });
      expect(genesisStats.builds).to.equal(before.builds + 1);
      expect(genesisStats.accounts).to.equal(before.accounts + n);
      const g = c.genesis;
      for (const i of [0, 1234, n - 1]) {
        const addr = accountAddress(key(i));
        expect(c.world.getStorage(addr, ACC.publicKey)).to.equal(key(i));
        expect(c.world.getStorage(addr, ACC.collateral)).to.equal(BigInt(1000 + (i % 7)) * 10n ** 6n);
        expect(c.world.getNonce(addr)).to.equal(1n);
      }
      const devs = g.exchange.devAccounts.length;
      expect(c.world.getStorage(g.exchange.exchangeAddress, EX.accountCount)).to.equal(BigInt(devs + n));
      expect((await Meta.genesis.get(c.db))!.accounts).to.equal(n);
      const head0 = (await c.chain.head())!;
      await c.close();

      const again = await openChain({ dataDir, genesisPath, log });
      expect(genesisStats.builds, 'block 0 rebuilt at restart').to.equal(before.builds + 1);
      expect(genesisStats.accounts).to.equal(before.accounts + n);
      expect(await again.chain.head()).to.deep.equal(head0);
      expect(again.world.root).to.equal(head0 && (await again.chain.header(0n))!.header.new_root);
      // verify --full recomputes every storage root and the global root from the flat state.
      expect(await fullCheck(again.chain, again.world, again.genesis)).to.deep.equal([]);
      await again.close();
    } finally {
      t.cleanup();
    }
  });

  it('a changed genesis file or accounts file is refused, naming both digests', async () => {
    const t = tempDir();
    try {
      const genesisPath = writeChain(t.path, 50);
      const dataDir = join(t.path, 'data');
      await (await openChain({ dataDir, genesisPath, log })).close();
      const recorded = (await (async () => {
        const c = await openChain({ dataDir, genesisPath, log, mode: 'readonly', skipCheck: true });
        const r = await Meta.genesis.get(c.db);
        await c.close();
        return r;
      })())!.genesis_digest!;
      // Formatting, comments and private keys are not the chain: still the same digest.
      const g = JSON.parse(readFileSync(genesisPath, 'utf8'));
      g._note = 'a comment';
      delete g.sequencer.private_key;
      writeFileSync(genesisPath, JSON.stringify(g));
      await (await openChain({ dataDir, genesisPath, log, mode: 'readonly' })).close();
      // A changed parameter is another chain.
      g.exchange.vault_initial_balance = '1';
      writeFileSync(genesisPath, JSON.stringify(g));
      const e1 = await refused(openChain({ dataDir, genesisPath, log }));
      expect(e1).to.be.instanceOf(StartupError);
      expect(e1.message).to.contain(recorded).and.to.match(/has genesis digest [0-9a-f]{64}: not the genesis this directory was created from/);
      // So is a changed accounts file (same number of lines).
      writeChain(t.path, 50);
      appendFileSync(join(t.path, 'accounts.jsonl'), '');
      writeFileSync(join(t.path, 'accounts.jsonl'), readFileSync(join(t.path, 'accounts.jsonl'), 'utf8').replace(/"balance":"1000"/, '"balance":"1001"'));
      const e2 = await refused(openChain({ dataDir, genesisPath, log }));
      expect(e2.message).to.contain(recorded).and.to.contain('accounts.jsonl');
    } finally {
      t.cleanup();
    }
  });

  it('a corrupted, truncated or short accounts file is refused naming the line, and leaves nothing behind', async () => {
    const t = tempDir();
    try {
      const genesisPath = writeChain(t.path, 3000);
      const dataDir = join(t.path, 'data');
      const accounts = join(t.path, 'accounts.jsonl');
      const good = readFileSync(accounts, 'utf8');
      const lines = good.split('\n');
      lines[2399] = lines[2399]!.slice(0, 40); // a line cut short (corrupted in the middle of the file)
      writeFileSync(accounts, lines.join('\n'));
      const e1 = await refused(openChain({ dataDir, genesisPath, log }));
      expect(e1.message).to.match(/accounts file .*accounts\.jsonl line 2400: not valid JSON/);
      // Cut in the middle of the last line.
      writeFileSync(accounts, good);
      truncateSync(accounts, good.length - 20);
      const e2 = await refused(openChain({ dataDir, genesisPath, log }));
      expect(e2.message).to.match(/line 3000: .*truncated/);
      // Cut at a line boundary: the genesis' accounts_count catches it.
      writeFileSync(accounts, good.split('\n').slice(0, 2000).join('\n') + '\n');
      const e3 = await refused(openChain({ dataDir, genesisPath, log }));
      expect(e3.message).to.match(/holds 2000 accounts but the genesis says accounts_count 3000/);
      // A bad value names its line and field.
      writeFileSync(accounts, good.replace(/"balance":"1003"/, '"balance":"-5"'));
      const e4 = await refused(openChain({ dataDir, genesisPath, log }));
      expect(e4.message).to.match(/line 4: balance must not be negative/);
      writeFileSync(accounts, good.replace(/"public_key":"0x[0-9a-f]+"/, '"public_key":"0xzz"'));
      const e5 = await refused(openChain({ dataDir, genesisPath, log }));
      expect(e5.message).to.match(/accounts\.jsonl line 1: public_key must be/);
      // The repaired file builds in the same directory: the refusals left no state behind.
      writeFileSync(accounts, good);
      const c = await openChain({ dataDir, genesisPath, log });
      expect((await Meta.genesis.get(c.db))!.accounts).to.equal(3000);
      await c.close();
    } finally {
      t.cleanup();
    }
  });

  it('a duplicate key (in the file, or of a dev account) is refused naming its line; the directory stays empty', async () => {
    const t = tempDir();
    try {
      const genesisPath = writeChain(t.path, 100);
      const dataDir = join(t.path, 'data');
      const accounts = join(t.path, 'accounts.jsonl');
      const lines = readFileSync(accounts, 'utf8').split('\n');
      lines[89] = lines[11]!; // line 90 repeats line 12
      writeFileSync(accounts, lines.join('\n'));
      const e1 = await refused(openChain({ dataDir, genesisPath, log }));
      expect(e1.message).to.match(new RegExp(`line 90: duplicate account: public_key 0x${key(11).toString(16)}`));
      const dev = JSON.parse(readFileSync(DEVNET, 'utf8')).exchange.dev_accounts[3];
      lines[89] = JSON.stringify({ public_key: dev.public_key, balance: '1' });
      writeFileSync(accounts, lines.join('\n'));
      const e2 = await refused(openChain({ dataDir, genesisPath, log }));
      expect(e2.message).to.match(/line 90: duplicate account: .*already deployed by an earlier line, dev_accounts or a genesis contract/);
      // Nothing was kept: with the line fixed the same directory builds.
      lines[89] = line(89).trimEnd();
      writeFileSync(accounts, lines.join('\n'));
      const c = await openChain({ dataDir, genesisPath, log });
      expect((await Meta.genesis.get(c.db))!.accounts).to.equal(100);
      await c.close();
    } finally {
      t.cleanup();
    }
  });

  it('a directory made before genesis digests (meta/genesis without one) still opens, checked by rebuilding block 0', async () => {
    const t = tempDir();
    try {
      const dataDir = join(t.path, 'data');
      const c = await openChain({ dataDir, genesisPath: DEVNET, log });
      const rec = (await Meta.genesis.get(c.db))!;
      await c.db.put(Meta.genesis.key, Meta.genesis.codec.encode({ chain_id: rec.chain_id, block_hash: rec.block_hash, state_hash: rec.state_hash }));
      await c.close();
      const before = genesisStats.builds;
      const again = await openChain({ dataDir, genesisPath: DEVNET, log });
      expect(genesisStats.builds).to.equal(before + 1);
      await again.close();
      const other = join(t.path, 'other.json');
      const g = JSON.parse(readFileSync(DEVNET, 'utf8'));
      g.exchange.vault_initial_balance = '1';
      writeFileSync(other, JSON.stringify(g));
      const e = await refused(openChain({ dataDir, genesisPath: other, log }));
      expect(e.message).to.match(/belongs to chain PERPNODE_DEVNET/);
    } finally {
      t.cleanup();
    }
  });
});
