/**
 * The p2p layer on 127.0.0.1 with a stand-in chain (p2p.fixtures.ts): wire formats, peer key,
 * gossip + range sync between a sequencer and followers, announcements of big blocks, hostile
 * peers (forged gossip and forged range answers), restart, bounded stop, and forwarding of
 * trading calls. The same service runs on real chains in p2p-follower.test.ts.
 */
import { expect } from 'chai';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import {
  P2PService,
  blockMessage,
  createHost,
  decodeEnvelope,
  encodeEnvelope,
  EnvelopeError,
  ForwardingDispatcher,
  FrameError,
  FrameReader,
  frame,
  jsonFrame,
  loadOrCreatePeerKey,
  startP2P,
  TRADING_METHODS,
  wireNames,
  type Host,
  type StartP2POptions,
} from '../../node/p2p/index.ts';
import { blockToJson, type Block } from '../../node/chain/block.ts';
import { encodeShortString, sign } from '../../node/crypto/index.ts';
import { certificateHash } from '../../node/chain/rollback.ts';
import { startHttp, closeServer, type CallContext } from '../../node/rpc/http.ts';
import { tempDir } from '../helpers/tmp.ts';
import { FakeChain, gossipReady, makeBlock, ROGUE_KEY, SEQ_KEY, testLog, until } from './p2p.fixtures.ts';

const FAST: Partial<StartP2POptions> = { host: '127.0.0.1', port: 0, statusIntervalMs: 200, reconnectIntervalMs: 300, requestTimeoutMs: 3000, stopTimeoutMs: 3000 };

const running: { stop(): Promise<unknown> }[] = [];
async function node(chain: FakeChain, role: 'sequencer' | 'follower', opts: Partial<StartP2POptions> = {}): Promise<P2PService> {
  const s = await P2PService.start(chain, { ...FAST, role, ...opts }, testLog(role));
  running.push(s);
  return s;
}
async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map((s) => s.stop().catch(() => undefined)));
}

function copyChain(src: FakeChain, upTo: number): FakeChain {
  const c = new FakeChain();
  c.blocks.length = 0;
  c.blocks.push(...src.blocks.slice(0, upTo + 1));
  return c;
}

describe('p2p wire formats', () => {
  const chain = new FakeChain();
  const b1 = chain.produce({ txs: 2 });

  it('round-trips block, announcement, rollback and mode envelopes', () => {
    const full = decodeEnvelope(blockMessage(b1, 1 << 20).bytes, 1 << 20);
    expect(full.type).to.equal('block');
    if (full.type !== 'block') return;
    expect(full.block && blockToJson(full.block)).to.deep.equal(blockToJson(b1));
    const ann = blockMessage(b1, 300);
    expect(ann.announced).to.equal(true);
    const a = decodeEnvelope(ann.bytes, 300);
    expect(a).to.deep.equal({ type: 'block', number: 1n, hash: b1.hash, signature: b1.signature });
    const cert = { chain_id: 3n, target_height: 5n, target_hash: 7n, orphaned_head_height: 9n, orphaned_head_hash: 11n, reason: 'drill', incident_id: 13n, signature: [1n, 2n] as [bigint, bigint] };
    expect(decodeEnvelope(encodeEnvelope({ type: 'rollback', certificate: cert }), 4096)).to.deep.equal({ type: 'rollback', certificate: cert });
    expect(decodeEnvelope(encodeEnvelope({ type: 'mode', mode: 'CANCEL_ONLY', number: 3n, hash: 4n }), 4096)).to.deep.equal({ type: 'mode', mode: 'CANCEL_ONLY', number: 3n, hash: 4n });
  });

  it('refuses oversized, malformed and inconsistent envelopes', () => {
    const bytes = blockMessage(b1, 1 << 20).bytes;
    const code = (data: Uint8Array, max = 1 << 20) => {
      try {
        decodeEnvelope(data, max);
        return 'ok';
      } catch (e) {
        expect(e).to.be.instanceOf(EnvelopeError);
        return (e as EnvelopeError).code;
      }
    };
    expect(code(bytes, bytes.length - 1)).to.equal('oversized');
    expect(code(new TextEncoder().encode('{"v":1,"type":"block"'))).to.equal('malformed');
    expect(code(new Uint8Array([0xff, 0xfe]))).to.equal('malformed');
    expect(code(new TextEncoder().encode('{"v":2,"type":"block"}'))).to.equal('malformed');
    expect(code(new TextEncoder().encode('{"v":1,"type":"vote"}'))).to.equal('malformed');
    const j = JSON.parse(new TextDecoder().decode(bytes));
    j.number = 2;
    expect(code(new TextEncoder().encode(JSON.stringify(j)))).to.equal('malformed');
    j.number = 1;
    j.hash = '0x' + 'f'.repeat(64);
    expect(code(new TextEncoder().encode(JSON.stringify(j)))).to.equal('malformed');
  });

  it('frames: reassembles frames split across chunks and refuses one over the limit before reading it', async () => {
    const payloads = [new Uint8Array(0), new Uint8Array(1000).fill(7), jsonFrame({ a: 1 }).subarray(4)];
    const all = new Uint8Array(payloads.reduce((n, p) => n + 4 + p.length, 0));
    let off = 0;
    for (const p of payloads) {
      all.set(frame(p), off);
      off += 4 + p.length;
    }
    async function* chunks(sizes: number[]) {
      let i = 0;
      for (const s of sizes) {
        yield all.subarray(i, i + s);
        i += s;
      }
      if (i < all.length) yield all.subarray(i);
    }
    const r = new FrameReader(chunks([1, 2, 3, 5, 100, 7]));
    expect((await r.next(2000))!.length).to.equal(0);
    expect([...(await r.next(2000))!]).to.deep.equal([...payloads[1]!]);
    expect(await r.nextJson(2000)).to.deep.equal({ a: 1 });
    expect(await r.next(2000)).to.equal(null);
    const big = new FrameReader(chunks([all.length]));
    await big.next(10);
    let err: unknown;
    try {
      await big.next(999);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(FrameError);
    expect((err as FrameError).code).to.equal('oversized');
  });
});

describe('p2p peer key', () => {
  it('is created once with mode 0600 and keeps the peer id across restarts', async () => {
    const t = tempDir();
    try {
      const k1 = await loadOrCreatePeerKey(t.path);
      expect(statSync(join(t.path, 'p2p.key')).mode & 0o777).to.equal(0o600);
      const k2 = await loadOrCreatePeerKey(t.path);
      expect(k2.publicKey.toString()).to.equal(k1.publicKey.toString());
      const chain = new FakeChain();
      const s = await startP2P(chain, { ...FAST, role: 'sequencer', dataDir: t.path }, testLog('seq'));
      running.push(s);
      const addrs = s.multiaddrs();
      expect(addrs.length).to.be.greaterThan(0);
      for (const a of addrs) expect(a).to.match(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${s.peerId}$`));
      await s.stop();
      const s2 = await startP2P(chain, { ...FAST, role: 'sequencer', dataDir: t.path }, testLog('seq'));
      running.push(s2);
      expect(s2.peerId).to.equal(s.peerId);
    } finally {
      await stopAll();
      t.cleanup();
    }
  });
});

describe('p2p network (stand-in chain)', function () {
  // Ceilings for a loaded machine, not expectations: every wait below is for a condition.
  this.timeout(240_000);
  afterEach(stopAll);

  it('a sequencer and two followers agree through 150 blocks; a late follower syncs from genesis over several ranges', async () => {
    const sc = new FakeChain();
    const seq = await node(sc, 'sequencer');
    const boot = seq.multiaddrs();
    const f1c = new FakeChain();
    const f2c = new FakeChain();
    const f1 = await node(f1c, 'follower', { bootstrap: boot });
    const f2 = await node(f2c, 'follower', { bootstrap: boot });
    await until(() => seq.status().peers.filter((p) => p.connected).length === 2, 30_000, 'followers to connect');
    await gossipReady(seq, f1);
    await gossipReady(seq, f2);
    const height = (c: FakeChain) => Number(c.tip.header.block_number);
    for (let i = 0; i < 150; i++) {
      await seq.publishBlock(sc.produce({ txs: i % 3 }));
      // Paced by the followers, not by a clock: at most 20 blocks ahead of either.
      if (i % 10 === 9) await until(() => height(f1c) >= i - 19 && height(f2c) >= i - 19, 60_000, `followers to reach ${i - 19}`);
    }
    await until(() => f1c.tip.hash === sc.tip.hash && f2c.tip.hash === sc.tip.hash, 60_000, 'followers to reach the sequencer head');
    expect(f1c.blocks.map((b) => b.hash)).to.deep.equal(sc.blocks.map((b) => b.hash));
    expect(f2c.blocks.map((b) => b.hash)).to.deep.equal(sc.blocks.map((b) => b.hash));
    expect(f1.stats.imported).to.equal(150);
    expect(f1.stats.rejected).to.deep.equal({});

    // Late follower: 150 blocks behind, so at least three ranges of at most 64; it may take them
    // from the sequencer or from either follower.
    const lc = new FakeChain();
    const late = await node(lc, 'follower', { bootstrap: [f1.multiaddrs()[0]!] });
    await until(() => lc.tip.hash === sc.tip.hash, 60_000, 'the late follower to sync');
    expect(lc.blocks.map((b) => b.hash)).to.deep.equal(sc.blocks.map((b) => b.hash));
    expect(late.stats.importedFromSync).to.equal(150);
    expect(late.stats.rangeRequestsMade).to.be.greaterThanOrEqual(3);
    const st = late.status();
    expect(st.head.number).to.equal(150);
    expect(st.lag).to.equal(0);
    expect(st.peers.some((p) => p.connected && p.head?.number === 150)).to.equal(true);

    // Following continues over gossip once synced.
    for (let i = 0; i < 5; i++) await seq.publishBlock(sc.produce());
    await until(() => [f1c, f2c, lc].every((c) => c.tip.hash === sc.tip.hash), 30_000, 'everyone at 155');
  });

  it('blocks larger than the gossip limit are announced and fetched over blocks_by_range', async () => {
    const sc = new FakeChain();
    const seq = await node(sc, 'sequencer', { maxGossipBytes: 2048 });
    const fc = new FakeChain();
    const f = await node(fc, 'follower', { bootstrap: seq.multiaddrs() });
    await until(() => seq.status().peers.some((p) => p.connected), 30_000, 'follower to connect');
    await gossipReady(seq, f);
    for (let i = 0; i < 6; i++) await seq.publishBlock(sc.produce({ txs: 1, padding: i % 2 ? 10_000 : 0 }));
    await until(() => fc.tip.hash === sc.tip.hash, 30_000, 'follower to import the announced blocks');
    expect(seq.stats.announced).to.equal(3);
    expect(fc.blocks.map((b) => b.hash)).to.deep.equal(sc.blocks.map((b) => b.hash));
    expect(f.stats.importedFromGossip).to.be.greaterThan(0);
  });

  it('a block recording a mode change is followed by a mode hint', async () => {
    const sc = new FakeChain();
    const seq = await node(sc, 'sequencer');
    const fc = new FakeChain();
    const f = await node(fc, 'follower', { bootstrap: seq.multiaddrs() });
    await until(() => seq.status().peers.some((p) => p.connected), 30_000, 'follower to connect');
    await gossipReady(seq, f);
    const hints: any[] = [];
    f.on('mode', (m) => hints.push(m));
    await seq.publishBlock(sc.produce());
    const b = sc.produce({ txs: 1, body: { type: 'SET_MODE', mode: 'CANCEL_ONLY', reason: 'drill', seq: '0x1' } });
    await seq.publishBlock(b);
    await until(() => hints.length === 1 && fc.tip.hash === b.hash, 30_000, 'the mode hint and the block');
    expect(hints[0]).to.include({ mode: 'CANCEL_ONLY', number: 2n, hash: b.hash });
  });

  it('rejects forged gossip (bad signature, wrong state root, tampered transaction, oversized, malformed, forged rollback certificate), ignores a replayed old block, keeps its head', async () => {
    const sc = new FakeChain();
    const seq = await node(sc, 'sequencer');
    const fc = new FakeChain();
    // A high ban threshold so every forgery reaches the follower (banning is tested below).
    const f = await node(fc, 'follower', { bootstrap: seq.multiaddrs(), banScore: -10_000, maxGossipBytes: 4096 });
    await until(() => seq.status().peers.some((p) => p.connected), 30_000, 'follower to connect');
    await gossipReady(seq, f);
    for (let i = 0; i < 10; i++) await seq.publishBlock(sc.produce({ txs: 1 }));
    await until(() => fc.tip.hash === sc.tip.hash, 30_000, 'follower at 10');

    const rogue = await node(sc, 'sequencer', { bootstrap: [f.multiaddrs()[0]!], maxGossipBytes: 1 << 20 });
    await until(() => f.status().peers.some((p) => p.id === rogue.peerId && p.connected), 30_000, 'rogue to connect');
    await gossipReady(rogue, f);
    const before = { head: fc.tip.hash, root: fc.tip.header.new_root };
    const enc = (b: Block, pretty = false) => new TextEncoder().encode(JSON.stringify({ v: 1, type: 'block', number: Number(b.header.block_number), hash: '0x' + b.hash.toString(16), signature: b.signature.map((x) => '0x' + x.toString(16)), block: blockToJson(b) }, null, pretty ? 1 : 0));
    const offences: string[] = [];
    f.on('offence', (o) => offences.push(o.reason));

    const badSig = makeBlock(sc.tip, { key: ROGUE_KEY });
    const badRoot = makeBlock(sc.tip, { root: 0x1234n });
    const good = makeBlock(sc.tip, { txs: 1 });
    const tampered: Block = { ...good, transactions: [{ ...good.transactions[0]!, hash: good.transactions[0]!.hash + 1n }] };
    await rogue.publishRaw(enc(badSig));
    await rogue.publishRaw(enc(badRoot));
    await rogue.publishRaw(enc(tampered));
    await rogue.publishRaw(enc(sc.blocks[4]!, true)); // replayed old block (re-encoded: new message id)
    const huge = makeBlock(sc.tip, { txs: 1, padding: 10_000 });
    await rogue.publishRaw(enc(huge));
    await rogue.publishRaw(new TextEncoder().encode('{"v":1,"type":"block","number":11,'));
    // Rollback certificates: checked (signature, chain id) though not yet followed.
    const body = { chain_id: encodeShortString(sc.chainId), target_height: 3n, target_hash: sc.blocks[3]!.hash, orphaned_head_height: 10n, orphaned_head_hash: sc.tip.hash, reason: 'drill', incident_id: 1n };
    const s1 = sign(certificateHash(body), SEQ_KEY);
    const s2 = sign(certificateHash(body), ROGUE_KEY);
    const certs: unknown[] = [];
    f.on('rollback', (c) => certs.push(c));
    await rogue.publishRaw(encodeEnvelope({ type: 'rollback', certificate: { ...body, signature: [s1.r, s1.s] } }));
    await rogue.publishRaw(encodeEnvelope({ type: 'rollback', certificate: { ...body, signature: [s2.r, s2.s] } }));
    await until(() => offences.length >= 6 && f.stats.ignoredOld >= 1 && certs.length === 1, 30_000, `6 offences (got ${offences.join(',')}), one ignored replay, one valid certificate`);
    expect(offences.sort()).to.deep.equal(['bad_certificate', 'bad_signature', 'bad_state_root', 'bad_tx_hash', 'malformed', 'oversized']);
    expect(f.stats.rollbacksIgnored).to.equal(1);
    expect(fc.tip.hash).to.equal(before.head);
    expect(fc.tip.header.new_root).to.equal(before.root);
    expect(fc.blocks.length).to.equal(11);
    const rec = f.status().peers.find((p) => p.id === rogue.peerId)!;
    expect(rec.offences).to.equal(6);
    expect(rec.score).to.be.lessThan(0);

    // The honest chain continues and the follower follows it.
    for (let i = 0; i < 3; i++) await seq.publishBlock(sc.produce());
    await until(() => fc.tip.hash === sc.tip.hash, 30_000, 'follower to follow the honest chain');
    expect(fc.blocks.map((b) => b.hash)).to.deep.equal(sc.blocks.map((b) => b.hash));
  });

  it('a sequencer-signed block on another branch is ignored without penalty (the stand-in chain cannot roll back; test/integration/p2p-rollback.test.ts follows real rollbacks)', async () => {
    const sc = new FakeChain();
    const seq = await node(sc, 'sequencer');
    const fc = new FakeChain();
    const f = await node(fc, 'follower', { bootstrap: seq.multiaddrs() });
    await until(() => seq.status().peers.some((p) => p.connected), 30_000, 'connect');
    await gossipReady(seq, f);
    for (let i = 0; i < 5; i++) await seq.publishBlock(sc.produce());
    await until(() => fc.tip.hash === sc.tip.hash, 30_000, 'follower at 5');
    // The sequencer "rolls back" to 3 and builds a longer branch: 4', 5', 6'.
    const branch = copyChain(sc, 3);
    const conflicts: unknown[] = [];
    f.on('conflict', (c) => conflicts.push(c));
    for (let i = 0; i < 3; i++) await seq.publishBlock(branch.produce({ txs: 1 }));
    await until(() => f.stats.conflicting >= 3, 30_000, 'three conflicting blocks');
    expect(fc.blocks.length).to.equal(6);
    expect(fc.tip.hash).to.equal(sc.tip.hash);
    expect(f.stats.rejected).to.deep.equal({});
    expect(f.status().peers.find((p) => p.id === seq.peerId)!.offences).to.equal(0);
    expect(seq.status().head.number).to.equal(6);
  });

  it('disconnects and bans a peer after repeated offences', async () => {
    const sc = new FakeChain();
    const fc = new FakeChain();
    const f = await node(fc, 'follower');
    const rogue = await node(sc, 'sequencer', { bootstrap: [f.multiaddrs()[0]!] });
    await until(() => f.status().peers.some((p) => p.id === rogue.peerId && p.connected), 30_000, 'rogue to connect');
    await gossipReady(rogue, f);
    let banned = false;
    f.on('offence', (o) => (banned ||= o.banned));
    for (let i = 0; i < 3; i++) await rogue.publishRaw(encodeEnvelope({ type: 'block', number: 1n, hash: BigInt(i + 1), signature: [1n, 2n] }));
    await until(() => banned, 30_000, 'the ban');
    await until(() => !f.status().peers.find((p) => p.id === rogue.peerId)!.connected, 30_000, 'the disconnect');
    const rec = f.status().peers.find((p) => p.id === rogue.peerId)!;
    expect(rec.banned).to.equal(true);
    expect(rec.offences).to.equal(3);
    // It cannot come back: the gater refuses it. The rogue keeps re-dialling its bootstrap; one
    // such dial, awaited, instead of waiting for its timer.
    const redial = await rogue.host.dial(multiaddr(f.multiaddrs()[0]!), { signal: AbortSignal.timeout(30_000) }).then(
      (c) => c.status,
      (e: Error) => `refused: ${e.message}`,
    );
    expect(f.host.getConnections().some((c) => c.remotePeer.toString() === rogue.peerId && c.status === 'open'), `re-dial: ${redial}`).to.equal(false);
    expect(f.status().peers.find((p) => p.id === rogue.peerId)!.connected).to.equal(false);
    expect(fc.blocks.length).to.equal(1);
  });

  it('rejects forged blocks_by_range answers and syncs from an honest peer instead', async () => {
    const sc = new FakeChain();
    for (let i = 0; i < 30; i++) sc.produce({ txs: 1 });
    const seq = await node(sc, 'sequencer');
    // A hostile peer claiming a higher head (validly signed: it holds the key, as a buggy
    // sequencer replica would) and answering every range request with a different forgery.
    const forged = copyChain(sc, 30);
    for (let i = 0; i < 20; i++) forged.blocks.push(makeBlock(forged.tip, { root: 0x77n }));
    const names = wireNames(sc.chainId);
    const rogue: Host = await createHost({ host: '127.0.0.1', port: 0, maxGossipBytes: 1 << 20, topics: [names.blocksTopic], isBanned: () => false });
    running.push({ stop: async () => rogue.stop() });
    rogue.services.pubsub.subscribe(names.blocksTopic);
    const tip = forged.tip;
    await rogue.handle(names.status, async (stream) => {
      await new FrameReader(stream).next(1024);
      stream.send(jsonFrame({ ok: true, role: 'sequencer', header: blockToJson(tip).header, hash: '0x' + tip.hash.toString(16), signature: tip.signature.map((x) => '0x' + x.toString(16)) }));
      await stream.close();
    });
    let served = 0;
    await rogue.handle(names.blocksByRange, async (stream) => {
      const req = (await new FrameReader(stream).nextJson(1024)) as { from: number; count: number };
      const kind = served++ % 3;
      const blocks = forged.blocks.slice(req.from, req.from + req.count);
      if (kind === 0) {
        // valid-looking blocks but block from+1 carries a wrong state root
        const bad = [sc.blocks[req.from]!, makeBlock(sc.blocks[req.from]!, { root: 0x55n })];
        stream.send(jsonFrame({ ok: true, count: 2 }));
        for (const b of bad) stream.send(jsonFrame(blockToJson(b)));
      } else if (kind === 1) {
        // out of order
        stream.send(jsonFrame({ ok: true, count: 2 }));
        stream.send(jsonFrame(blockToJson(blocks[1]!)));
        stream.send(jsonFrame(blockToJson(blocks[0]!)));
      } else {
        // a frame larger than the follower's limit
        stream.send(jsonFrame({ ok: true, count: 1 }));
        stream.send(frame(new Uint8Array(300_000)));
      }
      await stream.close();
    });
    const fc = new FakeChain();
    const offences: string[] = [];
    const f = await node(fc, 'follower', { bootstrap: [...rogue.getMultiaddrs().map(String), ...seq.multiaddrs()], maxFrameBytes: 200_000 });
    f.on('offence', (o) => offences.push(o.reason));
    await until(() => fc.tip.hash === sc.tip.hash, 60_000, 'the follower to sync from the honest sequencer');
    expect(fc.blocks.map((b) => b.hash)).to.deep.equal(sc.blocks.map((b) => b.hash));
    expect(served).to.be.greaterThan(0);
    expect(offences.length).to.be.greaterThan(0);
    for (const o of offences) expect(['bad_state_root', 'bad_range', 'oversized']).to.include(o);
    // Nothing from the forged branch was ever applied.
    for (const b of fc.blocks) expect(b.header.new_root).to.not.equal(0x77n);
  });

  it('a stopped follower restarted with the same identity catches up', async () => {
    const sc = new FakeChain();
    const seq = await node(sc, 'sequencer');
    const key = await generateKeyPair('Ed25519');
    const fc = new FakeChain();
    let f = await node(fc, 'follower', { bootstrap: seq.multiaddrs(), privateKey: key });
    const id = f.peerId;
    await until(() => seq.status().peers.some((p) => p.connected), 30_000, 'connect');
    await gossipReady(seq, f);
    for (let i = 0; i < 10; i++) await seq.publishBlock(sc.produce());
    await until(() => fc.tip.hash === sc.tip.hash, 30_000, 'follower at 10');
    await f.stop();
    for (let i = 0; i < 40; i++) await seq.publishBlock(sc.produce({ txs: 1 }));
    expect(fc.blocks.length).to.equal(11);
    f = await node(fc, 'follower', { bootstrap: seq.multiaddrs(), privateKey: key });
    expect(f.peerId).to.equal(id);
    await until(() => fc.tip.hash === sc.tip.hash, 60_000, 'restarted follower to catch up');
    expect(fc.blocks.map((b) => b.hash)).to.deep.equal(sc.blocks.map((b) => b.hash));
  });

  it('stop returns while peers keep sending, and nothing is imported after it', async () => {
    const sc = new FakeChain();
    const seq = await node(sc, 'sequencer');
    const fc = new FakeChain();
    const f = await node(fc, 'follower', { bootstrap: seq.multiaddrs(), stopTimeoutMs: 1000 });
    await until(() => seq.status().peers.some((p) => p.connected), 30_000, 'connect');
    await gossipReady(seq, f);
    // Count imports that start after stop returned, and those running when it did.
    let stopped = false;
    let running = 0;
    let lateImports = 0;
    const importBlock = fc.importBlock.bind(fc);
    fc.importBlock = async (b: Block) => {
      if (stopped) lateImports++;
      running++;
      try {
        return await importBlock(b);
      } finally {
        running--;
      }
    };
    const pump = (async () => {
      for (let i = 0; i < 200; i++) await seq.publishBlock(sc.produce({ txs: 1 }));
    })();
    await until(() => fc.blocks.length > 1, 30_000, 'blocks to arrive'); // stop while they do
    await f.stop(); // resolves (within stopTimeoutMs) although blocks keep arriving
    stopped = true;
    const n = fc.blocks.length;
    const inFlight = running; // 0 unless stop gave up waiting for an import (stopTimeoutMs)
    await pump;
    await until(() => f.host.status === 'stopped' && running === 0, 30_000, 'libp2p to stop');
    expect(lateImports).to.equal(0); // nothing imported after stop
    expect(fc.blocks.length).to.be.within(n, n + inFlight);
  });
});

describe('p2p forwarding of trading calls', () => {
  let upstream: Server | undefined;
  let local: Server | undefined;
  afterEach(async () => {
    if (local) await closeServer(local);
    if (upstream) await closeServer(upstream);
    local = upstream = undefined;
  });

  const post = async (url: string, body: unknown) => (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<any>;
  const readMethods = { starknet_chainId: { params: [], handler: () => '0x1' } };

  it('refuses with 11008 naming the sequencer when forwarding is off; reads still work', async () => {
    const d = new ForwardingDispatcher<CallContext>(readMethods, { maxBatch: 10 }, { methods: TRADING_METHODS, sequencer: 'sequencer 0x5e9 at /ip4/10.0.0.1/tcp/5051/p2p/12D3KooSeq' });
    local = await startHttp(d, { host: '127.0.0.1', port: 0, paths: ['/'], maxBodyBytes: 1 << 16, requestTimeoutMs: 5000, ratePerSec: 1000, burst: 1000 });
    const url = `http://127.0.0.1:${(local.address() as any).port}/`;
    const r = await post(url, { jsonrpc: '2.0', id: 'a', method: 'perp_submitOrder', params: { order: {}, signature: [] } });
    expect(r.id).to.equal('a');
    expect(r.error.code).to.equal(11008);
    expect(r.error.data).to.contain('sequencer 0x5e9 at /ip4/10.0.0.1/tcp/5051/p2p/12D3KooSeq');
    expect(r.error.data).to.contain('--sequencer-rpc');
    expect((await post(url, { jsonrpc: '2.0', id: 2, method: 'starknet_chainId' })).result).to.equal('0x1');
    expect((await post(url, { jsonrpc: '2.0', id: 3, method: 'perp_nope' })).error.code).to.equal(-32601);
  });

  it('forwards listed methods to the sequencer and relays its result or error with the caller id', async () => {
    const seen: any[] = [];
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const j = JSON.parse(body);
        seen.push(j);
        const out = j.method === 'perp_cancelAll' ? { jsonrpc: '2.0', id: j.id, error: { code: 55, message: 'Account validation failed', data: 'bad sig' } } : { jsonrpc: '2.0', id: j.id, result: { echoed: j.params } };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      });
    });
    await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', r));
    const seqUrl = `http://127.0.0.1:${(upstream.address() as any).port}/`;
    const d = new ForwardingDispatcher<CallContext>(readMethods, { maxBatch: 10 }, { methods: TRADING_METHODS, sequencer: 'the sequencer', sequencerRpc: seqUrl });
    local = await startHttp(d, { host: '127.0.0.1', port: 0, paths: ['/'], maxBodyBytes: 1 << 16, requestTimeoutMs: 5000, ratePerSec: 1000, burst: 1000 });
    const url = `http://127.0.0.1:${(local.address() as any).port}/`;
    const r = await post(url, { jsonrpc: '2.0', id: 7, method: 'perp_submitOrder', params: { order: { a: 1 }, signature: ['0x1'] } });
    expect(r).to.deep.equal({ jsonrpc: '2.0', id: 7, result: { echoed: { order: { a: 1 }, signature: ['0x1'] } } });
    const e = await post(url, [{ jsonrpc: '2.0', id: 'x', method: 'perp_cancelAll', params: [] }, { jsonrpc: '2.0', id: 'y', method: 'starknet_chainId' }]);
    expect(e).to.deep.equal([
      { jsonrpc: '2.0', id: 'x', error: { code: 55, message: 'Account validation failed', data: 'bad sig' } },
      { jsonrpc: '2.0', id: 'y', result: '0x1' },
    ]);
    expect(seen.map((s) => s.method)).to.deep.equal(['perp_submitOrder', 'perp_cancelAll']);
    await closeServer(upstream);
    upstream = undefined;
    const down = await post(url, { jsonrpc: '2.0', id: 8, method: 'perp_withdraw', params: {} });
    expect(down.error.code).to.equal(11008);
    expect(down.error.data).to.contain(seqUrl);
  });
});

