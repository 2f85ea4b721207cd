import { expect } from 'chai';
import { join } from 'node:path';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { ClassicLevel } from 'classic-level';
import { openChain, startSequencer } from '../../node/node.ts';
import { pendingRollback, rollback } from '../../node/chain/rollback.ts';
import { depositHash, orderHash, type DepositTx, type Order } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { createLogger } from '../../node/log.ts';
import { bigIntToBytes32, bytesToBigInt, decodeJson, encodeJson, feltKey, metaKey, storageKey, Tag, u64Key } from '../../node/storage/schema.ts';
import { decodeNode, encodeNode } from '../../node/trie/index.ts';
import { genesisDigest, loadGenesis } from '../../node/chain/genesis.ts';
import { writeFileSync } from 'node:fs';
import { ACC, MKT, marketBase } from '../../contracts-ts/layout.ts';
import { ROOT, rpc, runCli } from '../helpers/proc.ts';
import { SignerRecord, readSignerRecord } from '../../node/chain/signer-record.ts';
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

/** Runs a sequencer for `n` blocks and returns the block hash its RPC served at every height. */
async function serveBlocks(dataDir: string, n: number): Promise<Map<number, string>> {
  const node = await startSequencer({ dataDir, genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log });
  const served = new Map<number, string>();
  try {
    for (let i = 0; i < n; i++) await node.producer.sealNow(true);
    const top = Number(node.producer.head.number);
    for (let h = 0; h <= top; h++) served.set(h, (await rpc(node.rpcUrl, 'starknet_getBlockWithTxHashes', { block_id: { block_number: h } })).block_hash);
  } finally {
    await node.stop();
  }
  return served;
}

/** A sequencer run of `n` blocks, each with deposits to three dev accounts (state changes in every block). */
async function depositBlocks(dataDir: string, n: number): Promise<bigint> {
  const node = await startSequencer({ dataDir, genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log });
  try {
    const g = node.chain.genesis;
    const op = g.exchange.bridgeOperator;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < 3; i++) {
        const m = { depositId: BigInt(b * 100 + i + 1), recipient: g.exchange.devAccounts[i]!.address, amount: BigInt(1000 + b) };
        const s = sign(depositHash(m, op.publicKey, g.chainId), op.privateKey!);
        await node.producer.submit({ type: 'DEPOSIT', ...m, signature: [s.r, s.s] } as DepositTx);
      }
      await node.producer.sealNow();
    }
    return node.producer.head.number;
  } finally {
    await node.stop();
  }
}

/** Cuts the newest LevelDB write-ahead log to half its size (a lost WAL tail). */
function truncateNewestLog(dataDir: string): void {
  const db = join(dataDir, 'db');
  const logs = readdirSync(db).filter((f) => /^\d+\.log$/.test(f)).sort((a, b) => Number.parseInt(b, 10) - Number.parseInt(a, 10));
  const newest = join(db, logs[0]!);
  const size = statSync(newest).size;
  expect(size, 'the newest .log holds the last blocks').to.be.greaterThan(1000);
  truncateSync(newest, Math.floor(size / 2));
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
  this.timeout(300_000); // several CLI runs per test; slow on a loaded machine
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

  it('a genesis file edited together with its recorded digest (maintenance margin 3 % -> 4.5 %) is refused: the parameters are proven by the signed state', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await runBlocks(data, 1);
      const raw = JSON.parse(readFileSync(GENESIS, 'utf8'));
      raw.exchange.markets[0].maintenance_margin_fraction = '0.045';
      const edited = join(t.path, 'edited-genesis.json');
      writeFileSync(edited, JSON.stringify(raw, null, 2));
      // The attacker also rewrites the digest the directory recorded, so the digest check passes.
      const digest = (await genesisDigest(loadGenesis(edited, { trustDevAccounts: true }))).digest;
      await withDb(data, async (db) => {
        const j = decodeJson((await db.get(metaKey('genesis')))!);
        j.genesis_digest = digest;
        await db.put(metaKey('genesis'), encodeJson(j));
      });
      let err: Error | undefined;
      try {
        const node = await startSequencer({ dataDir: data, genesisPath: edited, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log });
        await node.stop();
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.contain('refusing to start');
      expect(err?.message).to.contain(`${btc.symbol} maintenance_margin_fraction`);
      expect(err?.message).to.contain('genesis file was altered');
    } finally {
      t.cleanup();
    }
  });

  it("a deleted exchange contract record is refused by the head checks, naming it (its parameters cannot be proven)", async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await runBlocks(data, 1);
      await withDb(data, (db) => db.del(feltKey(Tag.contract, g.exchange.exchangeAddress)));
      const err = await startError(data);
      expect(err?.message).to.contain('refusing to start');
      expect(err?.message).to.contain('the exchange contract');
      expect(err?.message).to.contain('has no record');
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

  it('a truncated write-ahead log is refused at start (the sequencer signed further), and never serves a second hash for a height', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      const served = await serveBlocks(data, 40);
      const top = served.size - 1;
      expect(readSignerRecord(data)).to.deep.equal({ height: BigInt(top), hash: BigInt(served.get(top)!) });
      const follower = join(t.path, 'follower-db');
      cpSync(join(data, 'db'), follower, { recursive: true }); // what an up-to-date follower holds
      truncateNewestLog(data);
      const dbHead = await withDb(data, async (db) => BigInt(decodeJson((await db.get(metaKey('head')))!).number));
      expect(Number(dbHead), 'the truncated database lost blocks').to.be.lessThan(top);
      for (let attempt = 0; attempt < 2; attempt++) {
        const err = await startError(data);
        expect(err?.message).to.contain('refusing to start');
        expect(err?.message).to.contain(`this sequencer signed block ${top} (${served.get(top)})`);
        expect(err?.message).to.contain(`ends at block ${dbHead}`);
        expect(err?.message).to.contain(`perpnode rollback --to ${dbHead}`);
      }
      const v = await cli('verify', '--data-dir', data);
      expect(v.code).to.equal(1);
      expect(v.stderr).to.contain(`this sequencer signed block ${top}`);
      // Re-sync from the follower: the node starts and serves exactly the hashes it served before.
      rmSync(join(data, 'db'), { recursive: true });
      cpSync(follower, join(data, 'db'), { recursive: true });
      const again = await serveBlocks(data, 2);
      for (const [h, hash] of served) expect(again.get(h), `block ${h}`).to.equal(hash);
      expect(again.size).to.equal(served.size + 2);
    } finally {
      t.cleanup();
    }
  });

  it('after a truncated write-ahead log, an explicit rollback to the database head is the way out: its certificate orphans up to the newest signed block', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      const served = await serveBlocks(data, 30);
      const top = served.size - 1;
      truncateNewestLog(data);
      const dbHead = await withDb(data, async (db) => Number(decodeJson((await db.get(metaKey('head')))!).number));
      const r = await cli('rollback', '--to', String(dbHead), '--reason', 'lost WAL tail', '--data-dir', data);
      expect(r.code, r.stderr).to.equal(0);
      const cert = JSON.parse(r.stdout);
      expect(cert.target_height).to.equal(dbHead);
      expect(cert.target_hash).to.equal(served.get(dbHead));
      expect(cert.orphaned_head_height).to.equal(top);
      expect(cert.orphaned_head_hash).to.equal(served.get(top));
      expect(readSignerRecord(data)).to.deep.equal({ height: BigInt(dbHead), hash: BigInt(served.get(dbHead)!) });
      const after = await serveBlocks(data, 1);
      for (let h = 0; h <= dbHead; h++) expect(after.get(h), `block ${h}`).to.equal(served.get(h));
      expect(readSignerRecord(data)!.height > BigInt(dbHead), "the record moved up again").to.equal(true);
    } finally {
      t.cleanup();
    }
  });

  it('the signer record refuses a second hash at a signed height or below, and survives a reload', () => {
    const t = tempDir();
    try {
      const rec = SignerRecord.load(t.path);
      expect(rec.last).to.equal(undefined);
      rec.advance(5n, 0xabcn);
      expect(() => rec.guard(5n, 0xabdn)).to.throw('already signed block 5 as 0xabc');
      expect(() => rec.guard(4n, 0x1n)).to.throw('already signed up to block 5');
      expect(() => rec.advance(3n, 0x1n)).to.throw('refusing to sign block 3');
      rec.guard(5n, 0xabcn);
      rec.guard(6n, 0x1n);
      expect(SignerRecord.load(t.path).last).to.deep.equal({ height: 5n, hash: 0xabcn });
      expect(JSON.parse(readFileSync(join(t.path, 'signer.json'), 'utf8')).hash).to.equal('0xabc');
    } finally {
      t.cleanup();
    }
  });

  for (const [what, alter] of [
    ['a raised collateral in it', (j: any) => (j.storage.find((e: any) => BigInt(e.prev) > 0n).prev = '0x' + (BigInt(j.storage.find((e: any) => BigInt(e.prev) > 0n).prev) + 10n ** 12n).toString(16))],
    ['an entry removed from it', (j: any) => j.storage.splice(0, 1)],
    ['its recorded roots changed', (j: any) => (j.roots.contracts_root = '0x1234')],
  ] as const)
    it(`an offline rollback refuses when the head block's reverse diff has ${what}, and writes nothing`, async () => {
      const t = tempDir();
      try {
        const data = join(t.path, 'data');
        const head = await depositBlocks(data, 3);
        await withDb(data, async (db) => {
          const k = u64Key(Tag.reverseDiff, head);
          const j = decodeJson((await db.get(k))!);
          alter(j);
          await db.put(k, encodeJson(j));
        });
        const c = await openChain({ dataDir: data, genesisPath: GENESIS, log, mode: 'existing' });
        const root = c.world.root;
        try {
          const err = await rollback(c.db, c.chain, c.world, c.genesis, head - 2n, { reason: 'test', incidentId: 1n }).then(
            () => undefined,
            (e: Error) => e,
          );
          expect(err?.message).to.contain(`rollback refused: the reverse diff of block ${head}`);
          expect(err?.message).to.contain('Nothing of block');
          expect((await c.chain.head())!.number).to.equal(head);
          expect(await pendingRollback(c.db)).to.equal(undefined);
          expect(c.world.root).to.equal(root);
        } finally {
          await c.close();
        }
        expect(await startError(data)).to.equal(undefined, 'the refused rollback left the node unable to start');
      } finally {
        t.cleanup();
      }
    });

  /** A node one level below the head's contracts root (not the root: the start check re-hashes roots). */
  async function nodeBelowRoot(data: string): Promise<{ key: Uint8Array; raw: Uint8Array }> {
    return withDb(data, async (db) => {
      const roots = decodeJson((await db.get(metaKey('state_roots')))!);
      const root = decodeNode((await db.get(feltKey(Tag.trieNode, BigInt(roots.contracts_root))))!);
      expect(root.kind, 'several contracts: the root is a binary node').to.equal('binary');
      const key = feltKey(Tag.trieNode, (root as { left: bigint }).left);
      const raw = await db.get(key);
      expect(raw, 'the left child is a stored node').to.not.equal(undefined);
      return { key, raw: raw! };
    });
  }

  it('verify --full re-hashes every trie node of the head: a flipped node below the root fails it, with progress lines', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await depositBlocks(data, 2);
      const ok = await cli('verify', '--full', '--data-dir', data);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stderr).to.match(/verify --full: \d+ trie nodes of the head re-hashed/);
      expect(ok.stderr).to.match(/verify --full: checked 3 blocks/);
      const { key, raw } = await nodeBelowRoot(data);
      const n = decodeNode(raw);
      const flipped = n.kind === 'binary' ? { ...n, right: n.right ^ 1n } : { ...n, child: n.child ^ 1n };
      await withDb(data, (db) => db.put(key, encodeNode(flipped)));
      const r = await cli('verify', '--full', '--data-dir', data);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('MISMATCH: contracts trie');
      expect(r.stderr).to.contain('does not hash to its key');
    } finally {
      t.cleanup();
    }
  });

  it('verify --full finds a deleted trie node below the root and an altered receipt and transaction of an old block', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await depositBlocks(data, 3);
      const { key } = await nodeBelowRoot(data);
      await withDb(data, async (db) => {
        await db.del(key);
        const k = u64Key(Tag.body, 1n);
        const body = decodeJson((await db.get(k))!);
        expect(body.receipts.length, 'block 1 has receipts').to.be.greaterThan(0);
        body.receipts[0].events[0].data[0] = '0x' + (BigInt(body.receipts[0].events[0].data[0]) + 1n).toString(16);
        body.transactions[1].body.amount = '0x' + (BigInt(body.transactions[1].body.amount) + 1n).toString(16);
        await db.put(k, encodeJson(body));
      });
      const r = await cli('verify', '--full', '--data-dir', data);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/MISMATCH: contracts trie .*missing/);
      expect(r.stderr).to.contain('MISMATCH: block 1: transaction 1: its body hashes to');
      expect(r.stderr).to.contain('MISMATCH: block 1: event commitment mismatch');
    } finally {
      t.cleanup();
    }
  });

  it('an edited open-order record is refused at start, naming the order book', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      const node = await startSequencer({ dataDir: data, genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log });
      let hash: bigint;
      try {
        const acct = g.exchange.devAccounts[0]!;
        const o: Order = { account: acct.address, market: btc.symbol, side: 'BUY', orderType: 'LIMIT', timeInForce: 'GTC', size: 100_000n, price: 60_000n * 10n ** 8n, triggerPrice: 0n, reduceOnly: false, expiry: BigInt(Math.floor(Date.now() / 1000)) + 3600n, salt: 77n };
        hash = orderHash(o, g.chainId);
        const s = sign(hash, acct.privateKey!);
        const res = await node.exchange.submitOrder({ order: o, hash, signature: [s.r, s.s] });
        expect(res.record.status).to.equal('OPEN');
        await node.producer.sealNow();
      } finally {
        await node.stop();
      }
      expect(await startError(data), 'an untouched book starts').to.equal(undefined);
      await withDb(data, async (db) => {
        const k = feltKey(Tag.order, hash);
        const j = decodeJson((await db.get(k))!);
        const text = JSON.stringify(j);
        expect(text).to.contain('0x' + (60_000n * 10n ** 8n).toString(16));
        await db.put(k, encodeJson(JSON.parse(text.replace('0x' + (60_000n * 10n ** 8n).toString(16), '0x' + (90_000n * 10n ** 8n).toString(16)))));
      });
      const err = await startError(data);
      expect(err?.message).to.contain('refusing to start');
      expect(err?.message).to.contain("the order book's records");
      expect(err?.message).to.contain('were altered after the last block was committed');
    } finally {
      t.cleanup();
    }
  });
});
