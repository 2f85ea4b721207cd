/**
 * Followers on the real chain, in process, on 127.0.0.1: a sequencer with trades and two
 * followers through 200+ blocks, a follower stopped and restarted, a late follower syncing from
 * genesis, a hostile peer whose forged blocks (bad signature, wrong state root, tampered
 * transaction, replayed old block, oversized message) are rejected by re-execution with the
 * follower's head and root untouched, the follower's read RPC and trading-call forwarding, and
 * at the end every node at the same head hash and state root.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFollower, startSequencer, type RunningFollower, type RunningNode } from '../../node/node.ts';
import { P2PService, blockMessage, type P2PChain } from '../../node/p2p/index.ts';
import { chainForP2P } from '../../node/p2p/chain.ts';
import { blockToJson, commitments, type Block } from '../../node/chain/block.ts';
import { blockHash } from '../../node/chain/header.ts';
import { getStarkKey, sign, toHex } from '../../node/crypto/index.ts';
import { orderHash, parseTx, txHash, txSignature, txToJson, type Order, type SignedOrder } from '../../contracts-ts/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { gossipReady, testLog, until } from './p2p.fixtures.ts';

const ROOT = join(import.meta.dirname, '../..');
const FAST_P2P = { host: '127.0.0.1', port: 0, statusIntervalMs: 300, reconnectIntervalMs: 300, requestTimeoutMs: 5000, stopTimeoutMs: 3000 };

async function rpc(url: string, method: string, params?: unknown): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params === undefined ? {} : { params }) }) });
  return res.json();
}

describe('followers on the real chain (in process)', function () {
  // Ceilings for a loaded machine (every node in this one process), not expectations: each
  // wait below is for a condition.
  this.timeout(900_000);
  const tmp = tempDir('perpnode-p2p-');
  let genesisPath = '';
  let g: any;
  let seq: RunningNode;
  const followers = new Map<string, RunningFollower>();
  const extra: { stop(): Promise<unknown> }[] = [];
  let trading = true;
  let tradeLoop: Promise<void> = Promise.resolve();
  let fills = 0;

  async function follower(name: string, opts: { sequencerRpc?: string; p2p?: Record<string, unknown>; bootstrap?: string[] } = {}): Promise<RunningFollower> {
    const f = await startFollower({
      dataDir: join(tmp.path, name),
      genesisPath,
      rpcHost: '127.0.0.1',
      rpcPort: 0,
      adminPort: null,
      log: testLog(name),
      sequencerRpc: opts.sequencerRpc,
      p2p: { ...FAST_P2P, bootstrap: opts.bootstrap ?? seq.p2p!.multiaddrs(), ...opts.p2p },
    });
    followers.set(name, f);
    return f;
  }

  const seqHead = async () => (await seq.chain.chain.head())!;
  const headOf = async (f: RunningFollower) => (await f.chain.chain.head())!;

  let salt = 1n;
  function order(acct: { priv: bigint; address: bigint }, side: 'BUY' | 'SELL', tif: 'GTC' | 'IOC'): SignedOrder {
    const o: Order = { account: acct.address, market: 'BTC-USD-PERP', side, orderType: 'LIMIT', timeInForce: tif, size: 100_000n, price: 65_000n * 10n ** 8n, triggerPrice: 0n, reduceOnly: false, expiry: BigInt(Math.floor(Date.now() / 1000)) + 3600n, salt: salt++ };
    const hash = orderHash(o, seq.chain.genesis.chainId);
    const s = sign(hash, acct.priv);
    return { order: o, hash, signature: [s.r, s.s] };
  }

  before(async () => {
    g = JSON.parse(readFileSync(join(ROOT, 'genesis/devnet.json'), 'utf8'));
    // Short blocks, but not so short that three nodes replaying JS STARK signatures in one
    // process fall behind.
    g.heartbeat_ms = 200;
    g.block_time_ms = 200;
    genesisPath = join(tmp.path, 'genesis.json');
    writeFileSync(genesisPath, JSON.stringify(g));
    seq = await startSequencer({ dataDir: join(tmp.path, 'seq'), genesisPath, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log: testLog('seq'), p2p: FAST_P2P, p2pRequired: true });
    const accts = g.exchange.dev_accounts.slice(0, 4).map((a: any) => ({ priv: BigInt(a.private_key), address: BigInt(a.address) }));
    // Two pairs trade back and forth (positions stay small): most blocks carry TRADE transactions.
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

  it('two followers follow the sequencer through 40+ blocks with trades, verified by re-execution', async () => {
    const f1 = await follower('f1', { sequencerRpc: seq.rpcUrl });
    const f2 = await follower('f2');
    await until(async () => (await seqHead()).number >= 40n, 180_000, 'the sequencer to reach block 40');
    const target = (await seqHead()).number;
    await until(async () => (await headOf(f1)).number >= target && (await headOf(f2)).number >= target, 120_000, `followers to reach ${target}`);
    let withTrades = 0;
    for (let n = 0n; n <= target; n++) {
      const s = await seq.chain.chain.block(n);
      const a = await f1.chain.chain.block(n);
      const b = await f2.chain.chain.block(n);
      expect(a!.hash, `f1 block ${n}`).to.equal(s!.hash);
      expect(b!.hash, `f2 block ${n}`).to.equal(s!.hash);
      expect(a!.signature).to.deep.equal(s!.signature);
      if (s!.transactions.some((t) => (t.body as any).type === 'TRADE')) withTrades++;
    }
    expect(fills).to.be.greaterThan(10);
    expect(withTrades).to.be.greaterThan(8);
    const st = f1.p2p.status();
    expect(st.role).to.equal('follower');
    expect(st.stats.imported).to.be.greaterThanOrEqual(Number(target));
    expect(st.stats.rejected).to.deep.equal({});
    expect(st.peers.some((p) => p.connected && p.role === 'sequencer')).to.equal(true);

    // The read RPC on a follower answers as the sequencer does.
    const n = Number(target) - 5;
    const fromSeq = await rpc(seq.rpcUrl, 'starknet_getBlockWithTxHashes', { block_id: { block_number: n } });
    const fromF1 = await rpc(f1.rpcUrl, 'starknet_getBlockWithTxHashes', { block_id: { block_number: n } });
    expect(fromF1.result).to.deep.equal(fromSeq.result);
    expect((await rpc(f2.rpcUrl, 'starknet_chainId')).result).to.equal((await rpc(seq.rpcUrl, 'starknet_chainId')).result);

    // Trading calls: refused on f2 (no --sequencer-rpc) naming the sequencer; forwarded by f1
    // (whatever the sequencer answers comes back, here for a malformed order).
    const refused = await rpc(f2.rpcUrl, 'perp_submitOrder', { order: {}, signature: ['0x1', '0x2'] });
    expect(refused.error.code).to.equal(11008);
    expect(refused.error.data).to.contain(toHex(seq.chain.genesis.sequencer.address));
    const direct = await rpc(seq.rpcUrl, 'perp_submitOrder', { order: {}, signature: ['0x1', '0x2'] });
    const forwarded = await rpc(f1.rpcUrl, 'perp_submitOrder', { order: {}, signature: ['0x1', '0x2'] });
    expect(forwarded).to.deep.equal(direct);
    // From here on heartbeat blocks only: one process replays for five nodes with JS crypto.
    trading = false;
    await tradeLoop;
  });

  it('a follower stopped and restarted on its data directory catches up (same peer id)', async () => {
    const f1 = followers.get('f1')!;
    const id = f1.p2p.peerId;
    await f1.stop();
    followers.delete('f1');
    const stoppedAt = (await seqHead()).number;
    await until(async () => (await seqHead()).number >= stoppedAt + 10n, 120_000, 'the sequencer to move on 10 blocks');
    const again = await follower('f1', { sequencerRpc: seq.rpcUrl });
    expect(again.p2p.peerId).to.equal(id);
    expect(Number((await headOf(again)).number)).to.be.lessThan(Number((await seqHead()).number));
    const target = (await seqHead()).number;
    await until(async () => (await headOf(again)).number >= target, 120_000, `restarted follower to reach ${target}`);
    expect((await again.chain.chain.header(target))!.hash).to.equal((await seq.chain.chain.header(target))!.hash);
    expect(again.p2p.status().stats.importedFromSync).to.be.greaterThan(0);
  });

  it('a follower started late syncs from genesis in bounded ranges, from a follower', async () => {
    // enough history that syncing it takes several bounded ranges
    await until(async () => (await seqHead()).number > 50n, 180_000, 'the sequencer to pass block 50');
    const target = (await seqHead()).number;
    const late = await follower('late', { bootstrap: followers.get('f2')!.p2p.multiaddrs(), p2p: { maxRangeCount: 16 } });
    await until(async () => (await headOf(late)).number >= target, 180_000, `late follower to reach ${target}`);
    const st = late.p2p.status();
    expect(st.stats.rangeRequestsMade).to.be.greaterThanOrEqual(Math.ceil(Number(target) / 16));
    expect(st.stats.importedFromSync).to.be.greaterThan(40);
    expect((await late.chain.chain.header(target))!.hash).to.equal((await seq.chain.chain.header(target))!.hash);
  });

  it('rejects forged blocks from a hostile peer by re-execution; head and state root unchanged', async () => {
    // The hostile peer serves the honest chain up to `cap`, then publishes forgeries of block
    // cap+1 (built from the sequencer's real one, which has a TRADE). The victim follower only
    // knows this peer. The devnet genesis holds the sequencer key, so the hostile peer can sign
    // with it: that is a buggy or compromised sequencer, and re-execution is what catches it.
    let cap = (await seqHead()).number - 2n;
    for (; cap > 0n; cap--) {
      const b = await seq.chain.chain.block(cap + 1n);
      if (b!.transactions.some((t) => (t.body as any).type === 'TRADE')) break;
    }
    expect(Number(cap)).to.be.greaterThan(10);
    const honest = chainForP2P(seq.chain);
    let limit = cap;
    const capped: P2PChain = {
      ...honest,
      importBlock: undefined,
      head: async () => {
        const h = await honest.head();
        return h.number <= limit ? h : { number: limit, hash: (await honest.signedHeader(limit))!.hash };
      },
      block: async (n) => (n <= limit ? honest.block(n) : undefined),
    };
    const rogue = await P2PService.start(capped, { ...FAST_P2P, role: 'sequencer', maxGossipBytes: 8 << 20 }, testLog('rogue'));
    extra.push(rogue);
    const victim = await follower('victim', { bootstrap: rogue.multiaddrs(), p2p: { banScore: -10_000, maxGossipBytes: 64 << 10, maxRangeCount: 16 } });
    await until(async () => (await headOf(victim)).number === cap, 180_000, `victim to sync to ${cap} from the hostile peer`);
    await gossipReady(rogue, victim.p2p);
    const before = { head: await headOf(victim), root: victim.chain.world.root };
    const offences: string[] = [];
    victim.p2p.on('offence', (o) => offences.push(o.reason));

    const real = (await seq.chain.chain.block(cap + 1n))!;
    const key = seq.chain.genesis.sequencer.privateKey!;
    const reseal = (b: Block, signingKey = key): Block => {
      const hash = blockHash(b.header);
      const s = sign(hash, signingKey);
      return { ...b, hash, signature: [s.r, s.s] };
    };
    const publish = (b: Block) => rogue.publishRaw(blockMessage(b, 8 << 20).bytes);

    // 1. bad signature: the real block signed by another key
    await publish(reseal(real, 0xbadn));
    // 2. wrong state root, correctly hashed and signed with the sequencer key
    await publish(reseal({ ...real, header: { ...real.header, new_root: real.header.new_root ^ 1n } }));
    // 3. tampered transaction: a TRADE filling twice its signed size; hashes, commitments, block
    //    hash and sequencer signature all recomputed so only re-execution can tell
    const i = real.transactions.findIndex((t) => (t.body as any).type === 'TRADE');
    const tx = parseTx(real.transactions[i]!.body) as any;
    const forgedTx = { ...tx, size: tx.size * 2n };
    const txs = real.transactions.map((t, j) => (j === i ? { hash: txHash(forgedTx, seq.chain.genesis.chainId), signature: txSignature(forgedTx), body: txToJson(forgedTx) } : t));
    const receipts = real.receipts.map((r, j) => (j === i ? { ...r, transaction_hash: txs[i]!.hash } : r));
    const c = commitments(txs, receipts);
    await publish(reseal({ ...real, transactions: txs, receipts, header: { ...real.header, transaction_commitment: c.transaction_commitment, receipt_commitment: c.receipt_commitment, event_commitment: c.event_commitment } }));
    // 4. a replayed old block (re-encoded, so gossipsub sees a new message)
    const old = (await seq.chain.chain.block(cap - 3n))!;
    await rogue.publishRaw(new TextEncoder().encode(JSON.stringify({ v: 1, type: 'block', number: Number(old.header.block_number), hash: toHex(old.hash), signature: old.signature.map(toHex), block: blockToJson(old) }, null, 1)));
    // 5. oversized: the real block padded past the victim's 64 KiB gossip limit
    const padded = { ...real, transactions: real.transactions.map((t, j) => (j === 0 ? { ...t, body: { ...(t.body as object), pad: 'x'.repeat(70_000) } } : t)) };
    await publish(padded);

    await until(() => offences.length >= 4 && victim.p2p.stats.ignoredOld >= 1, 90_000, `4 offences (got ${offences.join(', ')}) and an ignored replay`);
    expect(offences.slice().sort()).to.deep.equal(['bad_signature', 'bad_state_root', 'oversized', 'tx_failed'].sort());
    const after = await headOf(victim);
    expect(after.number).to.equal(before.head.number);
    expect(after.hash).to.equal(before.head.hash);
    expect(victim.chain.world.root).to.equal(before.root);
    expect(victim.chain.world.root).to.equal((await victim.chain.chain.header(after.number))!.header.new_root);
    const rec = victim.p2p.status().peers.find((p) => p.id === rogue.peerId)!;
    expect(rec.offences).to.equal(4);

    // The honest block cap+1 is still accepted afterwards: nothing was poisoned.
    limit = 1n << 60n;
    const now = (await seqHead()).number;
    await until(async () => (await headOf(victim)).number >= now, 120_000, 'victim to follow the honest chain again');
    expect((await victim.chain.chain.header(cap + 1n))!.hash).to.equal(real.hash);
  });

  it('at the end every node has the same head hash and state root', async () => {
    // Heartbeats continue; stop production so the head stays put.
    await seq.producer.stop();
    const head = await seqHead();
    for (const [name, f] of followers) await until(async () => (await headOf(f)).number >= head.number, 120_000, `${name} to reach ${head.number}`);
    for (const [name, f] of followers) {
      const h = await headOf(f);
      expect(h.hash, `${name} head`).to.equal(head.hash);
      expect(f.chain.world.root, `${name} root`).to.equal(seq.chain.world.root);
    }
    expect(followers.size).to.equal(4);
    expect(getStarkKey(seq.chain.genesis.sequencer.privateKey!)).to.equal(seq.chain.genesis.sequencer.publicKey);
  });
});
