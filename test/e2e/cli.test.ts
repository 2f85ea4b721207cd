import { expect } from 'chai';
import { join } from 'node:path';
import { getStarkKey } from '../../node/crypto/index.ts';
import { accountAddress } from '../../contracts-ts/index.ts';
import { rpc, runCli, startNodeProc, waitFor } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('perpnode CLI (e2e)', function () {
  this.timeout(180_000);

  it('prints help for every command, exits 2 on usage errors', async () => {
    const top = await runCli(['--help']);
    expect(top.code).to.equal(0);
    const names = [...top.stdout.matchAll(/^  ([a-z]+)\s{2,}/gm)].map((m) => m[1]!);
    for (const n of ['start', 'status', 'verify', 'keys', 'checkpoint', 'checkpoints', 'rollback', 'audit', 'refund', 'drill']) expect(names).to.include(n);
    for (const n of names) {
      const h = await runCli([n, '--help']);
      expect(h.code, n).to.equal(0);
      expect(h.stdout, n).to.contain(`perpnode ${n}`);
    }
    expect((await runCli(['frobnicate'])).code).to.equal(2);
    expect((await runCli(['start', '--no-such-flag'])).code).to.equal(2);
    expect((await runCli(['start', '--rpc-port', '70000'])).code).to.equal(2);
    expect((await runCli(['rollback'])).code).to.equal(2);
  });

  it('keys new gives a key pair whose address is the account contract address', async () => {
    const r = await runCli(['keys', 'new']);
    expect(r.code).to.equal(0);
    const k = JSON.parse(r.stdout);
    expect(BigInt(k.stark_key)).to.equal(getStarkKey(BigInt(k.private_key)));
    expect(BigInt(k.account_address)).to.equal(accountAddress(BigInt(k.stark_key)));
    const again = JSON.parse((await runCli(['keys', 'new'])).stdout);
    expect(again.private_key).to.not.equal(k.private_key);
  });

  it('offline: verify --full, checkpoint, checkpoints, rollback, and an unknown incident is an error', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      const node = await startNodeProc(['--data-dir', data, '--feeder', 'off', '--block-time-ms', '50']);
      // devnet_mint may not exist on every build; heartbeats are enough to move the head
      await waitFor(async () => (await rpc(node.url, 'starknet_blockNumber')) >= 0);
      expect(await node.stop()).to.equal(0);
      const cp = await runCli(['checkpoint', '--label', 'pre-maintenance', '--data-dir', data]);
      expect(cp.code, cp.stderr).to.equal(0);
      const list = JSON.parse((await runCli(['checkpoints', '--json', '--data-dir', data])).stdout);
      expect(list.map((c: any) => c.label)).to.include('pre-maintenance');
      const v = await runCli(['verify', '--full', '--data-dir', data]);
      expect(v.code, v.stderr).to.equal(0);
      expect(v.stdout).to.contain('verify: ok');
      const bad = await runCli(['rollback', '--to', 'no-such-label', '--data-dir', data]);
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.contain('no checkpoint labelled');
      const a = await runCli(['audit', '--incident', 'nothing-happened', '--data-dir', data]);
      expect(a.code).to.equal(1);
      expect(a.stderr).to.contain('no rollback certificate');
    } finally {
      t.cleanup();
    }
  });
});
