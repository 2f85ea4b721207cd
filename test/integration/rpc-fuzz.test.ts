/**
 * Seeded fuzzing of the public JSON-RPC with malformed and hostile input: wrong types, huge
 * numbers, deep nesting, oversized bodies, invalid UTF-8, unknown methods, bad signatures and
 * replays of accepted transactions. Invariants: the node never crashes and never answers
 * -32603 (an unhandled path); every answer is well-formed JSON-RPC; no rejected input changes
 * the state (the latest root stays, the pre_confirmed block stays empty, no block gets a
 * transaction).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { randomPrivateKey } from '../../node/crypto/index.ts';
import { createSigner, type Signer } from '../../node/client/index.ts';
import { orderHash, orderMessage } from '../../contracts-ts/index.ts';
import { WS_ONLY_METHODS } from '../../node/rpc/methods.ts';
import { HTTP_METHODS, startTestNode, until, type TestNode } from './rpc.fixtures.ts';

const SEED = 20260401;
const RUNS = 1000;
const hex = (x: bigint) => '0x' + x.toString(16);
const WRITES = new Set(['perp_deployAccount', 'perp_submitOrder', 'perp_cancelOrder', 'perp_cancelAll', 'perp_withdraw', 'perp_transfer', 'devnet_mint']);
const PARAM_NAMES = ['block_id', 'contract_address', 'key', 'transaction_hash', 'index', 'filter', 'response_flags', 'class_hashes', 'contract_addresses', 'contracts_storage_keys', 'order', 'signature', 'cancel', 'cancel_all', 'withdraw', 'transfer', 'address', 'order_hash', 'market', 'depth', 'limit', 'amount', 'public_key'];

/** Hostile JSON-ish values. */
const hostile: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 63), Number.MAX_VALUE, '', 'latest', 'pre_confirmed', 'l1_accepted', '0x', '0x-1', '-0x1', 'NaN', 'ALL', 'BTC-USD-PERP', 'BUY', 'LIMIT', '0x' + 'f'.repeat(64), '0x' + 'f'.repeat(65), '9'.repeat(200), '\u0000', '__proto__', 'constructor'),
    fc.bigInt({ min: 0n, max: 2n ** 300n }).map((x) => hex(x)),
    fc.bigInt({ min: -(2n ** 260n), max: 2n ** 260n }).map((x) => x.toString()),
    fc.string({ maxLength: 40 }),
    fc.integer(),
    fc.double(),
    fc.record({ block_number: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 5 })) }),
    fc.record({ block_hash: fc.oneof(fc.string({ maxLength: 5 }), fc.bigInt({ min: 0n, max: 2n ** 256n }).map(hex)) }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...PARAM_NAMES, 'account', 'orderHash', 'nonce', 'size', 'price', 'chunk_size', 'keys', 'continuation_token', 'x'), tie('value'), { maxKeys: 5 }),
  ),
})).value;

const request = fc.record(
  {
    jsonrpc: fc.oneof({ weight: 9, arbitrary: fc.constant('2.0') }, { weight: 1, arbitrary: fc.constantFrom('1.0', 2, null) }),
    id: fc.oneof({ weight: 4, arbitrary: fc.integer() }, { weight: 2, arbitrary: fc.string({ maxLength: 8 }) }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(1.5, true, [], {}) }),
    method: fc.oneof(fc.constantFrom(...HTTP_METHODS, ...WS_ONLY_METHODS), fc.constantFrom(...HTTP_METHODS), fc.string({ maxLength: 30 }), fc.constantFrom('admin_setMode', 'admin_rollback', 'rpc.discover', 'constructor', '__proto__', 'hasOwnProperty')),
    params: fc.oneof(fc.array(hostile, { maxLength: 5 }), fc.dictionary(fc.constantFrom(...PARAM_NAMES), hostile, { maxKeys: 5 }), hostile),
  },
  { requiredKeys: ['method'] },
);

const body = fc.oneof(
  { weight: 6, arbitrary: request.map((r) => JSON.stringify(r)) },
  { weight: 2, arbitrary: fc.array(request, { minLength: 0, maxLength: 6 }).map((rs) => JSON.stringify(rs)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: request.map((r) => JSON.stringify(r).slice(0, -3)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }).map((k) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'starknet_getBlockWithTxs', params: { block_id: { block_number: 0 } } }).replace('0}', `1${'0'.repeat(k * 100)}}`)) },
);

interface Answer {
  status: number;
  text: string;
}

async function post(url: string, data: string | Uint8Array): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof data === 'string' ? data : Buffer.from(data) });
  return { status: res.status, text: await res.text() };
}

/** Checks one answer; returns the error codes it carries. */
function checkAnswer(a: Answer, what: string): { codes: number[]; results: unknown[] } {
  expect([200, 204, 413], `${what}: HTTP ${a.status} ${a.text.slice(0, 200)}`).to.include(a.status);
  if (a.status === 204) {
    expect(a.text).to.equal('');
    return { codes: [], results: [] };
  }
  const j = JSON.parse(a.text);
  const items = Array.isArray(j) ? j : [j];
  const codes: number[] = [];
  const results: unknown[] = [];
  for (const it of items) {
    expect(it.jsonrpc, what).to.equal('2.0');
    expect(it, what).to.have.property('id');
    expect('result' in it !== 'error' in it, `${what}: exactly one of result/error`).to.equal(true);
    if (it.error) {
      expect(it.error.code, what).to.be.a('number');
      expect(it.error.message, what).to.be.a('string');
      expect(JSON.stringify(it.error), `${what}: no stack traces`).to.not.match(/\bat .*\.ts:\d+/);
      codes.push(it.error.code);
    } else results.push(it.result);
  }
  return { codes, results };
}

describe('RPC fuzzing (seeded)', function () {
  this.timeout(120_000);
  let t: TestNode;
  let alice: Signer;
  const replays: { method: string; params: unknown }[] = [];

  before(async () => {
    t = await startTestNode({ blockTimeMs: 50, heartbeatMs: 100 });
    alice = createSigner(randomPrivateKey());
    const cfg = await t.client.config();
    const chainId = BigInt(cfg.chain_id);
    // Accepted transactions whose exact requests are replayed later.
    const spy = t.client.rpc.call.bind(t.client.rpc);
    (t.client.rpc as any).call = async (m: string, p: unknown) => {
      if (m !== 'devnet_mint' && m.startsWith('perp_') && !m.startsWith('perp_get')) replays.push({ method: m, params: p });
      return spy(m, p);
    };
    await t.client.deployAccount(alice);
    await t.client.devnetMint(alice.address, '1000');
    await t.client.withdraw(alice, '1', '0x1234');
    await t.client.transfer(alice, t.dev[0]!.address, '1');
    const resting = await t.client.submitOrder(alice, { market: 'BTC-USD-PERP', side: 'BUY', size: '0.001', price: '60000' });
    await t.client.cancelOrder(alice, resting.order_hash);
    await t.client.cancelAll(alice, 'ALL');
    (t.client.rpc as any).call = spy;
    expect(replays.map((r) => r.method)).to.deep.equal(['perp_deployAccount', 'perp_withdraw', 'perp_transfer', 'perp_submitOrder', 'perp_cancelOrder', 'perp_cancelAll']);
    // Signed by the right key but breaking a rule, or tampered after signing.
    const base = t.client.buildOrder(alice, { market: 'BTC-USD-PERP', side: 'SELL', size: '0.001', price: '70000' });
    const signed = (o: typeof base) => ({ order: orderMessage(o), signature: alice.signHash(orderHash(o, chainId)).map(hex) });
    const bad = [
      signed({ ...base, expiry: 1n }),
      signed({ ...base, size: 1n }),
      signed({ ...base, price: 7_000_000_000_001n }),
      signed({ ...base, reduceOnly: true }),
      signed({ ...base, market: 'NOPE-USD-PERP' }),
      { ...signed(base), order: { ...orderMessage(base), size: '200000' } },
      { ...signed(base), signature: ['0x1', '0x2'] },
      { order: orderMessage(base), signature: createSigner(randomPrivateKey()).signHash(orderHash(base, chainId)).map(hex) },
    ];
    for (const p of bad) replays.push({ method: 'perp_submitOrder', params: p });
    // Wait until everything above is sealed, so the state is quiet.
    await until(async () => (await t.call('starknet_getBlockWithTxHashes', { block_id: 'pre_confirmed' })).transactions.length === 0 && t.node.producer.openBlock === null);
  });
  after(async () => t?.stop());

  it(`${RUNS} generated requests, hostile bodies and replays: no crash, always JSON-RPC, state unchanged`, async () => {
    const root0 = (await t.call('starknet_getBlockWithTxHashes', { block_id: 'latest' })).new_root;
    const head0 = await t.call('starknet_blockNumber');
    const worldRoot0 = t.node.chain.world.root;
    const codes = new Map<number, number>();
    const count = (cs: number[]) => cs.forEach((c) => codes.set(c, (codes.get(c) ?? 0) + 1));

    // 1. generated requests
    const bodies = fc.sample(body, { seed: SEED, numRuns: RUNS });
    for (const [i, b] of bodies.entries()) {
      const a = await post(t.url, b);
      const { codes: cs } = checkAnswer(a, `sample ${i}: ${b.slice(0, 300)}`);
      expect(cs, `sample ${i} hit an internal error: ${b.slice(0, 300)}`).to.not.include(-32603);
      count(cs);
      // A write call never succeeds on garbage.
      try {
        const j = JSON.parse(b);
        for (const r of Array.isArray(j) ? j : [j]) if (r && WRITES.has(r.method) && a.status === 200) {
          const answers = JSON.parse(a.text);
          for (const x of Array.isArray(answers) ? answers : [answers]) if (x.id === r.id && x.id !== undefined && 'result' in x && typeof r.id !== 'object') expect.fail(`write ${r.method} succeeded on ${b.slice(0, 300)}`);
        }
      } catch (e) {
        if ((e as Error).name === 'AssertionError') throw e;
      }
    }

    // 2. hostile bodies
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const hostileBodies: (string | Uint8Array)[] = [
      deep,
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'starknet_getEvents', params: { filter: { chunk_size: 10, keys: JSON.parse('['.repeat(500) + ']'.repeat(500)) } } }),
      `{"jsonrpc":"2.0","id":1,"method":"starknet_getEvents","params":{"filter":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}}`,
      '{"jsonrpc":"2.0","id":1e400,"method":"starknet_chainId"}',
      '{"jsonrpc":"2.0","id":1,"method":"starknet_getBlockWithTxs","params":{"block_id":{"block_number":1e400}}}',
      `{"jsonrpc":"2.0","id":1,"method":"starknet_getStorageAt","params":["0x${'f'.repeat(70)}","0x1","latest"]}`,
      `{"jsonrpc":"2.0","id":1,"method":"perp_getAccount","params":["${'9'.repeat(5000)}"]}`,
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x'.repeat(100_000) }),
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'starknet_chainId', params: { ['y'.repeat(100_000)]: 1 } }),
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'starknet_chainId', params: ['z'.repeat((1 << 20) + 1)] }),
      'z'.repeat((1 << 20) + 100),
      Uint8Array.from([0x7b, 0xff, 0xfe, 0xfd, 0x22, 0x80, 0x7d]),
      Uint8Array.from([0xef, 0xbb, 0xbf, ...Buffer.from('{"jsonrpc":"2.0","id":1,"method":"starknet_chainId"}')]),
      '',
      'null',
      '[[]]',
      '[null, 1, "x"]',
      JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'starknet_getStorageProof', params: { block_id: 'latest', contract_addresses: Array.from({ length: 300 }, (_, k) => hex(BigInt(k + 1))) } }))),
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'starknet_getStateUpdate', params: { block_id: 'latest', contract_addresses: Array.from({ length: 5000 }, (_, k) => hex(BigInt(k))) } }),
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'perp_getOrderBook', params: { market: 'BTC-USD-PERP', depth: 1e9 } }),
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'perp_getTrades', params: { market: 'BTC-USD-PERP', limit: -5 } }),
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'starknet_getEvents', params: { filter: { chunk_size: 5, continuation_token: '99999999-0' } } }),
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'starknet_getEvents', params: { filter: { chunk_size: 5, continuation_token: '0-999999' } } }),
    ];
    for (const [i, b] of hostileBodies.entries()) {
      const a = await post(t.url, b);
      const { codes: cs } = checkAnswer(a, `hostile ${i}`);
      expect(cs, `hostile ${i} hit an internal error`).to.not.include(-32603);
      if (a.status === 200 && !(typeof b === 'string' && b.startsWith('[') && b.length < 20)) expect(cs.length, `hostile ${i} must be answered with an error`).to.be.greaterThan(0);
      count(cs);
    }

    // 3. replays and signed-but-invalid transactions: all rejected
    for (const r of replays) {
      const a = await post(t.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: r.method, params: r.params }));
      const { codes: cs, results } = checkAnswer(a, `replay ${r.method}`);
      expect(results, `replay of ${r.method} was accepted`).to.deep.equal([]);
      expect(cs.length).to.equal(1);
      expect(cs[0]).to.not.equal(-32603);
      count(cs);
    }

    if (process.env.FUZZ_DEBUG) console.log([...codes].sort((x, y) => x[0] - y[0]));
    // The node is alive, and nothing changed the state.
    expect(await t.call('starknet_chainId')).to.match(/^0x/);
    const head1 = await t.call('starknet_blockNumber');
    for (let n = head0 + 1; n <= head1; n++) expect((await t.call('starknet_getBlockWithTxHashes', { block_id: { block_number: n } })).transactions, `block ${n}`).to.deep.equal([]);
    expect((await t.call('starknet_getBlockWithTxHashes', { block_id: 'latest' })).new_root).to.equal(root0);
    const pre = await t.call('starknet_getBlockWithTxHashes', { block_id: 'pre_confirmed' });
    expect(pre.transactions).to.deep.equal([]);
    const preDiff = (await t.call('starknet_getStateUpdate', { block_id: 'pre_confirmed' })).state_diff;
    expect(preDiff.storage_diffs).to.deep.equal([]);
    expect(preDiff.nonces).to.deep.equal([]);
    expect(t.node.chain.world.root).to.equal(worldRoot0);
    // The run exercised the error paths it claims to (parse, invalid request, unknown method, params, signature/rules).
    for (const c of [-32700, -32600, -32601, -32602, 11005]) expect(codes.get(c) ?? 0, `error ${c} never seen`).to.be.greaterThan(0);
    expect([...codes.keys()].some((c) => c === 55 || c === 52 || c === 59 || c >= 10000)).to.equal(true);
  });
});
