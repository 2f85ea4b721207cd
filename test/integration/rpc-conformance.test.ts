/**
 * JSON-RPC conformance over HTTP against an in-process sequencer: every listed method is routed
 * and answers with valid params; batch, id, params and error rules; the Starknet error codes.
 */
import { expect } from 'chai';
import { randomPrivateKey, sign } from '../../node/crypto/index.ts';
import { createSigner, parseSize, parsePrice, type Signer } from '../../node/client/index.ts';
import { ACC } from '../../contracts-ts/layout.ts';
import { ACCOUNT_CLASS, deployAccountHash, eventSelector, oracleUpdateHash } from '../../contracts-ts/index.ts';
import { selectorOf } from '../../contracts-ts/starknet/abi.ts';
import { deployAccountTxHash, v3TxJson, type DeployAccountV3Tx } from '../../contracts-ts/starknet/tx.ts';
import { rpcMethods } from '../../node/rpc/methods.ts';
import { HTTP_METHODS, startTestNode, until, type TestNode } from './rpc.fixtures.ts';


const hex = (x: bigint) => '0x' + x.toString(16);
const BTC = 'BTC-USD-PERP';
/** For methods that answer an error by design here (no CASM, no L1, no declare, no orphan). */
const errorCode = (p: Promise<unknown>) => p.then(() => 'no error', (e: any) => e.code);

function v3Invoke(s: Signer, nonce: bigint) {
  const zero = { maxAmount: 0n, maxPricePerUnit: 0n };
  return v3TxJson({ type: 'INVOKE', sender: s.address, calldata: [0n], nonce, signature: [], resourceBounds: { l1Gas: zero, l1DataGas: zero, l2Gas: zero }, tip: 0n, paymasterData: [], accountDeploymentData: [], nonceDaMode: 'L1', feeDaMode: 'L1', query: true, cancelAllHashes: [] });
}

describe('JSON-RPC conformance (HTTP)', function () {
  this.timeout(60_000);
  let t: TestNode;
  let maker: Signer;
  let taker: Signer;
  let fresh: Signer;
  let tradeTx: string;
  let tradeBlock: number;
  let restingHash: string;

  before(async () => {
    t = await startTestNode({ blockTimeMs: 100 });
    [maker, taker] = t.dev as [Signer, Signer];
    fresh = createSigner(randomPrivateKey());
    await t.client.submitOrder(maker, { market: BTC, side: 'SELL', size: '0.01', price: '65000' });
    const r = await t.client.submitOrder(taker, { market: BTC, side: 'BUY', size: '0.01', price: '65000' });
    expect(r.status).to.equal('FILLED');
    tradeTx = r.fills[0].transaction_hash;
    const receipt = await t.client.waitForTransaction(tradeTx, { intervalMs: 20 });
    tradeBlock = receipt.block_number;
    restingHash = (await t.client.submitOrder(maker, { market: BTC, side: 'SELL', size: '0.01', price: '70000' })).order_hash;
  });
  after(async () => t?.stop());

  it('serves exactly the listed methods over HTTP', () => {
    const served = Object.keys(rpcMethods({ chain: t.node.chain.chain, world: t.node.chain.world, genesis: t.node.chain.genesis }));
    expect([...served].sort()).to.deep.equal([...HTTP_METHODS].sort());
  });

  it('routes every listed method: each answers a result for valid params', async () => {
    const d0 = hex(maker.address);
    const calls: Record<string, () => Promise<any>> = {
      starknet_specVersion: () => t.call('starknet_specVersion'),
      starknet_chainId: () => t.call('starknet_chainId', []),
      starknet_blockNumber: () => t.call('starknet_blockNumber'),
      starknet_blockHashAndNumber: () => t.call('starknet_blockHashAndNumber'),
      starknet_syncing: () => t.call('starknet_syncing'),
      starknet_getBlockWithTxHashes: () => t.call('starknet_getBlockWithTxHashes', { block_id: { block_number: tradeBlock } }),
      starknet_getBlockWithTxs: () => t.call('starknet_getBlockWithTxs', { block_id: { block_number: tradeBlock } }),
      starknet_getBlockWithReceipts: () => t.call('starknet_getBlockWithReceipts', [{ block_number: tradeBlock }]),
      starknet_getBlockTransactionCount: () => t.call('starknet_getBlockTransactionCount', { block_id: 'latest' }),
      starknet_getStateUpdate: () => t.call('starknet_getStateUpdate', { block_id: { block_number: tradeBlock } }),
      starknet_getStorageAt: () => t.call('starknet_getStorageAt', [d0, hex(ACC.collateral), 'latest']),
      starknet_getNonce: () => t.call('starknet_getNonce', ['latest', d0]),
      starknet_getClassHashAt: () => t.call('starknet_getClassHashAt', { block_id: 'latest', contract_address: d0 }),
      starknet_getTransactionByHash: () => t.call('starknet_getTransactionByHash', { transaction_hash: tradeTx }),
      starknet_getTransactionByBlockIdAndIndex: () => t.call('starknet_getTransactionByBlockIdAndIndex', { block_id: { block_number: tradeBlock }, index: 0 }),
      starknet_getTransactionReceipt: () => t.call('starknet_getTransactionReceipt', { transaction_hash: tradeTx }),
      starknet_getTransactionStatus: () => t.call('starknet_getTransactionStatus', [tradeTx]),
      starknet_getEvents: () => t.call('starknet_getEvents', { filter: { from_block: { block_number: 0 }, to_block: 'latest', chunk_size: 10 } }),
      starknet_getStorageProof: () => t.call('starknet_getStorageProof', { block_id: 'latest', contract_addresses: [d0] }),
      perp_sequencerSignature: () => t.call('perp_sequencerSignature', { block_id: 'latest' }),
      starknet_getClass: () => t.call('starknet_getClass', { block_id: 'latest', class_hash: hex(ACCOUNT_CLASS.classHash) }),
      starknet_getClassAt: () => t.call('starknet_getClassAt', { block_id: 'latest', contract_address: d0 }),
      starknet_getCompiledCasm: () => errorCode(t.call('starknet_getCompiledCasm', { class_hash: hex(ACCOUNT_CLASS.classHash) })),
      starknet_call: () => t.call('starknet_call', { request: { contract_address: d0, entry_point_selector: hex(selectorOf('get_public_key')), calldata: [] }, block_id: 'latest' }),
      starknet_estimateFee: async () => t.call('starknet_estimateFee', { request: [v3Invoke(maker, await t.client.nonce(maker.address))], simulation_flags: ['SKIP_VALIDATE'], block_id: 'pre_confirmed' }),
      starknet_estimateMessageFee: () => errorCode(t.call('starknet_estimateMessageFee', { message: { from_address: '0x1', to_address: d0, entry_point_selector: '0x1', payload: [] }, block_id: 'latest' })),
      starknet_getMessagesStatus: () => errorCode(t.call('starknet_getMessagesStatus', { transaction_hash: '0x1' })),
      starknet_simulateTransactions: async () => t.call('starknet_simulateTransactions', { block_id: 'pre_confirmed', transactions: [v3Invoke(maker, await t.client.nonce(maker.address))], simulation_flags: ['SKIP_VALIDATE'] }),
      starknet_traceTransaction: () => t.call('starknet_traceTransaction', { transaction_hash: tradeTx }),
      starknet_traceBlockTransactions: () => t.call('starknet_traceBlockTransactions', { block_id: { block_number: tradeBlock } }),
      starknet_addInvokeTransaction: () => t.client.invoke(maker, [{ contract: 'exchange', entrypoint: 'withdraw', calldata: [1n, 0xabcn] }]),
      starknet_addDeployAccountTransaction: () => {
        const s = createSigner(randomPrivateKey());
        const zero = { maxAmount: 0n, maxPricePerUnit: 0n };
        const d: DeployAccountV3Tx = { type: 'DEPLOY_ACCOUNT_V3', classHash: ACCOUNT_CLASS.classHash, salt: s.publicKey, constructorCalldata: [s.publicKey], nonce: 0n, signature: [], resourceBounds: { l1Gas: zero, l1DataGas: zero, l2Gas: zero }, tip: 0n, paymasterData: [], nonceDaMode: 'L1', feeDaMode: 'L1', query: false };
        d.signature = s.signHash(deployAccountTxHash(d, s.address, t.node.chain.genesis.chainId));
        return t.call('starknet_addDeployAccountTransaction', { deploy_account_transaction: v3TxJson(d) });
      },
      starknet_addDeclareTransaction: () => errorCode(t.call('starknet_addDeclareTransaction', { declare_transaction: { type: 'DECLARE', version: '0x3' } })),
      perp_getOrphanedBlock: () => errorCode(t.call('perp_getOrphanedBlock', { block_hash: '0x1' })),
      perp_getOrphanedTransaction: () => errorCode(t.call('perp_getOrphanedTransaction', { transaction_hash: tradeTx })),
      perp_getConfig: () => t.call('perp_getConfig'),
      perp_deployAccount: () => t.client.deployAccount(fresh),
      perp_submitOrder: () => t.client.submitOrder(taker, { market: BTC, side: 'BUY', size: '0.01', price: '60000' }),
      perp_cancelOrder: () => t.client.cancelOrder(maker, restingHash),
      perp_cancelAll: () => t.client.cancelAll(taker, BTC),
      perp_withdraw: () => t.client.withdraw(maker, '1', '0xabc'),
      perp_transfer: () => t.client.transfer(maker, taker.address, '1'),
      perp_getAccount: () => t.call('perp_getAccount', { address: d0 }),
      perp_getOrders: () => t.call('perp_getOrders', [d0]),
      perp_getOrder: () => t.call('perp_getOrder', { order_hash: restingHash }),
      perp_getOrderBook: () => t.call('perp_getOrderBook', { market: BTC, depth: 5 }),
      perp_getTrades: () => t.call('perp_getTrades', { market: BTC, limit: 10 }),
      perp_getMarkets: () => t.call('perp_getMarkets'),
      perp_getFunding: () => t.call('perp_getFunding', [BTC]),
      perp_getVault: () => t.call('perp_getVault'),
      devnet_mint: () => t.client.devnetMint(maker.address, '5'),
      perp_submitOracleUpdate: () => {
        const g = t.node.chain.genesis;
        const oracle = g.exchange.oracles[0]!;
        const ts = BigInt(Math.floor(Date.now() / 1000)) + 5n;
        const prices = [{ market: BTC, price: 65_000n * 10n ** 8n }];
        const s = sign(oracleUpdateHash({ timestamp: ts, prices }, oracle.publicKey, g.chainId), oracle.privateKey!);
        return t.call('perp_submitOracleUpdate', { oracle_update: { signer: hex(oracle.publicKey), timestamp: hex(ts), prices: prices.map((p) => ({ market: p.market, price: hex(p.price) })) }, signature: [hex(s.r), hex(s.s)] });
      },
    };
    expect(Object.keys(calls).sort()).to.deep.equal([...HTTP_METHODS].sort());
    for (const name of HTTP_METHODS) {
      const r = await calls[name]!();
      expect(r, name).to.not.equal(undefined);
    }
    // A few shapes that tools depend on.
    expect(await t.call('starknet_specVersion')).to.equal('0.10.2');
    const status = await t.call('starknet_getTransactionStatus', [tradeTx]);
    expect(status).to.deep.equal({ finality_status: 'ACCEPTED_ON_L2', execution_status: 'SUCCEEDED' });
    const tx = await t.call('starknet_getTransactionByHash', { transaction_hash: tradeTx });
    expect(tx).to.include({ type: 'INVOKE', version: '0x3', transaction_hash: tradeTx, sender_address: hex(taker.address) });
    expect(tx.calldata[0]).to.equal(hex(BigInt('0x' + Buffer.from('PERP_TRADE').toString('hex'))));
    const receipt = await t.call('starknet_getTransactionReceipt', { transaction_hash: tradeTx });
    expect(receipt).to.include({ execution_status: 'SUCCEEDED', finality_status: 'ACCEPTED_ON_L2', block_number: tradeBlock });
    expect(receipt.actual_fee).to.deep.equal({ amount: '0x0', unit: 'FRI' });
    expect(receipt.events.some((e: any) => e.keys[0] === hex(eventSelector('Trade')))).to.equal(true);
    const order = await t.call('perp_getOrder', { order_hash: restingHash });
    expect(order.status).to.equal('CANCELLED');
    expect(order.on_chain.cancelled).to.equal(true);
  });

  it('pre_confirmed: a transaction is visible at once, PRE_CONFIRMED, then ACCEPTED_ON_L2', async () => {
    const s = createSigner(randomPrivateKey());
    const sig = s.signHash(deployAccountHash(s.publicKey, t.node.chain.genesis.chainId));
    // The deployment executes in an open-block session, and the reads run while it holds the
    // producer lock (reads take no lock), so the block cannot seal under them however slow the
    // machine is; then the lock is released and the block seals.
    const transaction_hash = await t.node.producer.inOpenBlock(async (blk) => {
      const transaction_hash = hex(blk.execute({ type: 'DEPLOY_ACCOUNT', publicKey: s.publicKey, signature: sig }).hash);
      expect((await t.call('starknet_getTransactionStatus', { transaction_hash })).finality_status).to.equal('PRE_CONFIRMED');
      const pre = await t.call('starknet_getBlockWithTxHashes', { block_id: 'pre_confirmed' });
      expect(pre.transactions).to.include(transaction_hash);
      expect(pre).to.not.have.property('block_hash');
      const r = await t.call('starknet_getTransactionReceipt', { transaction_hash });
      expect(r.finality_status).to.equal('PRE_CONFIRMED');
      expect(r).to.not.have.property('block_hash');
      expect(await t.call('starknet_getNonce', { block_id: 'pre_confirmed', contract_address: hex(s.address) })).to.equal('0x1');
      return transaction_hash;
    });
    const done = await t.client.waitForTransaction(transaction_hash, { intervalMs: 20 });
    expect(done.finality_status).to.equal('ACCEPTED_ON_L2');
    expect(done.block_hash).to.match(/^0x[0-9a-f]+$/);
    // l1_accepted is block 0 (no L1 settlement).
    const l1 = await t.call('starknet_getBlockWithTxHashes', { block_id: 'l1_accepted' });
    expect(l1.block_number).to.equal(0);
  });

  it('reads state at older blocks from the tries', async () => {
    const before = await t.call('starknet_getStorageAt', { contract_address: hex(taker.address), key: hex(ACC.collateral), block_id: { block_number: tradeBlock - 1 } });
    const after = await t.call('starknet_getStorageAt', { contract_address: hex(taker.address), key: hex(ACC.collateral), block_id: { block_number: tradeBlock } });
    expect(BigInt(before)).to.equal(100_000n * 1_000_000n);
    expect(BigInt(after) < BigInt(before), 'the taker paid a fee').to.equal(true);
    const flagged = await t.call('starknet_getStorageAt', { contract_address: hex(taker.address), key: hex(ACC.collateral), block_id: 'latest', response_flags: ['INCLUDE_LAST_UPDATE_BLOCK'] });
    expect(flagged.last_update_block).to.be.at.least(tradeBlock);
    const su = await t.call('starknet_getStateUpdate', { block_id: { block_number: tradeBlock }, contract_addresses: [hex(taker.address)] });
    expect(su.state_diff.storage_diffs.map((d: any) => d.address)).to.deep.equal([hex(taker.address)]);
    const prev = await t.call('starknet_getBlockWithTxHashes', { block_id: { block_number: tradeBlock - 1 } });
    expect(su.old_root).to.equal(prev.new_root);
    expect(await t.call('starknet_getNonce', { block_id: { block_number: 0 }, contract_address: hex(maker.address) })).to.equal('0x1');
  });

  it('getEvents pages with continuation tokens through exactly the full result', async () => {
    const filter = { from_block: { block_number: 0 }, to_block: 'latest', chunk_size: 1000 };
    const all = (await t.call('starknet_getEvents', { filter })).events;
    expect(all.length).to.be.greaterThan(3);
    const paged: any[] = [];
    let token: string | undefined;
    do {
      const r = await t.call('starknet_getEvents', { filter: { ...filter, chunk_size: 2, ...(token ? { continuation_token: token } : {}) } });
      expect(r.events.length).to.be.at.most(2);
      paged.push(...r.events);
      token = r.continuation_token;
    } while (token);
    expect(paged).to.deep.equal(all.slice(0, paged.length));
    expect(paged.length).to.equal(all.length);
    const trades = (await t.call('starknet_getEvents', { filter: { ...filter, keys: [[hex(eventSelector('Trade'))], [hex(maker.address)]] } })).events;
    expect(trades.length).to.equal(1);
    expect(trades[0].transaction_hash).to.equal(tradeTx);
  });

  it('batch, id and params rules', async () => {
    const r1 = await t.raw([
      { jsonrpc: '2.0', id: 'a', method: 'starknet_chainId' },
      { jsonrpc: '2.0', method: 'starknet_chainId' },
      { jsonrpc: '2.0', id: 7, method: 'no_such_method' },
      { jsonrpc: '2.0', id: null, method: 'starknet_getStorageAt', params: [hex(maker.address), hex(ACC.collateral), 'latest'] },
      { jsonrpc: '1.0', id: 9, method: 'starknet_chainId' },
      5,
    ]);
    expect(r1.status).to.equal(200);
    const byId = r1.json as any[];
    expect(byId.length).to.equal(5); // the notification gets no answer
    expect(byId[0]).to.deep.equal({ jsonrpc: '2.0', id: 'a', result: '0x' + Buffer.from('PERPNODE_DEVNET').toString('hex') });
    expect(byId[1]).to.include({ id: 7 });
    expect(byId[1].error.code).to.equal(-32601);
    expect(byId[2].id).to.equal(null);
    expect(byId[2].result).to.match(/^0x/);
    expect(byId[3].error.code).to.equal(-32600);
    expect(byId[4]).to.deep.include({ id: null });
    expect(byId[4].error.code).to.equal(-32600);
    const onlyNotes = await t.raw([{ jsonrpc: '2.0', method: 'starknet_chainId' }]);
    expect(onlyNotes.status).to.equal(204);
    expect(onlyNotes.text).to.equal('');
    const empty = await t.raw([]);
    expect(empty.json).to.deep.include({ id: null });
    expect(empty.json.error.code).to.equal(-32600);
    const parse = await t.raw('{"jsonrpc":"2.0","id":1,"method":');
    expect(parse.json).to.deep.equal({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    const big = await t.raw(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'starknet_chainId' })));
    expect(big.json.error.code).to.equal(11005);
    const missing = await t.raw({ jsonrpc: '2.0', id: 1, method: 'starknet_getNonce', params: { block_id: 'latest' } });
    expect(missing.json.error.code).to.equal(-32602);
    expect(missing.json.error.data).to.contain('contract_address');
    const badType = await t.raw({ jsonrpc: '2.0', id: 1, method: 'starknet_getBlockWithTxHashes', params: { block_id: { block_number: -1 } } });
    expect(badType.json.error.code).to.equal(-32602);
    expect(badType.json.error.data).to.contain('block_id');
    const absent = await t.raw({ jsonrpc: '2.0', id: 2, method: 'perp_getMarkets' });
    expect(absent.json.result).to.be.an('array');
  });

  it('HTTP limits: oversized body, unknown path, wrong verb', async () => {
    const huge = 'x'.repeat((1 << 20) + 10);
    const r = await t.raw(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'starknet_chainId', params: [huge] }));
    expect(r.status).to.equal(413);
    expect(r.json.error.code).to.equal(11005);
    const path = await fetch(t.url + '/nope', { method: 'POST', body: '{}' });
    expect(path.status).to.equal(404);
    expect(((await path.json()) as any).error.code).to.equal(-32600);
    const get = await fetch(t.url + '/rpc/v0_10', { method: 'GET' });
    expect(get.status).to.equal(405);
    const page = await fetch(t.url, { method: 'GET' }); // GET / is the status page
    expect(page.headers.get('content-type')).to.contain('text/html');
    const v010 = await fetch(t.url + '/rpc/v0_10', { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'starknet_blockNumber' }) });
    expect(((await v010.json()) as any).result).to.be.a('number');
  });

  it('Starknet error codes: 20, 24, 27, 29, 31, 33, 34', async () => {
    const code = async (method: string, params: unknown) => (await t.raw({ jsonrpc: '2.0', id: 1, method, params })).json.error?.code;
    expect(await code('starknet_getNonce', { block_id: 'latest', contract_address: '0x1234' })).to.equal(20);
    expect(await code('starknet_getBlockWithTxs', { block_id: { block_number: 10_000_000 } })).to.equal(24);
    expect(await code('starknet_getBlockWithTxs', { block_id: { block_hash: '0x1234' } })).to.equal(24);
    expect(await code('starknet_getTransactionByBlockIdAndIndex', { block_id: { block_number: tradeBlock }, index: 999 })).to.equal(27);
    expect(await code('starknet_getTransactionReceipt', { transaction_hash: '0x1234' })).to.equal(29);
    expect(await code('starknet_getEvents', { filter: { chunk_size: 100_000 } })).to.equal(31);
    expect(await code('starknet_getEvents', { filter: { chunk_size: 10, continuation_token: 'garbage' } })).to.equal(33);
    expect(await code('starknet_getEvents', { filter: { chunk_size: 10, keys: Array.from({ length: 40 }, () => ['0x1']) } })).to.equal(34);
  });

  it('trading errors: 55 bad signature, 52 bad nonce, 59 duplicate, perpnode codes with a reason', async () => {
    const cfg = await t.client.config();
    // An order signed by a key that is not the account's.
    const order = t.client.buildOrder(maker, { market: BTC, side: 'BUY', size: '0.01', price: '60000' });
    const intruder = createSigner(randomPrivateKey());
    const wrong = { ...intruder, address: maker.address, signHash: intruder.signHash };
    const bad = await t.client.submitOrder(wrong as Signer, order).catch((e) => e);
    expect(bad.code).to.equal(55);
    expect(bad.data.reason).to.equal('BAD_SIGNATURE');
    // A withdraw with a stale nonce.
    const nonce = await t.client.nonce(maker.address);
    const { withdrawHash } = await import('../../contracts-ts/index.ts');
    const m = { account: maker.address, amount: 1n, recipient: 0xabcn, nonce: nonce + 5n };
    const [r, s] = maker.signHash(withdrawHash(m, BigInt(cfg.chain_id)));
    const stale = await t.raw({ jsonrpc: '2.0', id: 1, method: 'perp_withdraw', params: { withdraw: { account: hex(m.account), amount: '1', recipient: '0xabc', nonce: hex(m.nonce) }, signature: [hex(r), hex(s)] } });
    expect(stale.json.error.code).to.equal(52);
    // The same order twice.
    const o2 = t.client.buildOrder(taker, { market: BTC, side: 'BUY', size: '0.01', price: '50000' });
    expect((await t.client.submitOrder(taker, o2)).status).to.equal('OPEN');
    const dup = await t.client.submitOrder(taker, o2).catch((e) => e);
    expect(dup.code).to.equal(59);
    // Deploying an account twice.
    const again = await t.client.deployAccount(fresh).catch((e) => e);
    expect(again.code).to.not.equal(undefined);
    expect([59, 10002]).to.include(again.code);
    // More than the free collateral: a perpnode code from 10000 up, with the rule named.
    const tooBig = await t.client.withdraw(fresh, '1000000', '0xabc').catch((e) => e);
    expect(tooBig.code).to.equal(10017);
    expect(tooBig.data.reason).to.equal('INSUFFICIENT_COLLATERAL');
    const unknown = await t.call('perp_getOrderBook', { market: 'DOGE-USD-PERP' }).catch((e) => e);
    expect(unknown.data.reason).to.equal('UNKNOWN_MARKET');
    expect(parseSize('0.01')).to.equal(1_000_000n);
    expect(parsePrice('65000')).to.equal(6_500_000_000_000n);
  });

  it('perp reads: account with positions, order book, trades, markets, funding, vault', async () => {
    const acct = await t.call('perp_getAccount', { address: hex(taker.address) });
    expect(acct.positions[0]).to.include({ market: BTC, side: 'LONG', size: '1000000', entry_price: '6500000000000' });
    for (const k of ['collateral', 'equity', 'unrealized_pnl', 'pending_funding', 'initial_margin', 'maintenance_margin', 'margin_ratio', 'free_collateral', 'withdrawable']) expect(acct, k).to.have.property(k);
    expect(acct.positions[0]).to.have.property('liquidation_price');
    const book = await t.call('perp_getOrderBook', { market: BTC });
    expect(book.bids.length).to.be.greaterThan(0);
    const trades = await t.call('perp_getTrades', { market: BTC });
    expect(trades.some((x: any) => x.transaction_hash === tradeTx && x.size === '1000000' && x.taker_side === 'BUY')).to.equal(true);
    const markets = await t.call('perp_getMarkets');
    expect(markets.find((x: any) => x.symbol === BTC).long_open_interest).to.equal('1000000');
    const f = await t.call('perp_getFunding', { market: BTC });
    expect(f).to.include.keys('index', 'rate', 'history');
    const v = await t.call('perp_getVault');
    expect(BigInt(v.balance) > 0n).to.equal(true);
    const orders = await t.call('perp_getOrders', { address: hex(maker.address) });
    expect(orders.length).to.be.greaterThan(0);
    await until(async () => (await t.call('perp_getTrades', { market: BTC }))[0]?.finality_status === 'ACCEPTED_ON_L2');
  });

  it('trade history filled from the chain (head backwards) matches the one followed live', async () => {
    for (const px of ['65100', '65200']) {
      await t.client.submitOrder(maker, { market: BTC, side: 'SELL', size: '0.001', price: px });
      const r = await t.client.submitOrder(taker, { market: BTC, side: 'BUY', size: '0.001', price: px });
      await t.client.waitForTransaction(r.fills[0].transaction_hash, { intervalMs: 20 });
    }
    const live = await t.call('perp_getTrades', { market: BTC, limit: 2 });
    expect(live.map((x: any) => x.price)).to.deep.equal(['6520000000000', '6510000000000']);
    const { MarketFeed } = await import('../../node/rpc/perp.ts');
    const modules = { chain: t.node.chain.chain, world: t.node.chain.world, genesis: t.node.chain.genesis };
    const fresh = new MarketFeed(modules, { maxTradesPerMarket: 2, maxFundingPerMarket: 10, backfillBlocks: 10_000 });
    expect(await fresh.recentTrades(BTC, 10)).to.deep.equal(live);
  });

  describe('per-account rate limit', () => {
    let slow: TestNode;
    before(async () => (slow = await startTestNode({ rpc: { perp: { accountRatePerSec: 0.5, accountBurst: 2 } } })));
    after(async () => slow?.stop());
    it('limits trading calls per account, not per connection', async () => {
      const [x, y] = slow.dev as [Signer, Signer];
      const order = () => ({ market: BTC, side: 'BUY' as const, size: '0.001', price: '50000' });
      await slow.client.submitOrder(x, order());
      await slow.client.submitOrder(x, order());
      const third = await slow.client.submitOrder(x, order()).catch((e) => e);
      expect(third.code).to.equal(11004);
      expect(third.data).to.contain(hex(x.address));
      expect((await slow.client.submitOrder(y, order())).status).to.equal('OPEN');
      expect((await slow.call('perp_getAccount', { address: hex(x.address) })).address).to.equal(hex(x.address)); // reads are not limited per account
    });
  });
});
