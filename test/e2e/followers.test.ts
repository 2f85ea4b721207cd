/**
 * Followers as separate processes through the CLI, on 127.0.0.1: a sequencer and two followers
 * (`perpnode start --role follower --bootstrap <multiaddr>`) through 200+ blocks with trades —
 * half of them sent to a follower and forwarded to the sequencer — a follower killed with
 * SIGKILL and restarted, a late follower syncing from genesis off another follower, and at the
 * end every node at the same head hash and state root.
 *
 * The genesis has a long heartbeat and the oracle feeder is off, so blocks come only from
 * trades: once trading stops the chain stands still and the final comparison is exact.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerpClient, createSigner, type Signer } from '../../node/client/index.ts';
import { ROOT, rpc, startNodeProc, waitFor, type NodeProc } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

const ADDR_RE = /p2p (?:sequencer|follower) listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/(\w+))/;

function p2pAddr(p: NodeProc): { addr: string; peerId: string } {
  const m = ADDR_RE.exec(p.output());
  if (!m) throw new Error(`no p2p multiaddr in the log:\n${p.output()}`);
  return { addr: m[1]!, peerId: m[2]! };
}

async function head(url: string): Promise<{ block_number: number; block_hash: string; new_root: string }> {
  const b = await rpc(url, 'starknet_getBlockWithTxHashes', { block_id: 'latest' });
  return { block_number: b.block_number, block_hash: b.block_hash, new_root: b.new_root };
}

describe('followers (e2e, separate processes through the CLI)', function () {
  // A ceiling for a loaded machine, not an expectation: every wait below is for a condition.
  this.timeout(900_000);
  const tmp = tempDir('perpnode-followers-');
  const procs: NodeProc[] = [];
  let trading = false;
  const loops: Promise<void>[] = [];

  after(async () => {
    trading = false;
    await Promise.allSettled(loops);
    await Promise.allSettled(procs.map((p) => p.stop('SIGTERM', 10_000)));
    tmp.cleanup();
  });

  async function start(args: string[]): Promise<NodeProc> {
    const p = await startNodeProc(['--genesis', join(tmp.path, 'genesis.json'), '--p2p-port', '0', ...args], { readyTimeoutMs: 60_000 });
    procs.push(p);
    return p;
  }

  it('one sequencer and followers agree through 200+ blocks with trades, restarts and a late start', async () => {
    const g = JSON.parse(readFileSync(join(ROOT, 'genesis/devnet.json'), 'utf8'));
    g.block_time_ms = 30;
    g.heartbeat_ms = 600_000;
    writeFileSync(join(tmp.path, 'genesis.json'), JSON.stringify(g));
    const seq = await start(['--data-dir', join(tmp.path, 'seq'), '--feeder', 'off']);
    const seqP2p = p2pAddr(seq);
    const fa = await start(['--role', 'follower', '--data-dir', join(tmp.path, 'a'), '--bootstrap', seqP2p.addr, '--sequencer-rpc', seq.url]);
    const fbArgs = ['--role', 'follower', '--data-dir', join(tmp.path, 'b'), '--bootstrap', seqP2p.addr];
    let fb = await start(fbArgs);
    const fbPeer = p2pAddr(fb).peerId;

    // A follower without --sequencer-rpc refuses trading calls, naming the sequencer.
    const refused = await fetch(fb.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'perp_cancelAll', params: { cancel_all: {}, signature: ['0x1', '0x2'] } }) }).then((r) => r.json() as Promise<any>);
    expect(refused.error.code).to.equal(11008);
    expect(refused.error.data).to.contain(g.sequencer.address);
    expect(refused.error.data).to.contain(seqP2p.addr);

    // Two trading loops: one through follower A (forwarded), one straight to the sequencer.
    const signers: Signer[] = g.exchange.dev_accounts.slice(0, 4).map((a: any) => createSigner(a.private_key));
    let fills = 0;
    let forwardedFills = 0;
    const loop = (url: string, pair: [Signer, Signer], forwarded: boolean) =>
      (async () => {
        const client = new PerpClient(url);
        for (let i = 0; trading; i++) {
          const [maker, taker] = i % 2 ? pair : [pair[1], pair[0]];
          const before: number = await rpc(url, 'starknet_blockNumber');
          await client.submitOrder(maker, { market: 'BTC-USD-PERP', side: 'SELL', size: '0.001', price: '65000' });
          const r = await client.submitOrder(taker, { market: 'BTC-USD-PERP', side: 'BUY', size: '0.001', price: '65000', timeInForce: 'IOC' });
          fills += r.fills.length;
          if (forwarded) forwardedFills += r.fills.length;
          // Paced by the chain, not a clock: the next trade once this one's block is sealed (and,
          // through follower A, imported there).
          await waitFor(async () => !trading || (await rpc(url, 'starknet_blockNumber')) > before, 60_000);
        }
      })();
    trading = true;
    loops.push(loop(fa.url, [signers[0]!, signers[1]!], true), loop(seq.url, [signers[2]!, signers[3]!], false));

    // Follower B is killed (SIGKILL) mid-run and restarted on its data directory.
    await waitFor(async () => (await rpc(fb.url, 'starknet_blockNumber')) >= 60, 90_000);
    await fb.kill9();
    const killedAt = await rpc(seq.url, 'starknet_blockNumber');
    await waitFor(async () => (await rpc(seq.url, 'starknet_blockNumber')) >= killedAt + 40, 90_000);
    fb = await start(fbArgs);
    expect(p2pAddr(fb).peerId, 'the peer id survives a restart').to.equal(fbPeer);

    // A late follower syncs from genesis off follower A only.
    await waitFor(async () => (await rpc(seq.url, 'starknet_blockNumber')) >= 150, 90_000);
    const fc = await start(['--role', 'follower', '--data-dir', join(tmp.path, 'c'), '--bootstrap', p2pAddr(fa).addr]);

    await waitFor(async () => (await rpc(seq.url, 'starknet_blockNumber')) >= 215, 120_000);
    trading = false;
    await Promise.all(loops.splice(0));
    expect(fills).to.be.greaterThan(150);
    expect(forwardedFills).to.be.greaterThan(20);

    // The chain stands still now (no heartbeat for 10 minutes): wait for the open block to seal
    // and every follower to reach the sequencer's head, then compare.
    await waitFor(async () => (await rpc(seq.url, 'starknet_getBlockWithTxHashes', { block_id: 'pre_confirmed' })).transactions.length === 0, 60_000);
    const final = await head(seq.url);
    expect(final.block_number).to.be.greaterThanOrEqual(215);
    for (const [name, p] of [['A', fa], ['B', fb], ['C', fc]] as const) {
      await waitFor(async () => (await rpc(p.url, 'starknet_blockNumber')) >= final.block_number, 60_000).catch(() => {
        throw new Error(`follower ${name} did not reach block ${final.block_number}:\n${p.output().slice(-3000)}`);
      });
      expect(await head(p.url), `follower ${name}`).to.deep.equal(final);
    }
    // Some earlier blocks with trades agree too (receipts included).
    for (const n of [1, 77, 150, final.block_number - 1]) {
      const want = await rpc(seq.url, 'starknet_getBlockWithReceipts', { block_id: { block_number: n } });
      for (const p of [fa, fb, fc]) expect(await rpc(p.url, 'starknet_getBlockWithReceipts', { block_id: { block_number: n } })).to.deep.equal(want);
    }
    // admin_peers on a follower: connected to the sequencer, head equal, no lag, no offences.
    const token = readFileSync(join(tmp.path, 'a', 'admin.token'), 'utf8').trim();
    const adminUrl = /admin on (http:\/\/[0-9.]+:\d+)/.exec(fa.output())![1]!;
    const peers = await fetch(adminUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'admin_peers' }) }).then((r) => r.json() as Promise<any>);
    expect(peers.result.role).to.equal('follower');
    expect(peers.result.head.number).to.equal(final.block_number);
    expect(peers.result.lag).to.equal(0);
    expect(peers.result.peers.some((p: any) => p.id === seqP2p.peerId && p.connected && p.role === 'sequencer')).to.equal(true);
    expect(peers.result.stats.rejected).to.deep.equal({});

    // Graceful stop: every process exits 0 on SIGTERM.
    for (const p of [fc, fb, fa, seq]) expect(await p.stop('SIGTERM', 15_000)).to.equal(0);
  });
});
