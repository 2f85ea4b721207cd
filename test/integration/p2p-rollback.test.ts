/**
 * Rollback following on the real chain, in process, on 127.0.0.1: a sequencer and followers
 * with trades; a checkpoint; more blocks; an online rollback on the sequencer (its certificate
 * gossiped before the new branch); the followers roll back to the target (the checkpoint's
 * state root), archive the orphaned blocks and follow the new branch. Forged certificates are
 * rejected (and their senders penalised) and a valid but stale one is not followed; a follower
 * stopped before the rollback converges when restarted; an offline rollback (node stopped,
 * `rollback()` as `perpnode rollback` runs it, restart) reaches every follower; a follower
 * killed half-way through its own rollback finishes it with the sequencer's certificate. At the
 * end every node has the same head hash and state root.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openChain, startFollower, startSequencer, type RunningFollower, type RunningNode, type StartOptions } from '../../node/node.ts';
import { P2PService, encodeEnvelope, type RollbackCertificate } from '../../node/p2p/index.ts';
import { chainForP2P } from '../../node/p2p/chain.ts';
import { certificateHash, listCertificates, pendingRollback, rollback, verifyCertificate } from '../../node/chain/rollback.ts';
import { encodeShortString, sign } from '../../node/crypto/index.ts';
import { feltKey, Tag } from '../../node/storage/schema.ts';
import { orderHash, type Order, type SignedOrder } from '../../contracts-ts/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { gossipReady, testLog, until } from './p2p.fixtures.ts';

const ROOT = join(import.meta.dirname, '../..');
const FAST_P2P = { host: '127.0.0.1', port: 0, statusIntervalMs: 300, reconnectIntervalMs: 300, requestTimeoutMs: 5000, stopTimeoutMs: 3000, certificateFetchIntervalMs: 300 };

describe('rollback following (real chain, in process)', function () {
  // Ceilings for a loaded machine (every node in this one process), not expectations: each
  // wait below is for a condition.
  this.timeout(900_000);
  const tmp = tempDir('perpnode-p2p-rb-');
  let genesisPath = '';
  let seq: RunningNode;
  let seqOpts: StartOptions;
  const followers = new Map<string, RunningFollower>();
  const extra: { stop(): Promise<unknown> }[] = [];
  let trading = true;
  let tradeLoop: Promise<void> = Promise.resolve();
  let fills = 0;
  /** The online rollback: checkpoint, certificate, orphaned blocks. */
  let cp: { height: bigint; root: bigint; hash: bigint };
  let cert: RollbackCertificate;
  let orphaned: bigint[] = [];
  /** f3 was stopped here, above the checkpoint, before the rollback. */
  let f3StoppedAt = 0n;

  async function follower(name: string, bootstrap: string[] = seq.p2p!.multiaddrs()): Promise<RunningFollower> {
    const f = await startFollower({ dataDir: join(tmp.path, name), genesisPath, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, log: testLog(name), p2p: { ...FAST_P2P, bootstrap } });
    followers.set(name, f);
    return f;
  }

  const seqHead = async () => (await seq.chain.chain.head())!;
  const headOf = async (f: RunningFollower) => (await f.chain.chain.head())!;
  const reach = (fs: RunningFollower[], n: bigint, ms: number) => until(async () => (await Promise.all(fs.map(headOf))).every((h) => h.number >= n), ms, `followers to reach ${n}`);

  let salt = 1n;
  function order(acct: { priv: bigint; address: bigint }, side: 'BUY' | 'SELL', tif: 'GTC' | 'IOC'): SignedOrder {
    const o: Order = { account: acct.address, market: 'BTC-USD-PERP', side, orderType: 'LIMIT', timeInForce: tif, size: 100_000n, price: 65_000n * 10n ** 8n, triggerPrice: 0n, reduceOnly: false, expiry: BigInt(Math.floor(Date.now() / 1000)) + 3600n, salt: salt++ };
    const hash = orderHash(o, seq.chain.genesis.chainId);
    const s = sign(hash, acct.priv);
    return { order: o, hash, signature: [s.r, s.s] };
  }

  before(async () => {
    const g = JSON.parse(readFileSync(join(ROOT, 'genesis/devnet.json'), 'utf8'));
    g.heartbeat_ms = 200;
    g.block_time_ms = 200;
    genesisPath = join(tmp.path, 'genesis.json');
    writeFileSync(genesisPath, JSON.stringify(g));
    seqOpts = { dataDir: join(tmp.path, 'seq'), genesisPath, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log: testLog('seq'), p2p: FAST_P2P, p2pRequired: true };
    seq = await startSequencer(seqOpts);
    const accts = g.exchange.dev_accounts.slice(0, 4).map((a: any) => ({ priv: BigInt(a.private_key), address: BigInt(a.address) }));
    tradeLoop = (async () => {
      for (let i = 0; trading; i++) {
        const [m, t] = i % 2 ? [accts[(i >> 1) % 4], accts[((i >> 1) + 1) % 4]] : [accts[((i >> 1) + 1) % 4], accts[(i >> 1) % 4]];
        const before = (await seqHead()).number;
        try {
          await seq.exchange.submitOrder(order(m, 'SELL', 'GTC'));
          fills += (await seq.exchange.submitOrder(order(t, 'BUY', 'IOC'))).fills.length;
        } catch (e) {
          if (trading) throw e;
        }
        // Paced by the chain, not a clock: one trade pair per sealed block or two.
        await until(async () => !trading || (await seqHead()).number >= before + 2n, 180_000, 'the sequencer to seal the trade');
      }
    })();
  });

  after(async () => {
    trading = false;
    await tradeLoop.catch(() => undefined);
    for (const s of extra.splice(0)) await s.stop().catch(() => undefined);
    for (const f of followers.values()) await f.stop().catch(() => undefined);
    await seq?.stop().catch(() => undefined);
    tmp.cleanup();
  });

  it('followers follow trades; checkpoint; more blocks (one follower stopped above the checkpoint)', async () => {
    const f1 = await follower('f1');
    // f2 knows only f1: it gets blocks and certificates relayed by a follower.
    const f2 = await follower('f2', f1.p2p.multiaddrs());
    const f3 = await follower('f3');
    await until(async () => (await seqHead()).number >= 10n && fills >= 4, 120_000, 'ten blocks and some fills');
    const c = await seq.maintenance.checkpoint('pre-maintenance');
    cp = { height: c.height, root: c.state_root, hash: c.block_hash };
    expect((await seq.chain.chain.header(cp.height))!.header.new_root).to.equal(cp.root);
    await reach([f3], cp.height + 2n, 90_000);
    await f3.stop();
    followers.delete('f3');
    f3StoppedAt = (await openHead('f3')).number;
    expect(f3StoppedAt > cp.height).to.equal(true);
    await until(async () => (await seqHead()).number >= cp.height + 8n, 90_000, 'eight blocks past the checkpoint');
    trading = false;
    await tradeLoop;
    const top = (await seqHead()).number;
    await reach([f1, f2], top, 90_000);
    let withTrades = 0;
    for (let n = cp.height + 1n; n <= top; n++) if ((await seq.chain.chain.block(n))!.transactions.some((t) => (t.body as any).type === 'TRADE')) withTrades++;
    expect(withTrades, 'orphaned-to-be blocks with trades').to.be.greaterThan(0);
  });

  it('an online rollback: both followers roll back to the target (checkpoint root), archive the orphaned blocks, follow the new branch', async () => {
    const f1 = followers.get('f1')!;
    const f2 = followers.get('f2')!;
    const seen = new Map<string, { to: bigint; root: bigint; from: bigint }>();
    for (const [name, f] of [['f1', f1], ['f2', f2]] as const)
      f.p2p.once('rolledBack', (e) => seen.set(name, { to: e.to.number, from: e.from.number, root: f.chain.world.root }));
    // What the sequencer sends, in order: the certificate must precede the new branch's first block.
    const sent: string[] = [];
    const origRaw = seq.p2p!.publishRaw.bind(seq.p2p!);
    seq.p2p!.publishRaw = async (bytes: Uint8Array) => {
      const j = JSON.parse(new TextDecoder().decode(bytes));
      sent.push(j.type === 'block' ? `block ${j.number}` : j.type);
      return origRaw(bytes);
    };
    const before = await seqHead();
    orphaned = [];
    for (let n = cp.height + 1n; n <= before.number; n++) orphaned.push((await seq.chain.chain.header(n))!.hash);
    const r = await seq.maintenance.rollback(cp.height, 'bad funding indices', 7n);
    cert = r.certificate;
    expect(r.rootAfterRollback).to.equal(cp.root);
    expect(cert.target_hash).to.equal(cp.hash);
    expect(verifyCertificate(cert, seq.chain.genesis.sequencer.publicKey)).to.equal(true);
    await until(async () => (await seqHead()).number >= cp.height + 4n, 90_000, 'the new branch');
    const rb = sent.indexOf('rollback');
    expect(rb, `published: ${sent.join(', ')}`).to.be.greaterThanOrEqual(0);
    expect(sent.slice(0, rb).some((s) => s === `block ${cp.height + 1n}`)).to.equal(false);
    expect(sent.indexOf(`block ${cp.height + 1n}`)).to.be.greaterThan(rb);

    const newTop = (await seqHead()).number;
    await until(() => seen.size === 2, 120_000, 'both followers to roll back');
    await reach([f1, f2], newTop, 120_000);
    for (const [name, f] of [['f1', f1], ['f2', f2]] as const) {
      const s = seen.get(name)!;
      expect(s.to, `${name} rolled back to`).to.equal(cp.height);
      expect(s.from > cp.height, `${name} rolled back from ${s.from}`).to.equal(true);
      expect(s.root, `${name} root right after its rollback`).to.equal(cp.root);
      expect(f.p2p.stats.rollbacksApplied).to.equal(1);
      expect(f.p2p.stats.rejected).to.deep.equal({});
      // Orphaned blocks it held are archived (readable for audit), and the certificate stored as signed.
      for (const h of orphaned.slice(0, Number(s.from - cp.height))) expect(await f.chain.db.get(feltKey(Tag.orphan, h)), `${name} archived ${h}`).to.not.equal(undefined);
      const stored = await listCertificates(f.chain.db);
      expect(stored.map((c) => certificateHash(c))).to.include(certificateHash(cert));
      expect(stored.find((c) => certificateHash(c) === certificateHash(cert))!.signature).to.deep.equal(cert.signature);
      // On the new branch: same blocks as the sequencer from the target up.
      for (let n = cp.height; n <= newTop; n++) expect((await f.chain.chain.header(n))!.hash, `${name} block ${n}`).to.equal((await seq.chain.chain.header(n))!.hash);
      expect((await f.chain.chain.header(cp.height + 1n))!.hash).to.not.equal(orphaned[0]);
    }
    expect(seq.p2p!.status().head.number).to.be.greaterThanOrEqual(Number(cp.height + 1n));
  });

  it('forged certificates are rejected and their sender penalised; a valid but stale one is not followed; nothing changes', async () => {
    const f1 = followers.get('f1')!;
    const g = seq.chain.genesis;
    const honest = chainForP2P(seq.chain);
    const rogue = await P2PService.start({ ...honest, importBlock: undefined, rollbackTo: undefined, certificates: async () => [] }, { ...FAST_P2P, role: 'sequencer', bootstrap: [f1.p2p.multiaddrs()[0]!] }, testLog('rogue'));
    extra.push(rogue);
    await until(() => f1.p2p.status().peers.some((p) => p.id === rogue.peerId && p.connected), 60_000, 'rogue to connect');
    await gossipReady(rogue, f1.p2p);
    const before = await headOf(f1);
    const offences: string[] = [];
    f1.p2p.on('offence', (o) => o.peer === rogue.peerId && offences.push(o.reason));
    const rolled: unknown[] = [];
    f1.p2p.on('rolledBack', (e) => rolled.push(e));
    const ignoredBefore = f1.p2p.stats.rollbacksIgnored;
    const signed = (body: Omit<RollbackCertificate, 'signature'>, key = g.sequencer.privateKey!): RollbackCertificate => {
      const s = sign(certificateHash(body), key);
      return { ...body, signature: [s.r, s.s] };
    };
    const publish = (c: RollbackCertificate) => rogue.publishRaw(encodeEnvelope({ type: 'rollback', certificate: c }));
    const { signature: _, ...body } = cert;
    // 1. valid signature, but stale: the same rollback under another incident id, which f1
    //    never saw. f1 is on the new branch: the orphaned branch does not contain its head.
    await publish(signed({ ...body, incident_id: 8n }));
    // 2. valid signature, target not on f1's chain (orphaned block 2 as target): not followed, no offence
    await publish(signed({ ...body, target_height: cp.height + 1n, target_hash: orphaned[0]! }));
    // 3. signed with another key
    await publish(signed({ ...body, incident_id: 9n }, 0xbad5eedn));
    // 4. tampered target height (the real signature over another target)
    await publish({ ...cert, target_height: cert.target_height - 1n, target_hash: (await seq.chain.chain.header(cert.target_height - 1n))!.hash });
    // 5. another chain's certificate, signed by this sequencer key
    await publish(signed({ ...body, chain_id: encodeShortString('OTHER_CHAIN'), incident_id: 10n }));
    await until(() => offences.length >= 3 && f1.p2p.stats.rollbacksIgnored >= ignoredBefore + 2, 90_000, `3 offences (got ${offences.join(', ')}) and 2 certificates not followed`);
    expect(offences).to.deep.equal(['bad_certificate', 'bad_certificate', 'bad_certificate']);
    // No wait needed: f1 counts certificate 1 as not followed only once its follow round decided
    // not to roll back, and 2..5 are never followed; so a rollback would have happened by now.
    expect(rolled).to.deep.equal([]);
    expect(f1.p2p.stats.rollbacksApplied).to.equal(1);
    const after = await headOf(f1);
    expect(after.number >= before.number).to.equal(true);
    expect((await f1.chain.chain.header(before.number))!.hash).to.equal(before.hash);
    expect(f1.chain.world.root).to.equal((await f1.chain.chain.header(after.number))!.header.new_root);
    expect(f1.p2p.status().peers.find((p) => p.id === rogue.peerId)!.offences).to.equal(3);
    await rogue.stop();
  });

  it('a follower stopped before the rollback and restarted after it converges', async () => {
    const f3 = await follower('f3');
    await until(() => f3.p2p.stats.rollbacksApplied === 1, 120_000, 'f3 to follow the rollback');
    const top = (await seqHead()).number;
    await reach([f3], top, 120_000);
    for (let n = cp.height; n <= top; n++) expect((await f3.chain.chain.header(n))!.hash, `f3 block ${n}`).to.equal((await seq.chain.chain.header(n))!.hash);
    for (let n = cp.height + 1n; n <= f3StoppedAt; n++) expect(await f3.chain.db.get(feltKey(Tag.orphan, orphaned[Number(n - cp.height - 1n)]!))).to.not.equal(undefined);
  });

  it('an offline rollback (sequencer stopped, rolled back, restarted) reaches every follower', async () => {
    const port = Number(seq.p2p!.multiaddrs()[0]!.split('/tcp/')[1]!.split('/')[0]);
    await until(async () => (await seqHead()).number >= cp.height + 12n, 90_000, 'more blocks on the new branch');
    const target = (await seqHead()).number - 4n;
    const targetHeader = (await seq.chain.chain.header(target))!;
    await seq.stop();
    const fs = [...followers.values()];
    const stoppedAt = await openHead('seq');
    await reach(fs, stoppedAt.number, 90_000);
    const c = await openChain({ dataDir: seqOpts.dataDir, genesisPath, log: testLog('offline') });
    let cert2: RollbackCertificate;
    try {
      cert2 = await rollback(c.db, c.chain, c.world, c.genesis, target, { reason: 'operator rollback', incidentId: 11n });
    } finally {
      await c.close();
    }
    const applied = fs.map((f) => f.p2p.stats.rollbacksApplied);
    seq = await startSequencer({ ...seqOpts, p2p: { ...FAST_P2P, port } });
    await until(() => fs.every((f, i) => f.p2p.stats.rollbacksApplied === applied[i]! + 1), 120_000, 'every follower to follow the offline rollback');
    await until(async () => (await seqHead()).number >= target + 2n, 90_000, 'the sequencer to build on the target');
    const top = (await seqHead()).number;
    await reach(fs, top, 120_000);
    for (const f of fs) {
      expect((await f.chain.chain.header(target))!.hash).to.equal(targetHeader.hash);
      expect((await f.chain.chain.header(target + 1n))!.hash).to.equal((await seq.chain.chain.header(target + 1n))!.hash);
      expect((await listCertificates(f.chain.db)).map((x) => certificateHash(x))).to.include(certificateHash(cert2));
    }
  });

  it('at the end every node has the same head hash and state root', async () => {
    await seq.producer.stop();
    const head = await seqHead();
    for (const [name, f] of followers) await until(async () => (await headOf(f)).number >= head.number, 120_000, `${name} to reach ${head.number}`);
    for (const [name, f] of followers) {
      expect((await headOf(f)).hash, `${name} head`).to.equal(head.hash);
      expect(f.chain.world.root, `${name} root`).to.equal(seq.chain.world.root);
    }
    expect(followers.size).to.equal(3);
  });

  it('a follower killed half-way through its rollback finishes it with the sequencer certificate (no private key needed)', async () => {
    const f2 = followers.get('f2')!;
    await f2.stop();
    followers.delete('f2');
    const dataDir = join(tmp.path, 'f2');
    // A follower's genesis holds no sequencer private key.
    const g = JSON.parse(readFileSync(genesisPath, 'utf8'));
    delete g.sequencer.private_key;
    const publicGenesis = join(tmp.path, 'public-genesis.json');
    writeFileSync(publicGenesis, JSON.stringify(g));
    let c = await openChain({ dataDir, genesisPath: publicGenesis, log: testLog('f2-offline') });
    const head = (await c.chain.head())!;
    const target = head.number - 3n;
    const t = (await c.chain.header(target))!;
    const body = { chain_id: c.genesis.chainId, target_height: target, target_hash: t.hash, orphaned_head_height: head.number, orphaned_head_hash: head.hash, reason: 'resume test', incident_id: 12n };
    const s = sign(certificateHash(body), seq.chain.genesis.sequencer.privateKey!);
    const given: RollbackCertificate = { ...body, signature: [s.r, s.s] };
    let crashed = false;
    try {
      await rollback(c.db, c.chain, c.world, c.genesis, target, {
        reason: given.reason,
        incidentId: given.incident_id,
        certificate: given,
        onProgress: () => {
          throw new Error('simulated crash');
        },
      });
    } catch (e) {
      crashed = (e as Error).message === 'simulated crash';
    } finally {
      await c.close();
    }
    expect(crashed).to.equal(true);
    c = await openChain({ dataDir, genesisPath: publicGenesis, log: testLog('f2-offline') });
    try {
      expect(await pendingRollback(c.db)).to.equal(undefined);
      expect((await c.chain.head())!.number).to.equal(target);
      expect(c.world.root).to.equal(t.header.new_root);
      const stored = (await listCertificates(c.db)).find((x) => x.incident_id === 12n);
      expect(stored).to.deep.equal(given);
    } finally {
      await c.close();
    }
  });

  /** The head of a stopped node's data directory. */
  async function openHead(name: string) {
    const c = await openChain({ dataDir: join(tmp.path, name), genesisPath, log: testLog(name) });
    try {
      return (await c.chain.head())!;
    } finally {
      await c.close();
    }
  }
});
