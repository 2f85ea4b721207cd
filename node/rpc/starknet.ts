/**
 * starknet_* read methods in the spec 0.10.2 shapes, with the spec's error codes.
 *
 * Block ids: a number, a hash, `latest` (the head), `pre_confirmed` (the open block the
 * sequencer is filling; on a follower, an empty block above the head) and `l1_accepted`
 * (perpnode settles on no L1: block 0). State at any stored block is readable: the latest
 * state from memory, older states from the content-addressed tries through the per-block roots.
 * Transactions are served as INVOKE v3 transactions (see views.ts); every included one
 * SUCCEEDED, so receipts are PRE_CONFIRMED while in the open block, ACCEPTED_ON_L2 after.
 */
import { decodeShortString } from '../crypto/index.ts';
import type { ChainTx, Receipt } from '../chain/block.ts';
import { emptyStateDiff, type StateDiff } from '../chain/header.ts';
import { Tables } from '../storage/schema.ts';
import { contractLeaf } from '../state/index.ts';
import type { ProofNode } from '../trie/index.ts';
import type { Methods } from './jsonrpc.ts';
import type { CallContext } from './http.ts';
import { resolveBlock, type ResolvedBlock, type RpcModules } from './context.ts';
import { blockId, felt, int, obj, type BlockId } from './params.ts';
import { E, RpcError } from './errors.ts';
import { eventView, headerView, hex, preConfirmedHeaderView, proofView, receiptView, txBodyView, txView, type Finality } from './views.ts';

export const SPEC_VERSION = '0.10.2';
export { headerView };

/** Limits of the read API (see docs/rpc.md). */
export const READ_LIMITS = {
  /** getEvents: largest chunk_size. */
  maxChunkSize: 1024,
  /** getEvents: blocks scanned per call before answering with a continuation token. */
  maxBlocksPerEventsCall: 2000,
  /** getEvents: positions in `keys`, and values over all positions. */
  maxKeyPositions: 16,
  maxKeyValues: 256,
  /** getEvents: addresses in `address`. */
  maxAddresses: 64,
  /** getStorageProof: class hashes + contract addresses + storage keys, in total. */
  maxProofKeys: 256,
  /** getStateUpdate: addresses in `contract_addresses`. */
  maxStateUpdateAddresses: 1024,
};

const KEY_BOUND = 1n << 251n;

/** A felt that is also a valid trie key / contract address (< 2^251). */
function key251(v: unknown, name: string): bigint {
  const x = felt(v, name);
  if (x >= KEY_BOUND) throw E.invalidParams(`${name} must be below 2^251`);
  return x;
}

function flags(v: unknown, name: string, allowed: readonly string[]): Set<string> {
  if (v === undefined) return new Set();
  if (!Array.isArray(v) || v.length > 8 || !v.every((x) => typeof x === 'string' && allowed.includes(x))) throw E.invalidParams(`${name} must be a list of ${allowed.join(', ')}`);
  return new Set(v as string[]);
}

const TXN_FLAGS = ['INCLUDE_PROOF_FACTS'] as const;

interface ContractRec {
  classHash: bigint;
  nonce: bigint;
  storageRoot: bigint;
}

/** Reads of the state after a given block. */
export interface StateReader {
  contract(address: bigint): Promise<ContractRec | null>;
  storage(address: bigint, key: bigint): Promise<bigint>;
}

/** The state after block `b` (pre_confirmed: with the open block's transactions applied). */
export async function stateAt(m: RpcModules, b: ResolvedBlock): Promise<StateReader> {
  if (b.kind === 'pre_confirmed') {
    const open = m.producer?.openBlock;
    if (open && open.number === b.number) {
      const st = open.pending;
      return {
        async contract(a) {
          const classHash = st.getClassHash(a);
          if (classHash === 0n) return null;
          return { classHash, nonce: st.getNonce(a), storageRoot: 0n };
        },
        async storage(a, k) {
          return st.getStorage(a, k);
        },
      };
    }
    const head = await m.chain.head();
    if (!head) throw E.noBlocks();
    return stateAt(m, { kind: 'confirmed', number: head.number, hash: head.hash, header: (await m.chain.header(head.number))!.header });
  }
  const roots = await m.chain.roots(b.number);
  const w = m.world;
  const atHead = () => (roots ? w.contractsRoot === roots.contractsRoot && w.classesRoot === roots.classesRoot : w.root === b.header.new_root);
  const contract = async (a: bigint): Promise<ContractRec | null> => {
    if (atHead()) {
      const r = w.getContract(a);
      return r && r.classHash !== 0n ? { ...r } : null;
    }
    if (!roots) throw E.storageProofNotSupported();
    const leaf = await w.contractsTrie(roots.contractsRoot).get(a);
    if (leaf === 0n) return null;
    const rec = await w.contractStateByLeaf(leaf);
    if (!rec) throw new Error(`contract state for leaf ${hex(leaf)} is missing`);
    return rec.classHash === 0n ? null : rec;
  };
  return {
    contract,
    async storage(a, k) {
      if (atHead()) return w.getStorage(a, k);
      const rec = await contract(a);
      if (!rec || rec.storageRoot === 0n) return 0n;
      return w.storageTrie(rec.storageRoot).get(k);
    },
  };
}

/** Where a transaction is: in the open block, or in a stored block. */
export type TxPlace =
  | { where: 'open'; tx: ChainTx; receipt: Receipt; index: number; blockNumber: bigint }
  | { where: 'chain'; tx: ChainTx; receipt: Receipt; index: number; blockNumber: bigint; blockHash: bigint };

export async function findTx(m: RpcModules, hash: bigint): Promise<TxPlace | undefined> {
  // The open block first: a transaction moves from it to the store (written before the open
  // block is dropped), never back, so this order never misses one being sealed.
  const open = m.producer?.openBlock;
  if (open && open.hashes.has(hash)) {
    const index = open.txs.findIndex((t) => t.hash === hash);
    if (index >= 0) return { where: 'open', tx: open.txs[index]!, receipt: open.receipts[index]!, index, blockNumber: open.number };
  }
  const loc = await m.chain.txLocation(hash);
  if (!loc) return undefined;
  const [body, h] = await Promise.all([m.chain.body(loc.block_number), m.chain.header(loc.block_number)]);
  const tx = body?.transactions[loc.index];
  if (!body || !h || !tx || tx.hash !== hash) return undefined;
  return { where: 'chain', tx, receipt: body.receipts[loc.index]!, index: loc.index, blockNumber: loc.block_number, blockHash: h.hash };
}

/** Transactions and receipts of a resolved block. */
async function blockBody(m: RpcModules, b: ResolvedBlock): Promise<{ transactions: ChainTx[]; receipts: Receipt[] }> {
  if (b.kind === 'pre_confirmed') {
    const open = m.producer?.openBlock;
    if (open && open.number === b.number) return { transactions: open.txs.slice(), receipts: open.receipts.slice() };
    return { transactions: [], receipts: [] };
  }
  return (await m.chain.body(b.number)) ?? { transactions: [], receipts: [] };
}

/** Scans stored state diffs from block n down for the last write of (address, key). */
async function lastUpdateBlock(m: RpcModules, n: bigint, address: bigint, key: bigint): Promise<number> {
  for await (const [block, d] of Tables.stateDiff.entries(m.chain.db, Tables.stateDiff.between(0n, n, { reverse: true }))) {
    for (const s of d.storage_diffs ?? []) {
      if (BigInt(s.address) !== address) continue;
      for (const e of s.storage_entries) if (BigInt(e.key) === key) return Number(block);
    }
  }
  return 0;
}

function stateDiffView(d: any, filter?: Set<bigint>) {
  const keep = (a: string) => !filter || filter.has(BigInt(a));
  const h = (x: string | bigint) => hex(BigInt(x));
  return {
    storage_diffs: (d.storage_diffs ?? [])
      .filter((s: any) => keep(s.address))
      .map((s: any) => ({ address: h(s.address), storage_entries: s.storage_entries.map((e: any) => ({ key: h(e.key), value: h(e.value) })) })),
    deprecated_declared_classes: (d.deprecated_declared_classes ?? []).map(h),
    declared_classes: (d.declared_classes ?? []).map((c: any) => ({ class_hash: h(c.class_hash), compiled_class_hash: h(c.compiled_class_hash) })),
    deployed_contracts: (d.deployed_contracts ?? []).filter((c: any) => keep(c.address)).map((c: any) => ({ address: h(c.address), class_hash: h(c.class_hash) })),
    replaced_classes: (d.replaced_classes ?? []).filter((c: any) => keep(c.contract_address)).map((c: any) => ({ contract_address: h(c.contract_address), class_hash: h(c.class_hash) })),
    nonces: (d.nonces ?? []).filter((c: any) => keep(c.contract_address)).map((c: any) => ({ contract_address: h(c.contract_address), nonce: h(c.nonce) })),
  };
}

/** The open block's writes so far, as a state diff (empty on a follower). */
function pendingDiff(m: RpcModules): StateDiff {
  return m.producer?.openBlock?.pending.previewDiff() ?? emptyStateDiff();
}

function uniqueNodes(lists: ProofNode[][]): ProofNode[] {
  const seen = new Map<bigint, ProofNode>();
  for (const l of lists) for (const n of l) seen.set(n.node_hash, n);
  return [...seen.values()];
}

function addressList(v: unknown, name: string, max: number): bigint[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw E.invalidParams(`${name} must be a list of addresses`);
  if (v.length > max) throw E.invalidParams(`${name}: at most ${max} entries`);
  return v.map((x, i) => key251(x, `${name}[${i}]`));
}

interface EventsFilter {
  from: BlockId;
  to: BlockId;
  addresses: Set<bigint> | null;
  keys: (Set<bigint> | null)[];
  chunk: number;
  token?: { block: bigint; offset: number };
}

function parseEventsFilter(v: unknown): EventsFilter {
  const f = obj(v, 'filter');
  for (const k of Object.keys(f)) if (!['from_block', 'to_block', 'address', 'keys', 'chunk_size', 'continuation_token'].includes(k)) throw E.invalidParams(`filter: unknown field "${k}"`);
  if (typeof f.chunk_size !== 'number' || !Number.isSafeInteger(f.chunk_size) || f.chunk_size < 1) throw E.invalidParams('filter.chunk_size must be a positive integer');
  if (f.chunk_size > READ_LIMITS.maxChunkSize) throw E.pageSizeTooBig();
  let addresses: Set<bigint> | null = null;
  if (f.address !== undefined) {
    const list = Array.isArray(f.address) ? f.address : [f.address];
    if (list.length > READ_LIMITS.maxAddresses) throw E.invalidParams(`filter.address: at most ${READ_LIMITS.maxAddresses} addresses`);
    addresses = new Set(list.map((a, i) => felt(a, `filter.address[${i}]`)));
    if (addresses.size === 0) addresses = null;
  }
  const keys: (Set<bigint> | null)[] = [];
  if (f.keys !== undefined) {
    if (!Array.isArray(f.keys)) throw E.invalidParams('filter.keys must be a list of lists of felts');
    if (f.keys.length > READ_LIMITS.maxKeyPositions) throw E.tooManyKeysInFilter();
    let total = 0;
    f.keys.forEach((pos: unknown, i: number) => {
      if (!Array.isArray(pos)) throw E.invalidParams(`filter.keys[${i}] must be a list of felts`);
      total += pos.length;
      if (total > READ_LIMITS.maxKeyValues) throw E.tooManyKeysInFilter();
      keys.push(pos.length ? new Set(pos.map((k, j) => felt(k, `filter.keys[${i}][${j}]`))) : null);
    });
  }
  let token: EventsFilter['token'];
  if (f.continuation_token !== undefined) {
    const mt = typeof f.continuation_token === 'string' ? /^([0-9]{1,15})-([0-9]{1,9})$/.exec(f.continuation_token) : null;
    if (!mt) throw E.invalidContinuationToken();
    token = { block: BigInt(mt[1]!), offset: Number(mt[2]) };
  }
  return {
    from: f.from_block === undefined ? { number: 0n } : blockId(f.from_block, 'filter.from_block'),
    to: f.to_block === undefined ? { tag: 'latest' } : blockId(f.to_block, 'filter.to_block'),
    addresses,
    keys,
    chunk: f.chunk_size,
    token,
  };
}

function eventMatches(f: EventsFilter, e: { fromAddress: bigint; keys: bigint[] }): boolean {
  if (f.addresses && !f.addresses.has(e.fromAddress)) return false;
  for (let i = 0; i < f.keys.length; i++) {
    const allowed = f.keys[i];
    if (!allowed) continue;
    const k = e.keys[i];
    if (k === undefined || !allowed.has(k)) return false;
  }
  return true;
}

export function starknetMethods(m: RpcModules): Methods<CallContext> {
  const g = m.genesis;
  const resolve = (v: unknown, name = 'block_id') => resolveBlock(m, blockId(v, name));

  const txAt = async (place: TxPlace | undefined, withProofFacts: boolean) => {
    if (!place) throw E.txHashNotFound();
    const v: Record<string, unknown> = txView(place.tx, g);
    if (withProofFacts) v.proof_facts = [];
    return v;
  };

  const receiptOf = (place: TxPlace) => {
    const finality: Finality = place.where === 'open' ? 'PRE_CONFIRMED' : 'ACCEPTED_ON_L2';
    const r: Record<string, unknown> = receiptView(place.receipt, finality, place.tx);
    if (place.where === 'chain') r.block_hash = hex(place.blockHash);
    r.block_number = Number(place.blockNumber);
    return r;
  };

  const blockTxs = async (p: Record<string, unknown>, shape: 'hashes' | 'txs' | 'receipts') => {
    const b = await resolve(p.block_id);
    const withProofFacts = shape !== 'hashes' && flags(p.response_flags, 'response_flags', TXN_FLAGS).has('INCLUDE_PROOF_FACTS');
    const body = await blockBody(m, b);
    const finality: Finality = b.kind === 'pre_confirmed' ? 'PRE_CONFIRMED' : 'ACCEPTED_ON_L2';
    const pf = (v: Record<string, unknown>) => (withProofFacts ? { ...v, proof_facts: [] } : v);
    const transactions =
      shape === 'hashes'
        ? body.transactions.map((t) => hex(t.hash))
        : shape === 'txs'
          ? body.transactions.map((t) => pf(txView(t, g)))
          : body.transactions.map((t, i) => ({ transaction: pf(txBodyView(t, g)), receipt: receiptView(body.receipts[i]!, finality, t) }));
    const head = b.kind === 'pre_confirmed' ? preConfirmedHeaderView(g, b.number, b.timestamp) : headerView(b.header, b.hash);
    return { ...head, transactions };
  };

  /** The contract at `contract_address` in the state of `block_id`; error 20 when none. */
  const contractAt = async (p: Record<string, unknown>) => {
    const address = key251(p.contract_address, 'contract_address');
    const c = await (await stateAt(m, await resolve(p.block_id))).contract(address);
    if (!c) throw E.contractNotFound();
    return c;
  };

  /** A rolled-back block by hash (not on the canonical chain), for the perp_* audit view. */
  const orphanedBlock = async (v: unknown) => {
    const hash = felt(v, 'block_hash');
    if ((await m.chain.numberOf(hash)) !== undefined) return undefined;
    return m.chain.orphan(hash);
  };

  return {
    starknet_specVersion: { params: [], handler: () => SPEC_VERSION },
    starknet_chainId: { params: [], handler: () => hex(g.chainId) },
    starknet_syncing: { params: [], handler: () => false },
    starknet_blockNumber: {
      params: [],
      handler: async () => {
        const h = await m.chain.head();
        if (!h) throw E.noBlocks();
        return Number(h.number);
      },
    },
    starknet_blockHashAndNumber: {
      params: [],
      handler: async () => {
        const h = await m.chain.head();
        if (!h) throw E.noBlocks();
        return { block_hash: hex(h.hash), block_number: Number(h.number) };
      },
    },
    starknet_getBlockWithTxHashes: { params: ['block_id'], handler: (p) => blockTxs(p, 'hashes') },
    starknet_getBlockWithTxs: { params: ['block_id', 'response_flags?'], handler: (p) => blockTxs(p, 'txs') },
    starknet_getBlockWithReceipts: { params: ['block_id', 'response_flags?'], handler: (p) => blockTxs(p, 'receipts') },
    starknet_getBlockTransactionCount: {
      params: ['block_id'],
      handler: async (p) => {
        const b = await resolve(p.block_id);
        if (b.kind === 'confirmed') return Number(b.header.transaction_count);
        return (await blockBody(m, b)).transactions.length;
      },
    },
    starknet_getStateUpdate: {
      params: ['block_id', 'contract_addresses?'],
      handler: async (p) => {
        const b = await resolve(p.block_id);
        const filter = p.contract_addresses === undefined ? undefined : new Set(addressList(p.contract_addresses, 'contract_addresses', READ_LIMITS.maxStateUpdateAddresses));
        if (b.kind === 'pre_confirmed') {
          const diff = pendingDiff(m);
          return { old_root: hex(m.world.root), state_diff: stateDiffView(JSON.parse(JSON.stringify(diff, (_k, x) => (typeof x === 'bigint' ? hex(x) : x))), filter) };
        }
        const diff = await m.chain.stateDiff(b.number);
        const parent = b.number > 0n ? await m.chain.header(b.number - 1n) : undefined;
        return { block_hash: hex(b.hash), old_root: hex(parent ? parent.header.new_root : 0n), new_root: hex(b.header.new_root), state_diff: stateDiffView(diff ?? {}, filter) };
      },
    },
    starknet_getStorageAt: {
      params: ['contract_address', 'key', 'block_id', 'response_flags?'],
      handler: async (p) => {
        const address = key251(p.contract_address, 'contract_address');
        const key = key251(p.key, 'key');
        const withLast = flags(p.response_flags, 'response_flags', ['INCLUDE_LAST_UPDATE_BLOCK']).has('INCLUDE_LAST_UPDATE_BLOCK');
        const b = await resolve(p.block_id);
        const st = await stateAt(m, b);
        if (!(await st.contract(address))) throw E.contractNotFound();
        const value = await st.storage(address, key);
        if (!withLast) return hex(value);
        let last: number;
        if (b.kind === 'pre_confirmed') {
          const head = await m.chain.head();
          last = m.producer?.openBlock?.number === b.number && m.world.getStorage(address, key) !== value ? Number(b.number) : await lastUpdateBlock(m, head!.number, address, key);
        } else last = await lastUpdateBlock(m, b.number, address, key);
        return { value: hex(value), last_update_block: last };
      },
    },
    starknet_getNonce: { params: ['block_id', 'contract_address'], handler: async (p) => hex((await contractAt(p)).nonce) },
    starknet_getClassHashAt: { params: ['block_id', 'contract_address'], handler: async (p) => hex((await contractAt(p)).classHash) },
    starknet_getTransactionByHash: {
      params: ['transaction_hash', 'response_flags?'],
      handler: async (p) => {
        const h = felt(p.transaction_hash, 'transaction_hash');
        const pf = flags(p.response_flags, 'response_flags', TXN_FLAGS).has('INCLUDE_PROOF_FACTS');
        return txAt(await findTx(m, h), pf);
      },
    },
    starknet_getTransactionByBlockIdAndIndex: {
      params: ['block_id', 'index', 'response_flags?'],
      handler: async (p) => {
        const index = int(p.index, 'index', 0, Number.MAX_SAFE_INTEGER);
        const pf = flags(p.response_flags, 'response_flags', TXN_FLAGS).has('INCLUDE_PROOF_FACTS');
        const b = await resolve(p.block_id);
        const body = await blockBody(m, b);
        const t = body.transactions[index];
        if (!t) throw E.invalidTxIndex();
        const v: Record<string, unknown> = txView(t, g);
        if (pf) v.proof_facts = [];
        return v;
      },
    },
    starknet_getTransactionReceipt: {
      params: ['transaction_hash'],
      handler: async (p) => {
        const place = await findTx(m, felt(p.transaction_hash, 'transaction_hash'));
        if (!place) throw E.txHashNotFound();
        return receiptOf(place);
      },
    },
    starknet_getTransactionStatus: {
      params: ['transaction_hash'],
      handler: async (p) => {
        const hash = felt(p.transaction_hash, 'transaction_hash');
        const place = await findTx(m, hash);
        // A transaction of a rolled-back block is unknown to the canonical chain (perp_getOrphanedTransaction has it).
        if (!place) throw E.txHashNotFound();
        return { finality_status: place.where === 'open' ? 'PRE_CONFIRMED' : 'ACCEPTED_ON_L2', execution_status: 'SUCCEEDED' };
      },
    },
    starknet_getEvents: {
      params: ['filter'],
      handler: async (p) => {
        const f = parseEventsFilter(p.filter);
        const from = await resolveBlock(m, f.from);
        const to = await resolveBlock(m, f.to);
        let block = from.number;
        let offset = 0;
        if (f.token) {
          if (f.token.block < from.number || f.token.block > to.number) throw E.invalidContinuationToken();
          block = f.token.block;
          offset = f.token.offset;
        }
        const events: unknown[] = [];
        let scanned = 0;
        for (; block <= to.number; block++, offset = 0) {
          if (scanned++ >= READ_LIMITS.maxBlocksPerEventsCall) return { events, continuation_token: `${block}-0` };
          let body: { transactions: ChainTx[]; receipts: Receipt[] };
          let blockHash: bigint | undefined;
          const open = m.producer?.openBlock;
          if (to.kind === 'pre_confirmed' && block === to.number) {
            body = open && open.number === block ? { transactions: open.txs.slice(), receipts: open.receipts.slice() } : { transactions: [], receipts: [] };
          } else {
            const [b, h] = await Promise.all([m.chain.body(block), m.chain.header(block)]);
            if (!b || !h) break;
            body = b;
            blockHash = h.hash;
          }
          let flat = 0;
          for (let ti = 0; ti < body.receipts.length; ti++) {
            const r = body.receipts[ti]!;
            for (let ei = 0; ei < r.events.length; ei++, flat++) {
              if (flat < offset) continue;
              const e = r.events[ei]!;
              if (!eventMatches(f, e)) continue;
              if (events.length === f.chunk) return { events, continuation_token: `${block}-${flat}` };
              events.push({
                ...eventView(e),
                ...(blockHash !== undefined ? { block_hash: hex(blockHash) } : {}),
                block_number: Number(block),
                transaction_hash: hex(r.transaction_hash),
                transaction_index: ti,
                event_index: ei,
              });
            }
          }
          if (offset > flat) throw E.invalidContinuationToken();
        }
        return { events };
      },
    },
    starknet_getStorageProof: {
      params: ['block_id', 'class_hashes?', 'contract_addresses?', 'contracts_storage_keys?'],
      handler: async (p) => {
        const id = blockId(p.block_id);
        if ('tag' in id && id.tag === 'pre_confirmed') throw E.invalidParams('block_id: storage proofs are for sealed blocks, not pre_confirmed');
        const classHashes = addressList(p.class_hashes, 'class_hashes', READ_LIMITS.maxProofKeys);
        const addresses = addressList(p.contract_addresses, 'contract_addresses', READ_LIMITS.maxProofKeys);
        const storageReq: { address: bigint; keys: bigint[] }[] = [];
        if (p.contracts_storage_keys !== undefined) {
          if (!Array.isArray(p.contracts_storage_keys)) throw E.invalidParams('contracts_storage_keys must be a list of {contract_address, storage_keys}');
          p.contracts_storage_keys.forEach((x: unknown, i: number) => {
            const o = obj(x, `contracts_storage_keys[${i}]`);
            if (!Array.isArray(o.storage_keys)) throw E.invalidParams(`contracts_storage_keys[${i}].storage_keys must be a list`);
            if (o.storage_keys.length > READ_LIMITS.maxProofKeys) throw E.invalidParams(`getStorageProof: at most ${READ_LIMITS.maxProofKeys} keys in total`);
            storageReq.push({ address: key251(o.contract_address, `contracts_storage_keys[${i}].contract_address`), keys: o.storage_keys.map((k, j) => key251(k, `contracts_storage_keys[${i}].storage_keys[${j}]`)) });
          });
        }
        const total = classHashes.length + addresses.length + storageReq.reduce((n, r) => n + r.keys.length, 0);
        if (total > READ_LIMITS.maxProofKeys) throw E.invalidParams(`getStorageProof: at most ${READ_LIMITS.maxProofKeys} keys in total`);
        const b = await resolveBlock(m, id);
        if (b.kind !== 'confirmed') throw E.blockNotFound();
        const roots = await m.chain.roots(b.number);
        if (!roots) throw E.storageProofNotSupported();
        const w = m.world;
        const classesTrie = w.classesTrie(roots.classesRoot);
        const contractsTrie = w.contractsTrie(roots.contractsRoot);
        const record = async (a: bigint) => {
          const leaf = await contractsTrie.get(a);
          if (leaf === 0n) return { classHash: 0n, nonce: 0n, storageRoot: 0n };
          const rec = await w.contractStateByLeaf(leaf);
          if (!rec) throw new Error(`contract state for leaf ${hex(leaf)} is missing`);
          if (contractLeaf(w.hash, rec.classHash, rec.storageRoot, rec.nonce) !== leaf) throw new Error(`contract state for leaf ${hex(leaf)} does not hash to it`);
          return rec;
        };
        const classesProof = uniqueNodes(await Promise.all(classHashes.map((c) => classesTrie.prove(c))));
        const contractsProof = uniqueNodes(await Promise.all(addresses.map((a) => contractsTrie.prove(a))));
        const leaves = await Promise.all(addresses.map(record));
        const storageProofs: ProofNode[][] = [];
        for (const r of storageReq) {
          const rec = await record(r.address);
          const t = w.storageTrie(rec.storageRoot);
          storageProofs.push(uniqueNodes(await Promise.all(r.keys.map((k) => t.prove(k)))));
        }
        return {
          classes_proof: proofView(classesProof),
          contracts_proof: {
            nodes: proofView(contractsProof),
            contract_leaves_data: leaves.map((l) => ({ nonce: hex(l.nonce), class_hash: hex(l.classHash), storage_root: hex(l.storageRoot) })),
          },
          contracts_storage_proofs: storageProofs.map(proofView),
          global_roots: { contracts_tree_root: hex(roots.contractsRoot), classes_tree_root: hex(roots.classesRoot), block_hash: hex(b.hash) },
        };
      },
    },
    perp_getOrphanedBlock: {
      params: ['block_hash'],
      handler: async (p) => {
        const o = await orphanedBlock(p.block_hash);
        if (!o) throw E.blockNotFound();
        const b = o.block;
        return { ...headerView(b.header, b.hash), status: 'ORPHANED', rolled_back: o.reason, transactions: b.transactions.map((t) => txView(t, g)) };
      },
    },
    perp_getOrphanedTransaction: {
      params: ['transaction_hash'],
      handler: async (p) => {
        const hash = felt(p.transaction_hash, 'transaction_hash');
        if (await findTx(m, hash)) throw E.txHashNotFound(); // canonical: ask starknet_getTransactionByHash
        const blockHash = await m.chain.orphanedTx(hash);
        if (blockHash === undefined) throw E.txHashNotFound();
        const o = await m.chain.orphan(blockHash);
        const t = o?.block.transactions.find((x) => x.hash === hash);
        if (!o || !t) throw E.txHashNotFound();
        return { status: 'ORPHANED', block_hash: hex(blockHash), block_number: Number(o.block.header.block_number), rolled_back: o.reason, transaction: txView(t, g) };
      },
    },
    perp_sequencerSignature: {
      params: ['block_id'],
      handler: async (p) => {
        const b = await resolve(p.block_id);
        if (b.kind !== 'confirmed') throw E.blockNotFound();
        const sig = await m.chain.signature(b.number);
        if (!sig) throw E.blockNotFound();
        return { block_hash: hex(b.hash), block_number: Number(b.number), signature: sig.map(hex), public_key: hex(g.sequencer.publicKey) };
      },
    },
  };
}

export { decodeShortString, RpcError };
