/**
 * The complete example in docs/client.md runs as written (a newcomer pastes it): it is extracted
 * from the page, saved inside the repository and run with tsx against a devnet node.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/proc.ts';
import { startTestNode, type TestNode } from './rpc.fixtures.ts';

function run(file: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('docs/client.md example', function () {
  this.timeout(90_000);
  let t: TestNode;
  const dir = join(ROOT, 'tmp', `docs-example-${process.pid}`);
  before(async () => (t = await startTestNode({ blockTimeMs: 100 })));
  after(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs as written and trades, proves and withdraws', async () => {
    const md = readFileSync(join(ROOT, 'docs/client.md'), 'utf8');
    const m = /```ts\n(\/\/ example\.mts\n[\s\S]*?)```/.exec(md);
    expect(m, 'the example block').to.not.equal(null);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'example.mts');
    writeFileSync(file, m![1]!);
    const r = await run(file, { PERPNODE_RPC: t.url });
    expect(r.code, r.out).to.equal(0);
    expect(r.out).to.match(/alice bid 0x[0-9a-f]+ OPEN/);
    expect(r.out).to.contain('bob sold FILLED in 1 fill(s)');
    expect(r.out).to.match(/alice: [0-9.]+ USDC, LONG 0\.002 BTC at [0-9.]+/);
    expect(r.out).to.match(/proven at block \d+: collateral [0-9.]+ USDC, position 0\.002 BTC/);
    expect(r.out).to.match(/order 0x[0-9a-f]+ CANCELLED/);
  });

  it('the starknet.js session runs as written: deployAccount, Contract reads, execute, estimate, call, WebSocket', async () => {
    const md = readFileSync(join(ROOT, 'docs/client.md'), 'utf8');
    const m = /```ts\n(\/\/ starknetjs-session\.mts\n[\s\S]*?)```/.exec(md);
    expect(m, 'the session block').to.not.equal(null);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'starknetjs-session.mts');
    writeFileSync(file, m![1]!);
    const r = await run(file, { PERPNODE_RPC: t.url });
    expect(r.code, r.out).to.equal(0);
    expect(r.out).to.contain('collateral 100000000n');
    expect(r.out).to.match(/fee 0n? collateral 97000000n/);
    expect(r.out).to.match(/mode 0x4e4f524d414c new head \d+/);
  });
});
