import { expect } from 'chai';
import { join } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { startSequencer, type RunningNode } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import { EX } from '../../contracts-ts/layout.ts';
import { depositHash, type DepositTx } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { ROOT } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

const GENESIS = join(ROOT, 'genesis/devnet.json');

async function post(url: string, body: unknown, token?: string) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

describe('guards before signing, admin port, modes', function () {
  this.timeout(60_000);
  let t: ReturnType<typeof tempDir>;
  let node: RunningNode;
  const dataDir = () => join(t.path, 'data');
  beforeEach(async () => {
    t = tempDir();
    node = await startSequencer({ dataDir: dataDir(), genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: 0, feeder: 'off', log: createLogger('silent') });
  });
  afterEach(async () => {
    await node.stop();
    t.cleanup();
  });

  it('a broken invariant halts production before signing: no block, clear reason, transactions refused', async () => {
    const before = node.producer.head;
    await node.producer.inOpenBlock((blk) => {
      // A bug writing collateral out of thin air: conservation no longer holds.
      const st = blk.state;
      const cfg = node.chain.genesis.exchange;
      st.setStorage(cfg.exchangeAddress, EX.totalCollateral, st.getStorage(cfg.exchangeAddress, EX.totalCollateral) + 1n);
      blk.noteActivity();
    });
    expect(await node.producer.sealNow()).to.equal(null);
    expect(node.producer.halted).to.match(/invariant violated before signing block/);
    expect(node.producer.head.hash).to.equal(before.hash);
    expect((await node.chain.chain.head())!.hash).to.equal(before.hash);
    const g = node.chain.genesis;
    const m = { depositId: 77n, recipient: g.exchange.devAccounts[0]!.address, amount: 5n };
    const s = sign(depositHash(m, g.exchange.bridgeOperator.publicKey, g.chainId), g.exchange.bridgeOperator.privateKey!);
    let err: any;
    try {
      await node.producer.submit({ type: 'DEPOSIT', ...m, signature: [s.r, s.s] } as DepositTx);
    } catch (e) {
      err = e;
    }
    expect(err?.code).to.equal('HALTED');
  });

  it('admin port: refused without the token (401, nothing else), works with it; the token file is 0600', async () => {
    const url = node.adminUrl!;
    const token = readFileSync(join(dataDir(), 'admin.token'), 'utf8').trim();
    expect(statSync(join(dataDir(), 'admin.token')).mode & 0o777).to.equal(0o600);
    for (const tok of [undefined, 'wrong', token + 'x']) {
      const r = await post(url, { jsonrpc: '2.0', id: 1, method: 'admin_status' }, tok);
      expect(r.status).to.equal(401);
      expect(r.text).to.not.contain(node.chain.genesis.chainIdName);
      expect(r.text).to.not.contain('head');
    }
    const ok = JSON.parse((await post(url, { jsonrpc: '2.0', id: 1, method: 'admin_status' }, token)).text);
    expect(ok.result.chain_id).to.equal('PERPNODE_DEVNET');
    expect(ok.result.mode).to.equal('NORMAL');
    expect(ok.result.pipeline, 'not pipelined unless asked').to.equal(false);
    expect(ok.result.starting, 'the start-up check is over').to.equal(null);
  });

  it('admin_setMode records the mode on-chain; it survives a restart; bad modes are -32602', async () => {
    const token = readFileSync(join(dataDir(), 'admin.token'), 'utf8').trim();
    const bad = JSON.parse((await post(node.adminUrl!, { jsonrpc: '2.0', id: 1, method: 'admin_setMode', params: { mode: 'PANIC' } }, token)).text);
    expect(bad.error.code).to.equal(-32602);
    const r = JSON.parse((await post(node.adminUrl!, { jsonrpc: '2.0', id: 1, method: 'admin_setMode', params: { mode: 'CANCEL_ONLY', reason: 'db upgrade' } }, token)).text);
    expect(r.result.mode).to.equal('CANCEL_ONLY');
    const block = await node.chain.chain.block(BigInt(r.result.block_number));
    expect(block!.transactions.some((tx) => (tx.body as any).type === 'SET_MODE')).to.equal(true);
    await node.stop();
    node = await startSequencer({ dataDir: dataDir(), genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: 0, feeder: 'off', log: createLogger('silent') });
    expect(node.maintenance.mode()).to.equal('CANCEL_ONLY');
  });
});
