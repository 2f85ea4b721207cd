/**
 * WebSocket JSON-RPC at /ws: subscriptions (heads, events, transaction status, order book,
 * trades, account), unsubscribe, and the limits (subscriptions per connection, message size,
 * connections per IP, slow clients).
 */
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { randomPrivateKey } from '../../node/crypto/index.ts';
import { createSigner, type Signer } from '../../node/client/index.ts';
import { createRpc } from '../../node/rpc/methods.ts';
import { startHttp, closeServer } from '../../node/rpc/http.ts';
import { Dispatcher } from '../../node/rpc/jsonrpc.ts';
import type { RpcModules } from '../../node/rpc/context.ts';
import type { WsHub } from '../../node/rpc/ws.ts';
import { startTestNode, until, type TestNode } from './rpc.fixtures.ts';

const hex = (x: bigint) => '0x' + x.toString(16);
const BTC = 'BTC-USD-PERP';

/** A WebSocket JSON-RPC client for tests: requests by id, notifications by subscription. */
class WsClient {
  private id = 0;
  private pending = new Map<number, (m: any) => void>();
  readonly notes: any[] = [];
  closeCode: number | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.id !== undefined && m.id !== null && this.pending.has(m.id)) {
        this.pending.get(m.id)!(m);
        this.pending.delete(m.id);
      } else this.notes.push(m);
    });
    ws.on('close', (code) => (this.closeCode = code));
  }
  static open(url: string): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new WsClient(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    });
  }
  request(method: string, params?: unknown): Promise<any> {
    const id = ++this.id;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));
    });
  }
  async call(method: string, params?: unknown): Promise<any> {
    const r = await this.request(method, params);
    if (r.error) throw Object.assign(new Error(`${method}: ${r.error.message}`), { code: r.error.code, data: r.error.data });
    return r.result;
  }
  of(sub: string, method?: string): any[] {
    return this.notes.filter((n) => n.params?.subscription_id === sub && (!method || n.method === method)).map((n) => n.params.result);
  }
  close(): void {
    this.ws.terminate();
  }
}

describe('WebSocket JSON-RPC (/ws)', function () {
  this.timeout(60_000);
  let t: TestNode;
  let a: Signer;
  let b: Signer;
  const clients: WsClient[] = [];
  const open = async (url = t.wsUrl) => {
    const c = await WsClient.open(url);
    clients.push(c);
    return c;
  };

  before(async () => {
    t = await startTestNode({ blockTimeMs: 150, heartbeatMs: 150 });
    [a, b] = t.dev as [Signer, Signer];
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => t?.stop());

  it('serves ordinary calls and batches over the socket', async () => {
    const c = await open();
    expect(await c.call('starknet_specVersion')).to.equal('0.10.2');
    const r = await c.request('no_such_method');
    expect(r.error.code).to.equal(-32601);
  });

  it('newHeads: a header per sealed block, with a backlog from block_id', async () => {
    const c = await open();
    const head = await t.call('starknet_blockNumber');
    const sub = await c.call('starknet_subscribeNewHeads', { block_id: { block_number: Math.max(0, head - 2) } });
    expect(sub).to.be.a('string');
    await until(async () => c.of(sub).length >= 5);
    const nums = c.of(sub).map((h) => h.block_number);
    expect(nums[0]).to.equal(Math.max(0, head - 2));
    for (let i = 1; i < nums.length; i++) expect(nums[i]).to.be.greaterThan(nums[i - 1]);
    const h = c.of(sub)[1];
    const served = await t.call('starknet_getBlockWithTxHashes', { block_id: { block_number: h.block_number } });
    expect(h.block_hash).to.equal(served.block_hash);
    expect(await c.call('starknet_unsubscribe', { subscription_id: sub })).to.equal(true);
    const again = await c.request('starknet_unsubscribe', { subscription_id: sub });
    expect(again.error.code).to.equal(66);
  });

  it('transaction status: PRE_CONFIRMED then ACCEPTED_ON_L2; events and account snapshots follow', async () => {
    const c = await open();
    const fresh = createSigner(randomPrivateKey());
    const cfg = await t.client.config();
    const evSub = await c.call('starknet_subscribeEvents', { from_address: cfg.exchange_address, finality_status: 'PRE_CONFIRMED' });
    const acctSub = await c.call('perp_subscribeAccount', { address: hex(fresh.address) });
    await until(async () => c.of(acctSub).length >= 1);
    expect(c.of(acctSub)[0].deployed).to.equal(false);
    const dep = await t.client.deployAccount(fresh);
    const txSub = await c.call('starknet_subscribeTransactionStatus', { transaction_hash: dep.transaction_hash });
    await until(async () => c.of(txSub).some((s) => s.status.finality_status === 'ACCEPTED_ON_L2'));
    const statuses = c.of(txSub).map((s) => s.status.finality_status);
    expect(statuses[statuses.length - 1]).to.equal('ACCEPTED_ON_L2');
    expect(new Set(statuses).size).to.equal(statuses.length); // each status once
    expect(c.of(txSub)[0].transaction_hash).to.equal(dep.transaction_hash);
    const mint = await t.client.devnetMint(fresh.address, '250');
    await until(async () => c.of(acctSub).some((v) => v.collateral === '250000000'));
    await until(async () => c.of(evSub).some((e) => e.transaction_hash === mint.transaction_hash && e.finality_status === 'ACCEPTED_ON_L2'));
    const deposit = c.of(evSub).find((e) => e.transaction_hash === mint.transaction_hash);
    expect(deposit.finality_status).to.equal('PRE_CONFIRMED');
    expect(deposit.keys[1]).to.equal(hex(fresh.address));
  });

  it('order book snapshots and trades', async () => {
    const c = await open();
    const bookSub = await c.call('perp_subscribeOrderBook', { market: BTC, depth: 5 });
    const tradeSub = await c.call('perp_subscribeTrades', { market: BTC });
    await until(async () => c.of(bookSub).length >= 1);
    await t.client.submitOrder(a, { market: BTC, side: 'SELL', size: '0.002', price: '66000' });
    await until(async () => c.of(bookSub).some((s) => s.asks.some(([p]: string[]) => p === '6600000000000')));
    const r = await t.client.submitOrder(b, { market: BTC, side: 'BUY', size: '0.002', price: '66000' });
    expect(r.fills.length).to.equal(1);
    await until(async () => c.of(tradeSub).length >= 1);
    expect(c.of(tradeSub)[0]).to.include({ market: BTC, price: '6600000000000', size: '200000', taker_side: 'BUY', transaction_hash: r.fills[0].transaction_hash });
    await until(async () => !c.of(bookSub).at(-1).asks.some(([p]: string[]) => p === '6600000000000'));
    const bad = await c.request('perp_subscribeTrades', { market: 'NOPE-USD-PERP' });
    expect(bad.error.data.reason).to.equal('UNKNOWN_MARKET');
  });

  it('subscription methods exist only over WebSocket', async () => {
    const r = await t.raw({ jsonrpc: '2.0', id: 1, method: 'starknet_subscribeNewHeads' });
    expect(r.json.error.code).to.equal(-32601);
  });

  describe('limits', () => {
    let hub: WsHub;
    let server: import('node:http').Server;
    let url: string;
    before(async () => {
      const n = t.node;
      const modules: RpcModules = { chain: n.chain.chain, world: n.chain.world, genesis: n.chain.genesis, producer: n.producer, exchange: n.exchange };
      const rpc = createRpc(modules, {
        ws: { maxSubscriptionsPerConnection: 3, maxPayloadBytes: 64 << 10, maxConnectionsPerIp: 3, maxBufferedBytes: 64 << 10, messagesPerSec: 100_000, messageBurst: 100_000 },
      });
      hub = rpc.createWs();
      server = await startHttp(new Dispatcher(rpc.methods, { maxBatch: 10 }), {
        host: '127.0.0.1',
        port: 0,
        paths: ['/'],
        maxBodyBytes: 1 << 20,
        requestTimeoutMs: 10_000,
        ratePerSec: 1000,
        burst: 1000,
        onUpgrade: (req, s, h) => hub.handleUpgrade(req, s, h),
      });
      const addr = server.address() as { port: number };
      url = `ws://127.0.0.1:${addr.port}/ws`;
    });
    after(async () => {
      await hub.close();
      await closeServer(server);
    });

    it('subscriptions per connection', async () => {
      const c = await open(url);
      for (let i = 0; i < 3; i++) await c.call('starknet_subscribeNewHeads');
      const r = await c.request('starknet_subscribeNewHeads');
      expect(r.error.code).to.equal(11005);
      expect(r.error.data).to.contain('3 subscriptions');
    });

    it('oversized messages close the connection with 1009', async () => {
      const c = await open(url);
      c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'starknet_chainId', params: ['x'.repeat(100 << 10)] }));
      await until(async () => c.closeCode !== null);
      expect(c.closeCode).to.equal(1009);
    });

    it('connections per IP, and unknown paths', async () => {
      const held = [await open(url), await open(url), await open(url)];
      const err = await WsClient.open(url).catch((e) => e);
      expect(err.status).to.equal(429);
      for (const h of held) h.close();
      await until(async () => hub.connectionCount === 0);
      const wrong = await WsClient.open(url.replace('/ws', '/other')).catch((e) => e);
      expect(wrong.status).to.equal(404);
    });

    it('a client that stops reading is dropped instead of buffered without bound', async () => {
      const c = await open(url);
      await until(async () => hub.connectionCount === 1);
      (c.ws as any)._socket.pause(); // stop reading; the node keeps answering
      // Batches of 100 perp_getConfig calls: a few hundred KB of answers per message.
      const batch = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ jsonrpc: '2.0', id: 1000 + i, method: 'perp_getConfig' })));
      for (let i = 0; i < 400 && hub.connectionCount > 0; i++) {
        c.ws.send(batch);
        await new Promise((r) => setTimeout(r, 2));
      }
      await until(async () => hub.connectionCount === 0, 20_000);
      (c.ws as any)._socket.resume();
      await until(async () => c.closeCode !== null);
      expect([1013, 1006]).to.include(c.closeCode);
    });
  });
});

describe('after a rollback (WebSocket and history)', function () {
  this.timeout(60_000);
  let t: TestNode;
  let c: WsClient;
  before(async () => (t = await startTestNode({ blockTimeMs: 50, heartbeatMs: 100 })));
  after(async () => {
    c?.close();
    await t?.stop();
  });

  it('announces the orphaned range, forgets its transactions and trades, and follows the new branch', async () => {
    const [a, b] = t.dev as [Signer, Signer];
    c = await WsClient.open(t.wsUrl);
    const heads = await c.call('starknet_subscribeNewHeads');
    await t.client.submitOrder(a, { market: BTC, side: 'SELL', size: '0.001', price: '65000' });
    const r = await t.client.submitOrder(b, { market: BTC, side: 'BUY', size: '0.001', price: '65000' });
    const tradeTx = r.fills[0].transaction_hash;
    const txSub = await c.call('starknet_subscribeTransactionStatus', { transaction_hash: tradeTx });
    const k = (await t.client.waitForTransaction(tradeTx, { intervalMs: 20 })).block_number;
    expect((await t.call('perp_getTrades', { market: BTC })).map((x: any) => x.transaction_hash)).to.include(tradeTx);
    await until(async () => c.of(heads).some((h) => h.block_number >= k + 2));
    const acctSub = await c.call('perp_subscribeAccount', { address: '0x' + a.address.toString(16) });
    const resting = await t.client.submitOrder(a, { market: BTC, side: 'BUY', size: '0.001', price: '60000' });
    expect(resting.status).to.equal('OPEN');
    const before = await t.call('starknet_blockHashAndNumber');
    await t.node.maintenance.rollback(BigInt(k - 1), 'test', 0n);
    // the rollback's cancellation of the resting order is announced to the owner's subscribers
    await until(async () => c.of(acctSub).some((x: any) => x.event === 'order_cancelled' && x.order_hash === resting.order_hash));
    expect((await t.call('perp_getOrder', { order_hash: resting.order_hash })).status).to.equal('CANCELLED');
    await until(async () => c.notes.some((n) => n.method === 'starknet_subscriptionReorg'));
    const reorg = c.notes.find((n) => n.method === 'starknet_subscriptionReorg').params;
    expect(reorg.subscription_id).to.equal(heads);
    expect(reorg.result.starting_block_number).to.equal(k);
    expect(reorg.result.ending_block_number).to.be.at.least(before.block_number);
    // starknet_* answers only spec values: the orphaned transaction and block are unknown there
    const status = await t.call('starknet_getTransactionStatus', { transaction_hash: tradeTx }).catch((e: any) => e);
    expect(status.code).to.equal(29);
    const orphanByHash = await t.call('starknet_getBlockWithTxHashes', { block_id: { block_hash: before.block_hash } }).catch((e: any) => e);
    expect(orphanByHash.code).to.equal(24);
    // the audit view moved to perp_*
    const orphan = await t.call('perp_getOrphanedBlock', { block_hash: before.block_hash });
    expect(orphan.status).to.equal('ORPHANED');
    expect(orphan.block_number).to.equal(before.block_number);
    expect(orphan.rolled_back.reason).to.equal('test');
    const otx = await t.call('perp_getOrphanedTransaction', { transaction_hash: tradeTx });
    expect(otx.status).to.equal('ORPHANED');
    expect(otx.block_number).to.equal(k);
    expect(otx.transaction.transaction_hash).to.equal(tradeTx);
    // the status subscriber of the orphaned trade got the reorg notice
    await until(async () => c.notes.some((n) => n.method === 'starknet_subscriptionReorg' && n.params.subscription_id === txSub));
    expect((await t.call('perp_getTrades', { market: BTC })).map((x: any) => x.transaction_hash)).to.not.include(tradeTx);
    const acct = await t.call('perp_getAccount', { address: '0x' + b.address.toString(16) });
    expect(acct.positions).to.deep.equal([]);
    // The new branch: heads continue from the rollback target, with new hashes.
    await until(async () => c.of(heads).filter((h) => h.block_number === k).length >= 2);
    const atK = c.of(heads).filter((h) => h.block_number === k);
    expect(atK[0].block_hash).to.not.equal(atK[atK.length - 1].block_hash);
    expect(atK[atK.length - 1].block_hash).to.equal((await t.call('starknet_getBlockWithTxHashes', { block_id: { block_number: k } })).block_hash);
  });
});


describe('WebSocket: new transactions and receipts', function () {
  this.timeout(60_000);
  let t: TestNode;
  let c: WsClient;
  before(async () => (t = await startTestNode({ blockTimeMs: 50, heartbeatMs: 100 })));
  after(async () => {
    c?.close();
    await t?.stop();
  });

  it('subscribeNewTransactions / subscribeNewTransactionReceipts: by finality and sender, spec-shaped', async () => {
    const [a, b] = t.dev as [Signer, Signer];
    c = await WsClient.open(t.wsUrl);
    const both = await c.call('starknet_subscribeNewTransactions', { finality_status: ['PRE_CONFIRMED', 'ACCEPTED_ON_L2'], sender_address: [hex(a.address)] });
    const sealedOnly = await c.call('starknet_subscribeNewTransactions', {});
    const receipts = await c.call('starknet_subscribeNewTransactionReceipts', { sender_address: [hex(a.address)] });
    const inv = await t.client.invoke(a, [{ contract: 'exchange', entrypoint: 'withdraw', calldata: [1n, 0xabcn] }]);
    await t.client.withdraw(b, '1', '0xabc'); // another sender: filtered out of `both` and `receipts`
    await until(async () => c.of(receipts).some((r) => r.transaction_hash === inv.transaction_hash));
    await until(async () => c.of(both).filter((x) => x.transaction_hash === inv.transaction_hash).length === 2);
    const seen = c.of(both).filter((x) => x.transaction_hash === inv.transaction_hash);
    expect(seen.map((x) => x.finality_status)).to.deep.equal(['PRE_CONFIRMED', 'ACCEPTED_ON_L2']);
    expect(seen[1]).to.include({ type: 'INVOKE', version: '0x3', sender_address: hex(a.address) });
    expect(c.of(both).every((x) => x.sender_address === hex(a.address))).to.equal(true);
    const r = c.of(receipts).find((x) => x.transaction_hash === inv.transaction_hash);
    expect(r).to.include({ type: 'INVOKE', execution_status: 'SUCCEEDED', finality_status: 'ACCEPTED_ON_L2' });
    expect(r.block_hash).to.match(/^0x[0-9a-f]+$/);
    expect(r.block_number).to.be.a('number');
    await until(async () => c.of(sealedOnly).some((x) => x.sender_address === hex(b.address)));
    expect(c.of(sealedOnly).every((x) => x.finality_status === 'ACCEPTED_ON_L2')).to.equal(true);
    // the spec's limit and errors
    const many = Array.from({ length: 65 }, (_, i) => hex(BigInt(i + 1)));
    expect((await c.request('starknet_subscribeNewTransactionReceipts', { sender_address: many })).error.code).to.equal(67);
    expect((await c.request('starknet_subscribeNewTransactions', { finality_status: ['ACCEPTED_ON_L1'] })).error.code).to.equal(-32602);
    expect((await c.request('starknet_subscribeNewTransactionReceipts', { finality_status: ['RECEIVED'] })).error.code).to.equal(-32602);
  });
});
