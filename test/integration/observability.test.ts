/**
 * Metrics, health and readiness of a real in-process sequencer over real HTTP: every metric
 * docs/operations.md documents is scraped from /metrics, block counters move as blocks are
 * sealed, and /ready flips to 503 (naming the reason) when a guard halts the node.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { createSigner, PerpClient } from '../../node/client/index.ts';
import { join } from 'node:path';
import type { RunningNode } from '../../node/node.ts';
import { EX } from '../../contracts-ts/layout.ts';
import { depositHash, type DepositTx } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { ROOT } from '../helpers/proc.ts';
import { startTestSequencer } from '../helpers/sequencer.ts';
import { tempDir } from '../helpers/tmp.ts';

/** One sample's value: `name{labels} value` (labels may be omitted from `match`). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = /^([a-z0-9_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('metrics, /health and /ready', function () {
  this.timeout(90_000);
  let t: ReturnType<typeof tempDir>;
  let node: RunningNode;
  const scrape = async () => {
    const r = await fetch(node.adminUrl + '/metrics');
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.contain('text/plain');
    return r.text();
  };
  let depositId = 1000n;
  const deposit = async () => {
    const g = node.chain.genesis;
    const m = { depositId: depositId++, recipient: g.exchange.devAccounts[0]!.address, amount: 5n };
    const s = sign(depositHash(m, g.exchange.bridgeOperator.publicKey, g.chainId), g.exchange.bridgeOperator.privateKey!);
    return node.producer.submit({ type: 'DEPOSIT', ...m, signature: [s.r, s.s] } as DepositTx);
  };
  beforeEach(async () => {
    t = tempDir();
    node = await startTestSequencer(t.path, { adminPort: 0, blockTimeMs: 20 });
  });
  afterEach(async () => {
    await node.stop();
    t.cleanup();
  });

  it('serves every documented metric; block, transaction and RPC counters move', async () => {
    const documented = [...readFileSync(join(ROOT, 'docs/operations.md'), 'utf8').matchAll(/^\| `((?:perpnode|process)_[a-z0-9_]+)` \|/gm)].map((m) => m[1]!);
    expect(documented.length).to.be.greaterThan(20);
    const before = await scrape();
    for (const name of documented) expect(before, name).to.match(new RegExp(`^# TYPE ${name} `, 'm'));
    // and nothing perpnode_* is served that the docs do not name
    const served = [...before.matchAll(/^# TYPE (perpnode_[a-z0-9_]+) /gm)].map((m) => m[1]!);
    expect(served.filter((n) => !documented.includes(n))).to.deep.equal([]);
    expect(sample(before, 'perpnode_halted', { role: 'sequencer' })).to.equal(0);
    expect(sample(before, 'perpnode_mode', { mode: 'NORMAL' })).to.equal(1);
    expect(sample(before, 'process_resident_memory_bytes')).to.be.greaterThan(1e6);
    const blocks0 = sample(before, 'perpnode_blocks_total')!;
    const txs0 = sample(before, 'perpnode_transactions_total')!;
    const head0 = sample(before, 'perpnode_head_block_number')!;
    expect(head0).to.equal(Number(node.producer.head.number));

    for (let i = 0; i < 3; i++) {
      await deposit();
      await node.producer.sealNow();
    }
    const res = await fetch(node.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'starknet_getBlockWithTxHashes', params: { block_id: { block_number: 999999 } } }) });
    expect(((await res.json()) as any).error.code).to.equal(24);
    const after = await scrape();
    expect(sample(after, 'perpnode_blocks_total')! - blocks0).to.be.at.least(3);
    expect(sample(after, 'perpnode_transactions_total')! - txs0).to.be.at.least(3);
    expect(sample(after, 'perpnode_head_block_number')).to.equal(Number(node.producer.head.number));
    expect(sample(after, 'perpnode_head_block_number')! - head0).to.be.at.least(3);
    expect(sample(after, 'perpnode_block_seal_seconds_count')!).to.be.at.least(3);
    expect(sample(after, 'perpnode_block_commit_seconds_count')!).to.be.at.least(3);
    expect(sample(after, 'perpnode_rpc_requests_total', { method: 'starknet_getBlockWithTxHashes' })).to.equal(1);
    expect(sample(after, 'perpnode_rpc_errors_total', { method: 'starknet_getBlockWithTxHashes', code: '24' })).to.equal(1);
    expect(sample(after, 'perpnode_orderbook_levels', { market: 'BTC-USD-PERP', side: 'bid' })).to.equal(0);
    // metrics need no token, but admin JSON-RPC still does
    expect((await fetch(node.adminUrl!, { method: 'POST', body: '{}' })).status).to.equal(401);
  });

  it('/health stays 200; /ready flips to 503 naming the halt, and halted=1 in /metrics', async () => {
    const health = await fetch(node.rpcUrl + '/health');
    expect(health.status).to.equal(200);
    expect(((await health.json()) as any).status).to.equal('ok');
    const ready = await fetch(node.rpcUrl + '/ready');
    expect(ready.status).to.equal(200);
    const rj = (await ready.json()) as any;
    expect(rj).to.include({ ready: true, synced: true, halted: null, mode: 'NORMAL', db_writable: true });
    expect(rj.reasons).to.deep.equal([]);

    // A bug writing collateral out of thin air: the guard halts production before signing.
    await node.producer.inOpenBlock((blk) => {
      const st = blk.state;
      const cfg = node.chain.genesis.exchange;
      st.setStorage(cfg.exchangeAddress, EX.totalCollateral, st.getStorage(cfg.exchangeAddress, EX.totalCollateral) + 1n);
      blk.noteActivity();
    });
    expect(await node.producer.sealNow()).to.equal(null);
    const notReady = await fetch(node.rpcUrl + '/ready');
    expect(notReady.status).to.equal(503);
    const nj = (await notReady.json()) as any;
    expect(nj.ready).to.equal(false);
    expect(nj.halted).to.match(/invariant violated before signing block/);
    expect(nj.reasons.join(' ')).to.match(/^halted: invariant violated/);
    expect((await fetch(node.rpcUrl + '/health')).status).to.equal(200);
    expect(sample(await scrape(), 'perpnode_halted')).to.equal(1);
  });

  it('a GET to a JSON-RPC path without a route is 405; HEAD /health has no body', async () => {
    expect((await fetch(node.rpcUrl + '/rpc/v0_10')).status).to.equal(405);
    const head = await fetch(node.rpcUrl + '/health', { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(await head.text()).to.equal('');
  });
});

describe('a failed fill names the rule it broke', function () {
  this.timeout(60_000);
  it('perp_submitOrder: CANCELLED settle_failed comes with rule OPEN_INTEREST_CAP and its message', async () => {
    const t = tempDir();
    const g = JSON.parse(readFileSync(join(ROOT, 'genesis/devnet.json'), 'utf8'));
    const btc = g.exchange.markets.find((m: any) => m.symbol === 'BTC-USD-PERP');
    btc.open_interest_cap = '1';
    const genesisPath = join(t.path, 'genesis.json');
    writeFileSync(genesisPath, JSON.stringify(g));
    const node = await startTestSequencer(t.path, { genesisPath });
    try {
      const client = new PerpClient(node.rpcUrl);
      const [a, b] = node.chain.genesis.exchange.devAccounts.filter((x) => x.privateKey !== undefined).map((x) => createSigner(x.privateKey!));
      const cap = node.chain.genesis.exchange.markets[0]!.openInterestCap;
      const size = cap + 100_000n; // above the cap: the taker's fill would raise open interest past it
      await client.submitOrder(a!, { market: 'BTC-USD-PERP', side: 'SELL', size, price: '65000' });
      const r = await client.submitOrder(b!, { market: 'BTC-USD-PERP', side: 'BUY', size, price: '65000' });
      expect(r).to.include({ status: 'CANCELLED', reason: 'settle_failed', rule: 'OPEN_INTEREST_CAP' });
      expect(r.rule_message).to.match(/open interest \d+ > cap \d+/);
      expect(r.fills).to.deep.equal([]);
    } finally {
      await node.stop();
      t.cleanup();
    }
  });
});
