import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { blockHash } from '../../node/chain/header.ts';
import { headerFromJson } from '../../node/chain/block.ts';
import { verify } from '../../node/crypto/index.ts';
import { ROOT, rpc, runCli, startNodeProc, waitFor, sleep, type NodeProc } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

const GENESIS = join(ROOT, 'genesis/devnet.json');

/** A devnet genesis with a short heartbeat so empty blocks come quickly. */
function fastGenesis(dir: string, heartbeatMs = 100): string {
  const g = JSON.parse(readFileSync(GENESIS, 'utf8'));
  g.heartbeat_ms = heartbeatMs;
  g.block_time_ms = 50;
  const p = join(dir, 'genesis.json');
  writeFileSync(p, JSON.stringify(g));
  return p;
}

describe('sequencer process (e2e)', function () {
  this.timeout(180_000);
  let tmp: ReturnType<typeof tempDir>;
  let node: NodeProc | undefined;
  beforeEach(() => (tmp = tempDir()));
  afterEach(async () => {
    await node?.stop();
    node = undefined;
    tmp.cleanup();
  });

  it('serves blocks whose hash recomputes from the served header fields, signed by the genesis key', async () => {
    const genesis = fastGenesis(tmp.path);
    node = await startNodeProc(['--data-dir', join(tmp.path, 'data'), '--genesis', genesis]);
    expect(await rpc(node.url, 'starknet_specVersion')).to.equal('0.10.2');
    expect(await rpc(node.url, 'starknet_chainId')).to.equal('0x' + Buffer.from('PERPNODE_DEVNET').toString('hex'));
    await waitFor(async () => (await rpc(node!.url, 'starknet_blockNumber')) >= 3);
    const g = JSON.parse(readFileSync(genesis, 'utf8'));
    for (const n of [0, 1, 2, 3]) {
      const b = await rpc(node.url, 'starknet_getBlockWithTxHashes', { block_id: { block_number: n } });
      expect(b.block_number).to.equal(n);
      const header = headerFromJson(b);
      expect('0x' + blockHash(header).toString(16)).to.equal(b.block_hash);
      const byHash = await rpc(node.url, 'starknet_getBlockWithTxHashes', [{ block_hash: b.block_hash }]);
      expect(byHash).to.deep.equal(b);
      const sig = await rpc(node.url, 'perp_sequencerSignature', { block_id: { block_number: n } });
      expect(verify(BigInt(b.block_hash), BigInt(g.sequencer.public_key), [BigInt(sig.signature[0]), BigInt(sig.signature[1])])).to.equal(true);
      if (n > 0) {
        const parent = await rpc(node.url, 'starknet_getBlockWithTxHashes', { block_id: { block_number: n - 1 } });
        expect(b.parent_hash).to.equal(parent.block_hash);
      }
    }
    const latest = await rpc(node.url, 'starknet_blockHashAndNumber');
    expect(latest.block_number).to.be.greaterThan(2);
    let err: any;
    try {
      await rpc(node.url, 'starknet_getBlockWithTxHashes', { block_id: { block_number: 1_000_000 } });
    } catch (e) {
      err = e;
    }
    expect(err.rpc.code).to.equal(24);
  });

  it('same genesis gives the same block 0 hash in two data directories', async () => {
    const genesis = fastGenesis(tmp.path);
    const hashes: string[] = [];
    for (const d of ['a', 'b']) {
      node = await startNodeProc(['--data-dir', join(tmp.path, d), '--genesis', genesis]);
      hashes.push((await rpc(node.url, 'starknet_getBlockWithTxHashes', { block_id: { block_number: 0 } })).block_hash);
      expect(await node.stop()).to.equal(0);
      node = undefined;
    }
    expect(hashes[0]).to.equal(hashes[1]);
  });

  it('a second process on the same data directory exits non-zero naming the pid', async () => {
    const genesis = fastGenesis(tmp.path);
    const data = join(tmp.path, 'data');
    node = await startNodeProc(['--data-dir', data, '--genesis', genesis]);
    const second = await runCli(['start', '--data-dir', data, '--genesis', genesis, '--rpc-port', '0']);
    expect(second.code).to.not.equal(0);
    expect(second.stderr).to.contain(`is in use by pid ${node.child.pid}`);
    expect(await rpc(node.url, 'starknet_blockNumber')).to.be.a('number');
  });

  it('SIGTERM exits 0 and a restart keeps head and root', async () => {
    const genesis = fastGenesis(tmp.path);
    const data = join(tmp.path, 'data');
    node = await startNodeProc(['--data-dir', data, '--genesis', genesis]);
    await waitFor(async () => (await rpc(node!.url, 'starknet_blockNumber')) >= 2);
    expect(await node.stop('SIGTERM')).to.equal(0);
    const status = JSON.parse((await runCli(['status', '--data-dir', data, '--genesis', genesis])).stdout);
    node = await startNodeProc(['--data-dir', data, '--genesis', genesis]);
    const b = await rpc(node.url, 'starknet_getBlockWithTxHashes', { block_id: { block_number: status.head_number } });
    expect(b.block_hash).to.equal(status.head_hash);
    expect(b.new_root).to.equal(status.state_root);
    expect(await rpc(node.url, 'starknet_blockNumber')).to.be.at.least(status.head_number);
  });

  it('survives 20 kill -9 at random moments: each restart consistent, no gap, no lost committed block', async function () {
    // 21 node starts and a full verify: a bound for a loaded machine, not a speed requirement.
    this.timeout(600_000);
    const genesis = fastGenesis(tmp.path, 20);
    const data = join(tmp.path, 'data');
    let lastSeen = -1;
    let mints = 0;
    const DEV0 = JSON.parse(readFileSync(genesis, 'utf8')).exchange.dev_accounts[0].address;
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20; i++) {
      node = await startNodeProc(['--data-dir', data, '--genesis', genesis]);
      const head = await rpc(node.url, 'starknet_blockNumber');
      expect(head, `restart ${i} lost committed blocks`).to.be.at.least(lastSeen);
      // Transactions in flight while the kill lands: deposits into a dev account.
      const url = node.url;
      let sending = true;
      const load = (async () => {
        while (sending) {
          await rpc(url, 'devnet_mint', { address: DEV0, amount: '1' }).then(
            () => mints++,
            () => sleep(5),
          );
        }
      })();
      // Kill at a random moment measured in accepted transactions, not in time (a loaded
      // machine may accept none in a fixed interval).
      const target = mints + 1 + Math.floor(rand() * 8);
      await waitFor(async () => mints >= target, 60_000);
      lastSeen = await rpc(node.url, 'starknet_blockNumber');
      await node.kill9();
      sending = false;
      await load;
      node = undefined;
    }
    const v = await runCli(['verify', '--full', '--data-dir', data, '--genesis', genesis], { timeoutMs: 120_000 });
    expect(v.stdout + v.stderr).to.contain('verify: ok');
    expect(v.code).to.equal(0);
    const status = JSON.parse((await runCli(['status', '--data-dir', data, '--genesis', genesis])).stdout);
    expect(status.head_number).to.be.at.least(lastSeen);
    expect(mints, 'too few transactions were accepted while the node was being killed').to.be.greaterThan(20);
  });
});
