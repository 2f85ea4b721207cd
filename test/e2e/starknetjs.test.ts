/**
 * starknet.js against a real perpnode process: RpcProvider reads, waitForTransaction on a
 * wallet-caused transaction, an order signed with starknet.js by two accounts that cross into
 * positions, and a storage proof verified client-side against the signed block's root.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RpcProvider, typedData, ec, Account, hash as snHash, type TypedData } from 'starknet';
import { ROOT, startNodeProc, type NodeProc } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';
import { headerFromJson } from '../../node/chain/block.ts';
import { blockHash } from '../../node/chain/header.ts';
import { contractLeaf, globalRoot } from '../../node/state/commitment.ts';
import { verify } from '../../node/crypto/index.ts';
import { verifyProof, type ProofNode } from '../../node/trie/index.ts';
import { PerpClient } from '../../node/client/index.ts';

const BTC = 'BTC-USD-PERP';
const hex = (x: bigint) => '0x' + x.toString(16);

let nextId = 1;
async function rpc(url: string, method: string, params?: unknown): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }) });
  const j = (await res.json()) as any;
  if (j.error) throw Object.assign(new Error(`${method}: ${j.error.message} ${JSON.stringify(j.error.data ?? '')}`), { rpc: j.error });
  return j.result;
}

/** Typed data built the way a wallet would: domain and types from perp_getConfig. */
function typed(cfg: any, primaryType: string, message: Record<string, unknown>): TypedData {
  return { types: { StarknetDomain: [{ name: 'name', type: 'shortstring' }, { name: 'version', type: 'shortstring' }, { name: 'chainId', type: 'shortstring' }, { name: 'revision', type: 'shortstring' }], [primaryType]: cfg.typed_data_types[primaryType] }, primaryType, domain: cfg.typed_data_domain, message } as TypedData;
}

const toProof = (list: any[]): ProofNode[] =>
  list.map((e) => ({ node_hash: BigInt(e.node_hash), node: 'left' in e.node ? { left: BigInt(e.node.left), right: BigInt(e.node.right) } : { child: BigInt(e.node.child), path: BigInt(e.node.path), length: e.node.length } }));

describe('starknet.js against a perpnode process (e2e)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let node: NodeProc;
  let provider: RpcProvider;
  let genesis: any;
  let cfg: any;
  let dev: { address: string; private_key: string; public_key: string; balance: string }[];
  let tradeTx: string;

  before(async () => {
    tmp = tempDir();
    genesis = JSON.parse(readFileSync(join(ROOT, 'genesis/devnet.json'), 'utf8'));
    genesis.block_time_ms = 100;
    genesis.heartbeat_ms = 300;
    const g = join(tmp.path, 'genesis.json');
    writeFileSync(g, JSON.stringify(genesis));
    node = await startNodeProc(['--data-dir', join(tmp.path, 'data'), '--genesis', g, '--feeder', 'off', '--p2p-port', 'off']);
    provider = new RpcProvider({ nodeUrl: node.url });
    cfg = await rpc(node.url, 'perp_getConfig');
    dev = genesis.exchange.dev_accounts;
  });
  after(async () => {
    await node?.stop();
    tmp?.cleanup();
  });

  it('RpcProvider reads: chain id, block number, blocks, nonce, storage, state update', async () => {
    expect(await provider.getSpecVersion()).to.equal('0.10.2');
    expect(await provider.getChainId()).to.equal(hex(BigInt('0x' + Buffer.from('PERPNODE_DEVNET').toString('hex'))));
    const n = await provider.getBlockNumber();
    expect(n).to.be.a('number');
    const latest: any = await provider.getBlock('latest');
    expect(latest.block_number).to.be.at.least(n);
    expect(latest.status).to.equal('ACCEPTED_ON_L2');
    const b0: any = await provider.getBlockWithTxs(0);
    expect(b0.block_number).to.equal(0);
    expect(b0.parent_hash).to.equal('0x0');
    expect(hex(blockHash(headerFromJson(b0)))).to.equal(b0.block_hash);
    expect(await provider.getNonceForAddress(dev[0]!.address, 'latest')).to.equal('0x1');
    const collateralKey = cfg.account_storage.collateral;
    const st: any = await provider.getStorageAt(dev[0]!.address, collateralKey, 'latest');
    expect(BigInt(st.value ?? st)).to.equal(BigInt(dev[0]!.balance) * 1_000_000n);
    expect(await provider.getClassHashAt(dev[0]!.address, 'latest')).to.equal(cfg.class_hashes.account);
    const su: any = await provider.getStateUpdate(0);
    expect(su.old_root).to.equal('0x0');
    expect(su.new_root).to.equal(b0.new_root);
    expect(su.state_diff.deployed_contracts.map((c: any) => c.address)).to.include(dev[0]!.address);
  });

  it('waitForTransaction on a wallet-caused transaction (an account deployed with a starknet.js signature)', async () => {
    const priv = '0x' + Buffer.from(ec.starkCurve.utils.randomPrivateKey()).toString('hex');
    const pub = ec.starkCurve.getStarkKey(priv);
    const address = snHash.calculateContractAddressFromHash(pub, cfg.class_hashes.account, [pub], 0);
    const td = typed(cfg, 'DeployAccount', { publicKey: pub });
    const sig = ec.starkCurve.sign(typedData.getMessageHash(td, address), priv);
    const r = await rpc(node.url, 'perp_deployAccount', { public_key: pub, signature: [hex(sig.r), hex(sig.s)] });
    expect(BigInt(r.address)).to.equal(BigInt(address));
    const receipt: any = await provider.waitForTransaction(r.transaction_hash, { retryInterval: 100 });
    expect(receipt.isSuccess()).to.equal(true);
    expect(receipt.finality_status).to.equal('ACCEPTED_ON_L2');
    expect(receipt.block_hash).to.match(/^0x/);
    const tx: any = await provider.getTransactionByHash(r.transaction_hash);
    expect(tx.type).to.equal('INVOKE');
    expect(BigInt(tx.sender_address)).to.equal(BigInt(address));
    expect(tx.signature).to.deep.equal([hex(sig.r), hex(sig.s)]);
    expect(await provider.getNonceForAddress(address, 'latest')).to.equal('0x1');
  });

  it('orders signed with starknet.js by two accounts cross and produce positions', async () => {
    const expiry = String(Math.floor(Date.now() / 1000) + 3600);
    const order = (account: string, side: string, salt: string) => ({ account, market: BTC, side, orderType: 'LIMIT', timeInForce: 'GTC', size: '1000000', price: '6500000000000', triggerPrice: '0', reduceOnly: false, expiry, salt });
    // Maker: a starknet.js Account signs the typed data.
    const makerAccount = new Account({ provider, address: dev[0]!.address, signer: dev[0]!.private_key });
    const makerTd = typed(cfg, 'Order', order(dev[0]!.address, 'SELL', '0x1'));
    const ms: any = await makerAccount.signMessage(makerTd);
    const makerSig = Array.isArray(ms) ? ms.map((x: any) => hex(BigInt(x))) : [hex(ms.r), hex(ms.s)];
    const made = await rpc(node.url, 'perp_submitOrder', { order: makerTd.message, signature: makerSig });
    expect(made.status).to.equal('OPEN');
    expect(made.order_hash).to.equal(typedData.getMessageHash(makerTd, dev[0]!.address).replace(/^0x0+/, '0x'));
    // Taker: raw ec.starkCurve.sign over typedData.getMessageHash.
    const takerTd = typed(cfg, 'Order', order(dev[1]!.address, 'BUY', '0x2'));
    const ts = ec.starkCurve.sign(typedData.getMessageHash(takerTd, dev[1]!.address), dev[1]!.private_key);
    const took = await rpc(node.url, 'perp_submitOrder', [takerTd.message, [hex(ts.r), hex(ts.s)]]);
    expect(took.status).to.equal('FILLED');
    expect(took.fills).to.have.length(1);
    tradeTx = took.fills[0].transaction_hash;
    const receipt: any = await provider.waitForTransaction(tradeTx, { retryInterval: 100 });
    expect(receipt.isSuccess()).to.equal(true);
    const short = await rpc(node.url, 'perp_getAccount', { address: dev[0]!.address });
    const long = await rpc(node.url, 'perp_getAccount', { address: dev[1]!.address });
    expect(short.positions).to.have.length(1);
    expect(short.positions[0]).to.include({ market: BTC, side: 'SHORT', size: '-1000000', entry_price: '6500000000000' });
    expect(long.positions[0]).to.include({ market: BTC, side: 'LONG', size: '1000000', entry_price: '6500000000000' });
    // The trade is visible to starknet.js tools as a transaction with events.
    const events: any = await provider.getEvents({ from_block: { block_number: receipt.block_number }, to_block: 'latest', address: cfg.exchange_address, keys: [[hex(BigInt(snHash.getSelectorFromName('Trade')))]], chunk_size: 10 });
    expect(events.events.map((e: any) => e.transaction_hash)).to.include(tradeTx);
    const withReceipts: any = await provider.getBlockWithReceipts(receipt.block_number);
    expect(withReceipts.transactions.some((x: any) => x.receipt.transaction_hash === tradeTx)).to.equal(true);
  });

  it('a storage proof from starknet.js verifies client-side against the signed block root', async () => {
    const account = dev[1]!.address;
    const receipt: any = await provider.getTransactionReceipt(tradeTx);
    const n = receipt.block_number;
    const sizeKey = cfg.account_storage.positions[BTC].size;
    const keys = [cfg.account_storage.collateral, sizeKey, '0x1234567'];
    const proof: any = await provider.getStorageProof([], [account], [{ contract_address: account, storage_keys: keys }], n);
    // The header hashes to the block hash, which the genesis sequencer key signed.
    const block: any = await provider.getBlock(n);
    const h = blockHash(headerFromJson(block));
    expect(hex(h)).to.equal(block.block_hash);
    expect(BigInt(proof.global_roots.block_hash)).to.equal(h);
    const sig = await rpc(node.url, 'perp_sequencerSignature', { block_id: { block_number: n } });
    expect(verify(h, BigInt(genesis.sequencer.public_key), [BigInt(sig.signature[0]), BigInt(sig.signature[1])])).to.equal(true);
    // Roots -> contract leaf -> storage values.
    const kind = cfg.state_hash;
    expect(globalRoot(BigInt(proof.global_roots.contracts_tree_root), BigInt(proof.global_roots.classes_tree_root))).to.equal(BigInt(block.new_root));
    const leaf = proof.contracts_proof.contract_leaves_data[0];
    const found = verifyProof(BigInt(proof.global_roots.contracts_tree_root), BigInt(account), toProof(proof.contracts_proof.nodes), { hash: kind });
    expect(found).to.equal(contractLeaf(kind, BigInt(leaf.class_hash), BigInt(leaf.storage_root), BigInt(leaf.nonce)));
    expect(leaf.class_hash).to.equal(cfg.class_hashes.account);
    const storageProof = toProof(proof.contracts_storage_proofs[0]);
    const value = (k: string) => verifyProof(BigInt(leaf.storage_root), BigInt(k), storageProof, { hash: kind });
    expect(value(sizeKey)).to.equal(1_000_000n);
    const served: any = await provider.getStorageAt(account, cfg.account_storage.collateral, n);
    expect(value(cfg.account_storage.collateral)).to.equal(BigInt(served.value ?? served));
    expect(value('0x1234567')).to.equal('absent');
    // A tampered proof is refused.
    const tampered = storageProof.map((p) => ('left' in p.node ? { ...p, node: { ...p.node, left: p.node.left ^ 1n } } : p));
    expect(() => verifyProof(BigInt(leaf.storage_root), BigInt(sizeKey), tampered, { hash: kind })).to.throw();
    // The SDK does the same in one call, with the sequencer key pinned from the genesis file.
    const v = await new PerpClient(node.url).verifyAccountStorageProof(account, { blockNumber: n, sequencerPublicKey: genesis.sequencer.public_key });
    expect(v.positions[BTC]!.size).to.equal(1_000_000n);
    expect(v.block_hash).to.equal(block.block_hash);
  });
});
