/**
 * `perpnode wallet` against a real node process: new key file, deploy, mint, order (crossing a
 * dev account's order), balance, cancel, withdraw; usage errors exit 2, node errors exit 1.
 * Most commands run the wallet's entry point in this process (a CLI process takes seconds to
 * start); the CLI wiring itself is checked by spawning `perpnode wallet` too.
 */
import { expect } from 'chai';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, rpc, runCli, startNodeProc, type NodeProc } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';
import { createSigner, PerpClient } from '../../node/client/index.ts';
import { walletMain } from '../../node/wallet.ts';

/** Runs `perpnode wallet <args>` in this process, capturing stdout and stderr. */
async function walletIn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  try {
    const code = await walletMain(args);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

describe('perpnode wallet (e2e)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let node: NodeProc;
  let keyFile: string;
  const wallet = async (...args: string[]) => {
    const r = await walletIn([...args, '--rpc', node.url]);
    return { ...r, json: r.code === 0 && r.stdout.trim().startsWith('{') ? JSON.parse(r.stdout) : undefined };
  };

  before(async () => {
    tmp = tempDir();
    const g = JSON.parse(readFileSync(join(ROOT, 'genesis/devnet.json'), 'utf8'));
    g.block_time_ms = 100;
    g.heartbeat_ms = 300;
    const gp = join(tmp.path, 'genesis.json');
    writeFileSync(gp, JSON.stringify(g));
    node = await startNodeProc(['--data-dir', join(tmp.path, 'data'), '--genesis', gp, '--feeder', 'off', '--p2p-port', 'off']);
    keyFile = join(tmp.path, 'alice.json');
  });
  after(async () => {
    await node?.stop();
    tmp?.cleanup();
  });

  it('new, deploy, mint, order, balance, cancel, withdraw', async () => {
    const made = await runCli(['wallet', 'new', '--out', keyFile]); // through the real CLI
    expect(made.code, made.stderr).to.equal(0);
    expect(statSync(keyFile).mode & 0o777).to.equal(0o600);
    const key = JSON.parse(readFileSync(keyFile, 'utf8'));
    expect(JSON.parse(made.stdout).address).to.equal(key.address);
    expect(made.stdout).to.not.contain(key.private_key);
    expect((await walletIn(['new', '--out', keyFile])).code).to.equal(2); // never overwrites a key

    const dep = await wallet('deploy', '--key', keyFile, '--wait');
    expect(dep.code, dep.stderr).to.equal(0);
    expect(dep.json.finality_status).to.equal('ACCEPTED_ON_L2');
    expect(dep.json.address).to.equal(key.address);
    const mint = await wallet('mint', '--key', keyFile, '--amount', '2500', '--wait');
    expect(mint.code, mint.stderr).to.equal(0);

    // A dev account rests an ask; the wallet's buy crosses it.
    const g = JSON.parse(readFileSync(join(tmp.path, 'genesis.json'), 'utf8'));
    const maker = createSigner(g.exchange.dev_accounts[0].private_key);
    await new PerpClient(node.url).submitOrder(maker, { market: 'BTC-USD-PERP', side: 'SELL', size: '0.01', price: '65000' });
    const buy = await wallet('order', '--key', keyFile, '--market', 'BTC-USD-PERP', '--side', 'buy', '--size', '0.01', '--price', '65000', '--wait');
    expect(buy.code, buy.stderr).to.equal(0);
    expect(buy.json.status).to.equal('FILLED');
    const rest = await wallet('order', '--key', keyFile, '--market', 'BTC-USD-PERP', '--side', 'BUY', '--size', '0.002', '--price', '60000');
    expect(rest.json.status).to.equal('OPEN');

    const bal = await wallet('balance', '--key', keyFile);
    expect(bal.code, bal.stderr).to.equal(0);
    expect(bal.json.deployed).to.equal(true);
    expect(bal.json.positions).to.deep.include({ market: 'BTC-USD-PERP', side: 'LONG', size: '0.01', entry_price: '65000', mark_price: '65000', unrealized_pnl_usdc: '0', liquidation_price: bal.json.positions[0].liquidation_price });
    expect(bal.json.open_orders.map((o: any) => o.order_hash)).to.include(rest.json.order_hash);
    expect(Number(bal.json.collateral_usdc)).to.be.lessThan(2500); // the taker fee

    const cancel = await wallet('cancel', '--key', keyFile, '--order', rest.json.order_hash);
    expect(cancel.code, cancel.stderr).to.equal(0);
    expect(cancel.json.status).to.equal('CANCELLED');
    const w = await wallet('withdraw', '--key', keyFile, '--amount', '100', '--recipient', '0xabc', '--wait');
    expect(w.code, w.stderr).to.equal(0);
    const acct = await rpc(node.url, 'perp_getAccount', { address: key.address });
    expect(BigInt(acct.collateral) < 2_400_000_000n).to.equal(true);
  });

  it('clear errors: usage (exit 2), the node refusing (exit 1), no node (exit 1)', async () => {
    const usage = await wallet('order', '--key', keyFile, '--market', 'BTC-USD-PERP', '--side', 'SIDEWAYS', '--size', '1', '--price', '1');
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.contain('--side must be one of BUY, SELL');
    const nokey = await wallet('balance');
    expect(nokey.code).to.equal(2);
    expect(nokey.stderr).to.contain('--key');
    const tooMuch = await wallet('withdraw', '--key', keyFile, '--amount', '99999999', '--recipient', '0xabc');
    expect(tooMuch.code).to.equal(1);
    expect(tooMuch.stderr).to.contain('INSUFFICIENT_COLLATERAL');
    const down = await walletIn(['balance', '--key', keyFile, '--rpc', 'http://127.0.0.1:1']);
    expect(down.code).to.equal(1);
    expect(down.stderr).to.contain('cannot reach the node');
    const help = await walletIn(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('perpnode wallet new --name alice');
    const viaCli = await runCli(['wallet', 'balance', '--key', keyFile, '--rpc', node.url]);
    expect(viaCli.code, viaCli.stderr).to.equal(0);
    expect(JSON.parse(viaCli.stdout).deployed).to.equal(true);
  });
});
