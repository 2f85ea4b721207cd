/**
 * Client-side proof verification (perpnode/client verifyAccountStorageProof) against a node
 * that lies: every tampered piece (header field, signature, roots, leaf data, proof node, the
 * pinned key) is caught; honest answers verify at the latest and at older blocks.
 */
import { expect } from 'chai';
import { RpcClient, verifyAccountStorageProof, ProofVerificationError, type Signer } from '../../node/client/index.ts';
import { randomPrivateKey } from '../../node/crypto/index.ts';
import { createSigner } from '../../node/client/index.ts';
import { startTestNode, type TestNode } from './rpc.fixtures.ts';

const BTC = 'BTC-USD-PERP';
const flip = (h: string) => '0x' + (BigInt(h) ^ 1n).toString(16);

/** An RpcClient whose answers pass through `tamper` first. */
function lyingClient(url: string, tamper: (method: string, result: any) => any): RpcClient {
  const c = new RpcClient(url);
  const call = c.call.bind(c);
  (c as any).call = async (method: string, params?: unknown) => tamper(method, structuredClone(await call(method, params)));
  return c;
}

describe('client-side storage proof verification', function () {
  this.timeout(60_000);
  let t: TestNode;
  let a: Signer;
  let b: Signer;
  let tradeBlock: number;
  let seqKey: string;

  before(async () => {
    t = await startTestNode({ blockTimeMs: 50 });
    [a, b] = t.dev as [Signer, Signer];
    await t.client.submitOrder(a, { market: BTC, side: 'SELL', size: '0.003', price: '65000' });
    const r = await t.client.submitOrder(b, { market: BTC, side: 'BUY', size: '0.003', price: '65000' });
    tradeBlock = (await t.client.waitForTransaction(r.fills[0].transaction_hash, { intervalMs: 20 })).block_number;
    seqKey = '0x' + t.node.chain.genesis.sequencer.publicKey.toString(16);
  });
  after(async () => t?.stop());

  it('verifies honest answers: positions and collateral as perp_getAccount reports them', async () => {
    const v = await t.client.verifyAccountStorageProof(b.address, { sequencerPublicKey: seqKey });
    const acct = await t.call('perp_getAccount', { address: '0x' + b.address.toString(16) });
    expect(v.deployed).to.equal(true);
    expect(v.positions[BTC]!.size).to.equal(300_000n);
    expect(v.collateral).to.equal(BigInt(acct.collateral));
    expect(v.public_key).to.equal(b.publicKey);
    expect(v.nonce).to.equal(1n);
    const short = await t.client.verifyAccountStorageProof(a.address, { blockNumber: tradeBlock, sequencerPublicKey: seqKey });
    expect(short.positions[BTC]!.size).to.equal(-300_000n);
    const before = await t.client.verifyAccountStorageProof(a.address, { blockNumber: tradeBlock - 1, sequencerPublicKey: seqKey });
    expect(before.positions).to.deep.equal({});
    expect(before.collateral).to.equal(100_000n * 1_000_000n);
  });

  it('an account that does not exist is proven absent', async () => {
    const nobody = createSigner(randomPrivateKey());
    const v = await t.client.verifyAccountStorageProof(nobody.address, { sequencerPublicKey: seqKey });
    expect(v.deployed).to.equal(false);
    expect(v.collateral).to.equal(0n);
  });

  const lies: [string, (method: string, r: any) => any][] = [
    ['a header field', (m, r) => (m === 'starknet_getBlockWithTxHashes' ? { ...r, timestamp: r.timestamp + 1 } : r)],
    ['the block hash', (m, r) => (m === 'starknet_getBlockWithTxHashes' ? { ...r, block_hash: flip(r.block_hash) } : r)],
    ['the state root', (m, r) => (m === 'starknet_getBlockWithTxHashes' ? { ...r, new_root: flip(r.new_root) } : r)],
    ['the signature', (m, r) => (m === 'perp_sequencerSignature' ? { ...r, signature: [r.signature[0], flip(r.signature[1])] } : r)],
    ['the contracts root', (m, r) => (m === 'starknet_getStorageProof' ? { ...r, global_roots: { ...r.global_roots, contracts_tree_root: flip(r.global_roots.contracts_tree_root) } } : r)],
    ['the leaf data (nonce)', (m, r) => (m === 'starknet_getStorageProof' ? ((r.contracts_proof.contract_leaves_data[0].nonce = '0x7'), r) : r)],
    ['the leaf data (storage root)', (m, r) => (m === 'starknet_getStorageProof' ? ((r.contracts_proof.contract_leaves_data[0].storage_root = flip(r.contracts_proof.contract_leaves_data[0].storage_root)), r) : r)],
    [
      'a storage proof node',
      (m, r) => {
        if (m !== 'starknet_getStorageProof') return r;
        const n = r.contracts_storage_proofs[0].find((x: any) => 'left' in x.node);
        n.node.left = flip(n.node.left);
        return r;
      },
    ],
    ['a missing storage proof', (m, r) => (m === 'starknet_getStorageProof' ? { ...r, contracts_storage_proofs: [[]] } : r)],
    ['a contracts proof node', (m, r) => (m === 'starknet_getStorageProof' ? ((r.contracts_proof.nodes[0].node_hash = flip(r.contracts_proof.nodes[0].node_hash)), r) : r)],
  ];
  for (const [what, tamper] of lies)
    it(`refuses a node that lies about ${what}`, async () => {
      const err = await verifyAccountStorageProof(lyingClient(t.url, tamper), b.address, { sequencerPublicKey: seqKey }).catch((e) => e);
      expect(err).to.be.instanceOf(ProofVerificationError);
    });

  it('refuses blocks signed by another key than the pinned one', async () => {
    const other = '0x' + createSigner(randomPrivateKey()).publicKey.toString(16);
    const err = await t.client.verifyAccountStorageProof(b.address, { sequencerPublicKey: other }).catch((e) => e);
    expect(err).to.be.instanceOf(ProofVerificationError);
    expect(err.message).to.contain('signature');
  });
});
