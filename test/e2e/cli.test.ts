import { expect } from 'chai';
import { join } from 'node:path';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
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

describe('perpnode CLI: operator mistakes get a message naming their cause (e2e)', function () {
  this.timeout(300_000);
  let t: ReturnType<typeof tempDir>;
  before(() => (t = tempDir()));
  after(() => t.cleanup());

  /** Holds a port busy for the duration of `fn`. */
  async function withBusyPort<T>(port: number, fn: () => Promise<T>): Promise<T> {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    try {
      return await fn();
    } finally {
      await new Promise((r) => srv.close(r));
    }
  }

  for (const [flag, port, extra] of [
    ['--rpc-port', 5341, ['--admin-port', '0', '--p2p-port', 'off']],
    ['--admin-port', 5342, ['--rpc-port', '0', '--p2p-port', 'off']],
    ['--p2p-port', 5343, ['--rpc-port', '0', '--admin-port', '0']],
  ] as const)
    it(`a busy ${flag} is named, without a stack trace, and nothing is written to the data dir`, async () => {
      const data = join(t.path, `busy${port}`);
      const r = await withBusyPort(port, () => runCli(['start', '--data-dir', data, flag, String(port), ...extra]));
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.contain(`${flag} ${port}: 127.0.0.1:${port} is not available (address in use)`);
      expect(r.stderr).to.not.match(/^\s+at /m);
      expect(existsSync(data), 'data dir created').to.equal(false);
    });

  it('--feeder nofile.json names the flag and writes nothing', async () => {
    const data = join(t.path, 'feeder');
    const r = await runCli(['start', '--data-dir', data, '--rpc-port', '0', '--admin-port', 'off', '--p2p-port', 'off', '--feeder', 'nofile.json']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('--feeder nofile.json: no such file (expected walk, off or a replay JSON file)');
    expect(existsSync(data)).to.equal(false);
  });

  it('bad flag values are usage errors naming the flag: --block-time-ms, --genesis, --log-format', async () => {
    const a = await runCli(['start', '--block-time-ms', 'soon']);
    expect(a.code).to.equal(2);
    expect(a.stderr).to.contain('--block-time-ms must be an integer in [0, 3600000]');
    const g = await runCli(['verify', '--genesis', 'no-such-genesis.json', '--data-dir', join(t.path, 'g')]);
    expect(g.code).to.equal(2);
    expect(g.stderr).to.contain('--genesis no-such-genesis.json: no such file');
    expect(existsSync(join(t.path, 'g'))).to.equal(false);
    const f = await runCli(['status', '--log-format', 'xml']);
    expect(f.code).to.equal(2);
    expect(f.stderr).to.contain('--log-format must be text or json');
  });

  it('`perpnode keys` prints its usage once', async () => {
    const r = await runCli(['keys']);
    expect(r.code).to.equal(2);
    expect(r.stderr.match(/usage:/g)?.length).to.equal(1);
    expect(r.stderr).to.contain('the only sub-command is "new"');
  });

  it('wallet flags are checked before anything is sent, each message naming its flag (no raw BigInt errors)', async () => {
    const cases: [string[], string][] = [
      [['order', '--key', '0x1', '--market', 'BTC-USD-PERP', '--side', 'BUY', '--size', 'abc', '--price', '1'], '--size abc: expected a positive decimal'],
      [['order', '--key', '0x1', '--market', 'BTC-USD-PERP', '--side', 'BUY', '--size', '0.001', '--price', '1', '--expiry-s', 'xyz'], '--expiry-s xyz: expected a whole number'],
      [['order', '--key', '0x1', '--market', 'BTC-USD-PERP', '--side', 'BUY', '--size', '0.000000001', '--price', '1'], '--size 0.000000001: at most 8 digits'],
      [['balance', '--address', 'xyz'], '--address xyz: expected an account address as 0x-hex'],
      [['mint', '--address', '0x1', '--amount', '1e5'], '--amount 1e5: expected a positive decimal'],
      [['cancel', '--key', '0x1', '--order', 'nope'], '--order nope: expected an order hash as 0x-hex'],
      [['transfer', '--key', '0x1', '--amount', '5', '--to', '12'], '--to 12: expected an account address as 0x-hex'],
      [['deploy', '--key', 'nobody'], '--key nobody: not a 0x-hex key, no such file, and no key of that name'],
    ];
    for (const [args, msg] of cases) {
      const r = await runCli(['wallet', ...args, '--rpc', 'http://127.0.0.1:1'], { env: { PERPNODE_KEYS_DIR: join(t.path, 'nokeys') } });
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stderr, args.join(' ')).to.contain(msg);
      expect(r.stderr).to.not.match(/BigInt|NaN/);
    }
  });

  it('a running node: status by --data-dir alone; keys in the keys dir; deploy twice says ACCOUNT_EXISTS; mint to an undeployed account says how to deploy', async () => {
    const data = join(t.path, 'live');
    const keysDir = join(t.path, 'keys');
    const env = { PERPNODE_KEYS_DIR: keysDir };
    const node = await startNodeProc(['--data-dir', data, '--feeder', 'off', '--block-time-ms', '50']);
    try {
      const file = JSON.parse(readFileSync(join(data, 'node.json'), 'utf8'));
      expect(file.rpc_url).to.equal(node.url);
      const st = await runCli(['status', '--data-dir', data]);
      expect(st.code, st.stderr).to.equal(0);
      const s = JSON.parse(st.stdout);
      expect(s).to.include({ running: true, role: 'sequencer', rpc_url: node.url, admin_url: file.admin_url });
      expect(s.head_number).to.be.a('number');

      const made = await runCli(['wallet', 'new', '--name', 'alice'], { env });
      expect(made.code, made.stderr).to.equal(0);
      const keyFile = JSON.parse(made.stdout).key_file;
      expect(keyFile).to.equal(join(keysDir, 'alice.json'));
      expect(statSync(keysDir).mode & 0o777).to.equal(0o700);
      expect(statSync(keyFile).mode & 0o777).to.equal(0o600);
      const dup = await runCli(['wallet', 'new', '--name', 'alice'], { env });
      expect(dup.code).to.equal(2);
      expect(dup.stderr).to.contain('exists; refusing to overwrite');

      const w = ['--rpc', node.url];
      const d1 = await runCli(['wallet', 'deploy', '--key', 'alice', '--wait', ...w], { env });
      expect(d1.code, d1.stderr).to.equal(0);
      const d2 = await runCli(['wallet', 'deploy', '--key', 'alice', ...w], { env });
      expect(d2.code).to.equal(1);
      expect(d2.stderr).to.contain('ACCOUNT_EXISTS');
      expect(d2.stderr).to.not.contain('DUPLICATE_TX');

      const m = await runCli(['wallet', 'mint', '--key', 'alice', '--amount', '12.5', '--wait', ...w], { env });
      expect(m.code, m.stderr).to.equal(0);
      expect(JSON.parse(m.stdout)).to.include({ amount: '12500000', amount_usdc: '12.5' });

      const bob = await runCli(['wallet', 'new', '--name', 'bob'], { env });
      const bobAddr = JSON.parse(bob.stdout).address;
      const mb = await runCli(['wallet', 'mint', '--key', 'bob', '--amount', '10', ...w], { env });
      expect(mb.code).to.equal(1);
      expect(mb.stderr).to.contain(`no account is deployed at ${bobAddr}: deploy it first with \`perpnode wallet deploy`);
      // the RPC itself says the same to any client
      const e = await rpc(node.url, 'devnet_mint', { address: bobAddr, amount: '10' }).catch((x) => x.rpc);
      expect(e.data.reason).to.equal('ACCOUNT_NOT_DEPLOYED');
      expect(e.data.message).to.contain('deploy it first (perp_deployAccount');
    } finally {
      expect(await node.stop()).to.equal(0);
    }
    expect(existsSync(join(data, 'node.json')), 'node.json removed at a clean stop').to.equal(false);
  });

  it('--block-time-ms 0: a block only when a transaction arrives; the feeder posts prices only on admin_postPrices', async () => {
    const data = join(t.path, 'ondemand');
    const node = await startNodeProc(['--data-dir', data, '--block-time-ms', '0']);
    try {
      expect(node.output()).to.contain('posting prices only on request (admin_postPrices)');
      const { admin_url } = JSON.parse(readFileSync(join(data, 'node.json'), 'utf8'));
      const token = readFileSync(join(data, 'admin.token'), 'utf8').trim();
      const admin = async (method: string) => ((await (await fetch(admin_url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method }) })).json()) as any).result;
      const h0 = await rpc(node.url, 'starknet_blockNumber');
      const dev = /#0 address (0x[0-9a-f]+)/.exec(node.output())![1]!; // a prefunded devnet account, as the node prints it
      const mint = await rpc(node.url, 'devnet_mint', { address: dev, amount: '1000000' });
      const r1 = await waitFor(() => rpc(node.url, 'starknet_getTransactionReceipt', { transaction_hash: mint.transaction_hash }).then((r) => r.block_number !== undefined && r));
      expect(r1.block_number).to.equal(h0 + 1);
      const posted = await waitFor(async () => {
        const p = await admin('admin_postPrices');
        return p.posted && p;
      });
      expect(posted.prices.map((x: any) => x.market)).to.include('BTC-USD-PERP');
      await waitFor(async () => (await rpc(node.url, 'starknet_blockNumber')) === h0 + 2);
      const b2 = await rpc(node.url, 'starknet_getBlockWithTxs', { block_id: { block_number: h0 + 2 } });
      // Nothing else made a block: no heartbeat, no timer-driven feeder, no empty block.
      expect(await rpc(node.url, 'starknet_blockNumber')).to.equal(h0 + 2);
      expect(b2.transactions.length).to.be.greaterThan(0);
      expect(node.output()).to.match(/block \d+ sealed: 1 txs, 0 trades, 0 liquidations/);
    } finally {
      await node.stop();
    }
  });

  it('--pipeline: the producer writes block N while N+1 executes; admin_status says so and transactions still land', async () => {
    const data = join(t.path, 'pipelined');
    const node = await startNodeProc(['--data-dir', data, '--feeder', 'off', '--block-time-ms', '50', '--pipeline']);
    try {
      const { admin_url } = JSON.parse(readFileSync(join(data, 'node.json'), 'utf8'));
      const token = readFileSync(join(data, 'admin.token'), 'utf8').trim();
      const status = ((await (await fetch(admin_url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'admin_status' }) })).json()) as any).result;
      expect(status.pipeline).to.equal(true);
      expect(status.starting).to.equal(null);
      const dev = /#0 address (0x[0-9a-f]+)/.exec(node.output())![1]!;
      const mint = await rpc(node.url, 'devnet_mint', { address: dev, amount: '1000000' });
      const r = await waitFor(() => rpc(node.url, 'starknet_getTransactionReceipt', { transaction_hash: mint.transaction_hash }).then((x) => x.finality_status === 'ACCEPTED_ON_L2' && x));
      expect(r.execution_status).to.equal('SUCCEEDED');
      expect((await rpc(node.url, 'starknet_getBlockWithTxHashes', { block_id: { block_number: r.block_number } })).transactions).to.include(mint.transaction_hash);
    } finally {
      expect(await node.stop()).to.equal(0);
    }
  });
});
