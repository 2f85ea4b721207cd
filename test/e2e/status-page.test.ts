/**
 * The status page in a real headless browser (Debian's chromium driven by playwright-core):
 * served at GET / of the RPC port, it follows the chain over the node's own WebSocket. The test
 * makes blocks, resting orders and a trade, and waits for the page to show each of them.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { startTestNode, type TestNode } from '../integration/rpc.fixtures.ts';
import { tempDir } from '../helpers/tmp.ts';

const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's chromium, installed when missing and this process may (root with apt-get: a fresh
 * developer machine or CI). Returns why no browser can be had, or undefined when there is one.
 */
function ensureChromium(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) return `no browser at ${CHROMIUM} and no way to install it here (needs root and apt-get): run \`apt-get update && apt-get install -y chromium\``;
  console.log(`    installing Debian's chromium for the status page test (apt-get install -y chromium)…`);
  for (const args of [['update'], ['install', '-y', 'chromium']]) {
    const r = spawnSync('apt-get', args, { stdio: 'ignore', timeout: 900_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) return `apt-get ${args.join(' ')} failed (exit ${r.status ?? r.signal}): install chromium by hand`;
  }
  return existsSync(CHROMIUM) ? undefined : `apt-get installed chromium but ${CHROMIUM} is missing`;
}

describe('status page (headless chromium)', function () {
  this.timeout(180_000);
  let t: TestNode;
  let browser: BrowserContext;
  let tmp: ReturnType<typeof tempDir>;

  before(async function () {
    if (!existsSync(CHROMIUM)) this.timeout(1_000_000); // apt-get on a fresh machine
    const missing = ensureChromium();
    if (missing) {
      console.log(`    SKIPPED: ${missing}`);
      this.skip();
    }
    tmp = tempDir('perpnode-browser-');
    const profile = join(tmp.path, 'profile');
    mkdirSync(profile);
    t = await startTestNode({ blockTimeMs: 50, heartbeatMs: 60_000 });
    // A fresh profile (--user-data-dir) in the test's temp dir.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1100 },
    });
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    tmp?.cleanup();
  });

  it('shows head, blocks with signatures, markets, books, trades, vault and mode, and follows new blocks live', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const res = await page.goto(t.url + '/');
    expect(res?.status()).to.equal(200);
    expect(res?.headers()['content-type']).to.contain('text/html');
    await page.locator('#conn', { hasText: 'live' }).waitFor();
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById('head-number')!.textContent ?? ''));
    const head0 = Number(await page.locator('#head-number').textContent());
    expect(head0).to.equal(await t.call('starknet_blockNumber'));
    // The head's hash and signature as the node signed them.
    const sig = await t.call('perp_sequencerSignature', { block_id: { block_number: head0 } });
    await page.locator('#head', { hasText: sig.block_hash }).waitFor();
    await page.locator('#head', { hasText: sig.signature[0] }).waitFor();
    expect(await page.locator('#markets').textContent()).to.contain('BTC-USD-PERP');
    expect(await page.locator('#mode').textContent()).to.equal('NORMAL');
    expect(await page.locator('#ready').textContent()).to.equal('ready');
    expect(await page.locator('#vault').textContent()).to.match(/balance[\d,.]+ USDC/);

    // A resting order: the book shows it without a reload (subscription), and its block arrives.
    const [a, b] = t.dev;
    await t.client.submitOrder(a!, { market: 'BTC-USD-PERP', side: 'SELL', size: '0.0123', price: '66234' });
    await page.locator('#book-BTC-USD-PERP', { hasText: '66,234.00' }).waitFor();
    // A trade against it: "last trades" shows it, and the head moves past the blocks it made.
    const fill = await t.client.submitOrder(b!, { market: 'BTC-USD-PERP', side: 'BUY', size: '0.0023', price: '66234' });
    expect(fill.fills?.length).to.equal(1);
    await page.locator('#book-BTC-USD-PERP', { hasText: '0.0100' }).waitFor(); // 0.0123 - 0.0023 left on the ask
    await page.locator('#book-BTC-USD-PERP tbody', { hasText: 'BUY' }).waitFor();
    const head1 = await t.call('starknet_blockNumber');
    expect(head1).to.be.greaterThan(head0);
    await page.waitForFunction((n) => Number(document.getElementById('head-number')!.textContent) >= n, head1);
    const top = await t.call('starknet_getBlockWithTxHashes', { block_id: { block_number: head1 } });
    await page.locator('#blocks', { hasText: top.block_hash.slice(0, 10) }).waitFor();

    // A mode change shows in the header.
    await t.node.maintenance.setMode('POST_ONLY', 'status page test');
    await page.locator('#mode', { hasText: 'POST_ONLY' }).waitFor();

    const shot = join(tmp.path, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).to.be.greaterThan(10_000);
    if (process.env.PERPNODE_KEEP_SCREENSHOT) await page.screenshot({ path: process.env.PERPNODE_KEEP_SCREENSHOT, fullPage: true });
    expect(errors).to.deep.equal([]);
  });
});
