/**
 * Client-side verification of an account's storage against a signed block, trusting only the
 * sequencer's public key:
 *
 *   1. the block header the node serves hashes (STARKNET_BLOCK_HASH1) to the block hash;
 *   2. the sequencer's signature over that hash verifies against the trusted key;
 *   3. poseidon("STARKNET_STATE_V0", contracts_root, classes_root) is the header's new_root;
 *   4. the contracts-trie proof leads from contracts_root to the leaf
 *      H(H(H(class_hash, storage_root), nonce), 0) at the account's address;
 *   5. each storage proof leads from storage_root to the value at its key (or proves it empty).
 *
 * Any failure throws ProofVerificationError naming the step. Pin the sequencer key (from the
 * genesis file you trust) with `sequencerPublicKey`; by default it is read from perp_getConfig,
 * which only proves consistency with what the same node says.
 */
import { verify } from '../crypto/index.ts';
import { headerFromJson } from '../chain/block.ts';
import { blockHash } from '../chain/header.ts';
import { contractLeaf, globalRoot, type TrieHash } from '../state/commitment.ts';
import { verifyProof, type ProofNode } from '../trie/index.ts';
import { ACC, positionBase, POS } from '../../contracts-ts/layout.ts';
import { fromFelt } from '../../contracts-ts/math.ts';
import { encodeShortString } from '../crypto/index.ts';
import type { RpcClient } from './rpc.ts';

export class ProofVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProofVerificationError';
  }
}

export interface VerifyOptions {
  /** Block number to verify at (default: the latest block). */
  blockNumber?: number;
  /** The sequencer key to trust (hex or bigint). Default: perp_getConfig's (see the note above). */
  sequencerPublicKey?: bigint | string;
  /** Markets whose position slots to prove (default: every market in perp_getConfig). */
  markets?: string[];
  /** Extra raw storage keys of the account to prove. */
  extraKeys?: bigint[];
}

export interface VerifiedAccount {
  block_number: number;
  block_hash: string;
  state_root: string;
  deployed: boolean;
  class_hash: string;
  nonce: bigint;
  storage_root: string;
  public_key: bigint;
  /** USDC base units (1e-6). */
  collateral: bigint;
  /** Per market: signed size (1e-8), cost and funding snapshot. */
  positions: Record<string, { size: bigint; cost: bigint; funding_snapshot: bigint }>;
  /** Every proven (key -> value). */
  storage: Map<bigint, bigint>;
}

function fail(msg: string): never {
  throw new ProofVerificationError(msg);
}

function nodes(list: unknown, what: string): ProofNode[] {
  if (!Array.isArray(list)) fail(`${what} is not a list`);
  return list.map((e: any) => {
    if (!e || typeof e.node_hash !== 'string' || !e.node) fail(`${what}: malformed entry`);
    const n = e.node;
    const node = 'left' in n ? { left: BigInt(n.left), right: BigInt(n.right) } : { child: BigInt(n.child), path: BigInt(n.path), length: Number(n.length) };
    return { node_hash: BigInt(e.node_hash), node };
  });
}

export async function verifyAccountStorageProof(rpc: RpcClient, address: bigint, opts: VerifyOptions = {}): Promise<VerifiedAccount> {
  const cfg = await rpc.call('perp_getConfig');
  const trusted = BigInt(opts.sequencerPublicKey ?? cfg.sequencer.public_key);
  const kind: TrieHash = cfg.state_hash === 'pedersen' ? 'pedersen' : 'poseidon';
  const n = opts.blockNumber ?? (await rpc.call<number>('starknet_blockNumber'));
  const block_id = { block_number: n };

  // 1-2. the header and its signature
  const served = await rpc.call('starknet_getBlockWithTxHashes', { block_id });
  let header;
  try {
    header = headerFromJson(served);
  } catch (e) {
    fail(`block ${n}: malformed header (${(e as Error).message})`);
  }
  const hash = blockHash(header);
  if (hash !== BigInt(served.block_hash)) fail(`block ${n}: the header fields hash to 0x${hash.toString(16)}, the node says ${served.block_hash}`);
  const s = await rpc.call('perp_sequencerSignature', { block_id });
  if (BigInt(s.block_hash) !== hash) fail(`block ${n}: the signature is for another block hash`);
  if (!verify(hash, trusted, [BigInt(s.signature[0]), BigInt(s.signature[1])])) fail(`block ${n}: the sequencer signature does not verify against 0x${trusted.toString(16)}`);

  // 3. roots
  const markets: { symbol: string; id: bigint }[] = (opts.markets ?? cfg.markets.map((m: any) => m.symbol)).map((symbol: string) => ({ symbol, id: encodeShortString(symbol) }));
  const keys: bigint[] = [ACC.publicKey, ACC.collateral];
  for (const m of markets) keys.push(positionBase(m.id) + POS.size, positionBase(m.id) + POS.cost, positionBase(m.id) + POS.fundingSnapshot);
  keys.push(...(opts.extraKeys ?? []));
  const hex = (x: bigint) => '0x' + x.toString(16);
  const proof = await rpc.call('starknet_getStorageProof', { block_id, contract_addresses: [hex(address)], contracts_storage_keys: [{ contract_address: hex(address), storage_keys: keys.map(hex) }] });
  const gr = proof.global_roots;
  if (BigInt(gr.block_hash) !== hash) fail('the proof is for another block');
  const contractsRoot = BigInt(gr.contracts_tree_root);
  const classesRoot = BigInt(gr.classes_tree_root);
  if (globalRoot(contractsRoot, classesRoot) !== header.new_root) fail(`block ${n}: contracts and classes roots do not make the signed state root`);

  // 4. the account's leaf in the contracts trie
  const leafData = proof.contracts_proof?.contract_leaves_data?.[0];
  if (!leafData) fail('the proof has no contract leaf data');
  const classHash = BigInt(leafData.class_hash);
  const nonce = BigInt(leafData.nonce);
  const storageRoot = BigInt(leafData.storage_root);
  let found: bigint | 'absent';
  try {
    found = verifyProof(contractsRoot, address, nodes(proof.contracts_proof.nodes, 'contracts_proof'), { hash: kind });
  } catch (e) {
    fail(`contracts proof: ${(e as Error).message}`);
  }
  const deployed = found !== 'absent';
  if (deployed && found !== contractLeaf(kind, classHash, storageRoot, nonce)) fail('the contract leaf data does not hash to the proven leaf');
  if (!deployed && (classHash !== 0n || nonce !== 0n || storageRoot !== 0n)) fail('the proof shows no contract, but leaf data was given');

  // 5. storage values
  const storage = new Map<bigint, bigint>();
  const sp = deployed ? nodes(proof.contracts_storage_proofs?.[0] ?? [], 'contracts_storage_proofs[0]') : [];
  for (const k of keys) {
    if (!deployed) {
      storage.set(k, 0n);
      continue;
    }
    try {
      const v = verifyProof(storageRoot, k, sp, { hash: kind });
      storage.set(k, v === 'absent' ? 0n : v);
    } catch (e) {
      fail(`storage proof for key 0x${k.toString(16)}: ${(e as Error).message}`);
    }
  }
  const positions: VerifiedAccount['positions'] = {};
  for (const m of markets) {
    const b = positionBase(m.id);
    const size = fromFelt(storage.get(b + POS.size)!);
    if (size !== 0n) positions[m.symbol] = { size, cost: fromFelt(storage.get(b + POS.cost)!), funding_snapshot: fromFelt(storage.get(b + POS.fundingSnapshot)!) };
  }
  return {
    block_number: n,
    block_hash: hex(hash),
    state_root: hex(header.new_root),
    deployed,
    class_hash: hex(classHash),
    nonce,
    storage_root: hex(storageRoot),
    public_key: storage.get(ACC.publicKey)!,
    collateral: fromFelt(storage.get(ACC.collateral)!),
    positions,
    storage,
  };
}
