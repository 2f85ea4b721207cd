/**
 * Integrity checks. `quickCheck` runs at every start before anything is signed: the head's
 * signature, its state root against the committed tries, the root nodes' hashes from their
 * children (`headCheck`), and the digest of the flat state (`flatStateCheck`). `fullCheck` (perpnode verify --full) recomputes everything from scratch.
 * Neither ever repairs: a mismatch is reported and the node refuses to start.
 */
import { P, verify } from '../crypto/index.ts';
import { createTrie, MemoryNodeStore } from '../trie/index.ts';
import { blockHash, stateDiffCommitment } from './header.ts';
import { commitments, type Block } from './block.ts';
import { checkReverseDiff } from './rollback.ts';
import { Meta, Tables } from '../storage/schema.ts';
import { parseTx, txHash, txSignature } from '../../contracts-ts/index.ts';
import { ChainStore } from './store.ts';
import type { Genesis } from './genesis.ts';
import { criticalKeys, nameStorageKey } from './keynames.ts';
import { MARKET_PARAMS } from '../../contracts-ts/exchange/genesis.ts';
import { marketBase } from '../../contracts-ts/layout.ts';
import { classLeaf, contractLeaf, globalRoot, hashFn, type FlatDigestOptions, type WorldState, type TrieHash } from '../state/index.ts';

export class IntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntegrityError';
  }
}

const hex = (x: bigint) => '0x' + x.toString(16);

async function checkRootNode(world: WorldState, root: bigint, kind: TrieHash, what: string): Promise<void> {
  if (root === 0n) return;
  const node = await world.nodes.get(root);
  if (!node) throw new IntegrityError(`${what} root node ${hex(root)} is missing from the database`);
  const h = hashFn(kind);
  const computed = node.kind === 'binary' ? h(node.left, node.right) : (h(node.child, node.path) + BigInt(node.length)) % P;
  if (computed !== root) throw new IntegrityError(`${what} root node does not hash to its key: stored ${hex(root)}, computed ${hex(computed)}`);
}

export async function quickCheck(chain: ChainStore, world: WorldState, g: Genesis): Promise<{ number: bigint; hash: bigint }> {
  const head = await headCheck(chain, world, g);
  await flatStateCheck(world, head.number, g);
  return head;
}

/**
 * The part of quickCheck whose cost does not grow with the state: the head's header, hash and
 * signature, the state root and the root nodes, the incident's critical values read through the
 * committed tries, and the presence of the flat digest. Milliseconds at any size.
 */
export async function headCheck(chain: ChainStore, world: WorldState, g: Genesis): Promise<{ number: bigint; hash: bigint }> {
  const head = await chain.head();
  if (!head) throw new IntegrityError('the database has no head block');
  const h = await chain.header(head.number);
  if (!h) throw new IntegrityError(`head block ${head.number} has no stored header`);
  const recomputed = blockHash(h.header);
  if (recomputed !== head.hash || h.hash !== head.hash) throw new IntegrityError(`head block ${head.number}: stored hash ${hex(head.hash)} but its header hashes to ${hex(recomputed)}`);
  const sig = await chain.signature(head.number);
  if (!sig) throw new IntegrityError(`head block ${head.number} has no signature`);
  const unsignedGenesis = head.number === 0n && sig[0] === 0n && sig[1] === 0n;
  if (!unsignedGenesis && !verify(head.hash, g.sequencer.publicKey, sig)) throw new IntegrityError(`head block ${head.number}: the sequencer signature does not verify against the genesis key`);
  if (world.root !== h.header.new_root)
    throw new IntegrityError(`state root mismatch at head ${head.number}: the signed header says ${hex(h.header.new_root)}, the stored state commits to ${hex(world.root)}`);
  await checkRootNode(world, world.contractsRoot, world.hash, 'contracts trie');
  await checkRootNode(world, world.classesRoot, 'poseidon', 'classes trie');
  // The values the incident corrupted, read through the committed tries (each node on the path
  // is checked against its hash) and compared with what execution would use.
  for (const c of criticalKeys(g.exchange)) {
    const rec = world.getContract(c.address);
    if (!rec) continue;
    const committed = await world.storageTrie(rec.storageRoot).get(c.key);
    const stored = world.getStorage(c.address, c.key);
    if (committed !== stored) throw new IntegrityError(`${c.name} was altered after block ${head.number} was committed: stored ${hex(stored)}, signed state has ${hex(committed)}`);
  }
  // The markets' parameters execution takes from the genesis file must be the ones block 0
  // committed (read through the tries): an edited genesis file whose recorded digest was
  // edited too cannot change a margin fraction or a fee under the signed chain.
  const ex = world.getContract(g.exchange.exchangeAddress);
  if (!ex) throw new IntegrityError(`the exchange contract (0x${g.exchange.exchangeAddress.toString(16)}) has no record at head ${head.number}: the genesis cannot be checked against the signed state`);
  {
    const t = world.storageTrie(ex.storageRoot);
    for (const m of g.exchange.markets)
      for (const [off, field, value] of MARKET_PARAMS) {
        const committed = await t.get(marketBase(m.id) + off);
        if (committed !== ((value(m) % P) + P) % P) // a negative value (a maker rebate) is stored as a felt
          throw new IntegrityError(`the genesis file's ${m.symbol} ${field} (${value(m)}) is not the value the signed chain committed at genesis (${committed}): the genesis file was altered after the chain was created`);
      }
  }
  // Every block's batch writes the digest with the roots: a record without one was edited.
  if (world.storedDigest === undefined)
    throw new IntegrityError(`the state-roots record (meta/state_roots) has no flat_digest: it was altered after block ${head.number} was committed (every block writes one), so the flat state cannot be proven`);
  return head;
}

/**
 * The part of quickCheck that visits every flat entry (one SHA-256 and one LevelDB read each:
 * the bulk of a restart at a million accounts): the digest of the flat tables must be the one
 * stored with the head. The state must not change while it runs (the sequencer runs it under
 * the producer lock). `signal` stops it between batches; `onProgress` gets the entries so far.
 */
export async function flatStateCheck(world: WorldState, headNumber: bigint, g: Genesis, opts: FlatDigestOptions = {}): Promise<void> {
  if ((await world.computeFlatDigest(opts)) !== world.storedDigest) {
    const diffs = await diagnoseFlat(world, 10, g);
    throw new IntegrityError(`the stored state was altered after block ${headNumber} was committed: ${diffs.length ? diffs.join('; ') : 'an entry of the flat state tables was removed'}`);
  }
}

/**
 * Where the flat tables disagree with the committed tries (slow: one verified trie read per
 * flat entry; run only when the digest says something changed).
 */
export async function diagnoseFlat(world: WorldState, limit: number, g?: Genesis): Promise<string[]> {
  const out: string[] = [];
  const contracts = world.contractsTrie(world.contractsRoot);
  for await (const [address, rec] of world.contractEntries()) {
    const leaf = await contracts.get(address);
    const expected = contractLeaf(world.hash, rec.classHash, rec.storageRoot, rec.nonce);
    if (leaf !== expected) {
      const committed = leaf ? await world.contractStateByLeaf(leaf) : undefined;
      out.push(`contract ${hex(address)}: flat record (class ${hex(rec.classHash)}, nonce ${rec.nonce}, storage root ${hex(rec.storageRoot)}) is not the committed one${committed ? ` (class ${hex(committed.classHash)}, nonce ${committed.nonce}, storage root ${hex(committed.storageRoot)})` : ''}`);
      if (out.length >= limit) return out;
    }
    const t = world.storageTrie(rec.storageRoot);
    for await (const [, key, value] of world.storageEntries(address)) {
      const committed = await t.get(key);
      if (committed !== value) {
        out.push(`${g ? nameStorageKey(g.exchange, address, key) : `contract ${hex(address)} storage key ${hex(key)}`}: stored value ${hex(value)}, committed value ${hex(committed)}`);
        if (out.length >= limit) return out;
      }
    }
  }
  return out;
}

/** Progress lines at most every 2 s (plain lines: also useful when stderr is not a TTY). */
function throttled(progress?: (msg: string) => void): (msg: () => string, force?: boolean) => void {
  let last = Date.now();
  return (msg, force = false) => {
    if (!progress) return;
    const now = Date.now();
    if (!force && now - last < 2000) return;
    last = now;
    progress(msg());
  };
}

/**
 * Walks every trie node reachable from the head: the contracts trie, each contract's storage
 * trie (through the contract record its leaf commits to), and the classes trie. Each node is
 * re-hashed against its key (a flipped node fails) and must be present (a deleted one fails).
 */
export async function walkHeadTries(world: WorldState, report: ReturnType<typeof throttled>): Promise<{ problems: string[]; nodes: number }> {
  const problems: string[] = [];
  let nodes = 0;
  const open = (hash: TrieHash, root: bigint) => createTrie({ hash, height: 251, store: world.nodes, root });
  const check = async (what: string, hash: TrieHash, root: bigint): Promise<boolean> => {
    try {
      nodes += (await open(hash, root).verify({ full: true })).nodes;
      report(() => `verify --full: ${nodes} trie nodes re-hashed`);
      return true;
    } catch (e) {
      problems.push(`${what} (root ${hex(root)}): ${(e as Error).message}`);
      return false;
    }
  };
  if (await check('contracts trie', world.hash, world.contractsRoot)) {
    const storageRoots = new Set<bigint>();
    for await (const { key: address, value: leaf } of open(world.hash, world.contractsRoot).leaves()) {
      const rec = await world.contractStateByLeaf(leaf);
      if (!rec || contractLeaf(world.hash, rec.classHash, rec.storageRoot, rec.nonce) !== leaf) {
        problems.push(`contract ${hex(address)}: the contract record its trie leaf ${hex(leaf)} commits to is ${rec ? 'altered' : 'missing'}`);
        continue;
      }
      if (rec.storageRoot === 0n || storageRoots.has(rec.storageRoot)) continue;
      storageRoots.add(rec.storageRoot);
      await check(`storage trie of contract ${hex(address)}`, world.hash, rec.storageRoot);
    }
  }
  await check('classes trie', 'poseidon', world.classesRoot);
  return { problems, nodes };
}

/**
 * Recomputes every storage root, the contracts and classes tries and the global root from the
 * flat tables, in memory; walks every stored trie node of the head; then walks the chain from
 * genesis checking, per block: header hash and canonical encoding, links, signatures, every
 * transaction body against its hash, receipts against their transactions, the commitments,
 * the stored body's canonical encoding, the state diff commitment and the reverse diff (that a
 * rollback through the block reaches the previous block's signed root). Returns the problems.
 */
export async function fullCheck(chain: ChainStore, world: WorldState, g: Genesis, progress?: (msg: string) => void): Promise<string[]> {
  const problems: string[] = [];
  const report = throttled(progress);
  const mem = new MemoryNodeStore();
  const contractsTrie = createTrie({ hash: world.hash, height: 251, store: mem, root: 0n });
  let done = 0;
  const total = await world.countContracts();
  for await (const [address, rec] of world.contractEntries()) {
    const t = createTrie({ hash: world.hash, height: 251, store: mem, root: 0n });
    for await (const [, k, v] of world.storageEntries(address)) await t.put(k, v);
    const sroot = await t.commit();
    if (sroot !== rec.storageRoot) problems.push(`contract ${hex(address)}: storage root recomputed ${hex(sroot)} but recorded ${hex(rec.storageRoot)}`);
    await contractsTrie.put(address, contractLeaf(world.hash, rec.classHash, sroot, rec.nonce));
    report(() => `verify --full: flat state ${++done}/${total} contracts recomputed`);
  }
  let last: bigint | undefined;
  for await (const [address] of world.storageEntries()) {
    if (address === last) continue; // keys are in address order: one look-up per contract
    last = address;
    if (!world.getContract(address)) problems.push(`storage for ${hex(address)} without a contract record`);
  }
  const contractsRoot = await contractsTrie.commit();
  const classesTrie = createTrie({ hash: 'poseidon', height: 251, store: mem, root: 0n });
  for await (const [ch, compiled] of world.declaredEntries()) await classesTrie.put(ch, classLeaf(compiled));
  const classesRoot = await classesTrie.commit();
  const root = globalRoot(contractsRoot, classesRoot);
  progress?.(`verify --full: flat state recomputed: ${total} contracts, root ${hex(root)}`);
  const head = await chain.head();
  if (!head) return [...problems, 'no head block'];
  const headHeader = await chain.header(head.number);
  if (headHeader && headHeader.header.new_root !== root) problems.push(`recomputed state root ${hex(root)} differs from the head header's ${hex(headHeader.header.new_root)}`);

  const tries = await walkHeadTries(world, report);
  problems.push(...tries.problems);
  progress?.(`verify --full: ${tries.nodes} trie nodes of the head re-hashed`);

  let parent = 0n;
  for (let n = 0n; n <= head.number; n++) {
    const b = await chain.block(n);
    if (!b) {
      problems.push(`block ${n} is missing`);
      break;
    }
    problems.push(...(await checkBlockBody(chain, b, g)).map((p) => `block ${n}: ${p}`));
    if (b.header.parent_hash !== parent) problems.push(`block ${n}: parent_hash ${hex(b.header.parent_hash)} does not link to ${hex(parent)}`);
    const unsignedGenesis = n === 0n && b.signature[0] === 0n && b.signature[1] === 0n;
    if (!unsignedGenesis && !verify(b.hash, g.sequencer.publicKey, b.signature)) problems.push(`block ${n}: bad sequencer signature`);
    if (n > 0n) {
      try {
        await checkReverseDiff(chain, world, g, n);
      } catch (e) {
        problems.push(`block ${n}: ${(e as Error).message}`);
      }
    }
    parent = b.hash;
    report(() => `verify --full: checked blocks 0..${n} of ${head.number}`);
  }
  progress?.(`verify --full: checked ${head.number + 1n} blocks`);
  return problems;
}

const bytesEqual = (a: Uint8Array | undefined, b: Uint8Array) => !!a && a.length === b.length && a.every((x, i) => x === b[i]);

/** One stored block's header and body re-hashed against each other (problems, without the block number). */
async function checkBlockBody(chain: ChainStore, b: Block, g: Genesis): Promise<string[]> {
  const out: string[] = [];
  const n = b.header.block_number;
  const hh = blockHash(b.header);
  if (hh !== b.hash) out.push(`header hashes to ${hex(hh)}, stored ${hex(b.hash)}`);
  if (!bytesEqual(await chain.db.get(Tables.header.key(n)), Tables.header.encode({ header: b.header, hash: b.hash }))) out.push('the stored header record is not in its canonical form (edited)');
  if (!bytesEqual(await chain.db.get(Tables.body.key(n)), Tables.body.encode(b))) out.push('the stored body is not in its canonical form (edited)');
  if (b.transactions.length !== b.receipts.length) out.push(`${b.transactions.length} transactions but ${b.receipts.length} receipts`);
  b.transactions.forEach((t, i) => {
    try {
      const tx = parseTx(t.body);
      const h = txHash(tx, g.chainId);
      if (h !== t.hash) out.push(`transaction ${i}: its body hashes to ${hex(h)}, stored ${hex(t.hash)}`);
      const sig = txSignature(tx);
      if (sig.length !== t.signature.length || sig.some((x, j) => x !== t.signature[j])) out.push(`transaction ${i}: the stored signature is not the body's`);
    } catch (e) {
      out.push(`transaction ${i}: body does not parse (${(e as Error).message})`);
    }
    const r = b.receipts[i];
    if (r && r.transaction_hash !== t.hash) out.push(`receipt ${i} names transaction ${hex(r.transaction_hash)}, not ${hex(t.hash)}`);
  });
  const c = commitments(b.transactions, b.receipts);
  if (c.transaction_commitment !== b.header.transaction_commitment) out.push('transaction commitment mismatch');
  if (c.event_commitment !== b.header.event_commitment) out.push('event commitment mismatch');
  if (c.receipt_commitment !== b.header.receipt_commitment) out.push('receipt commitment mismatch');
  if (c.event_count !== b.header.event_count || c.transaction_count !== b.header.transaction_count) out.push('transaction or event count mismatch');
  const diff = await chain.stateDiff(n);
  // Block 0 of a bulk genesis stores the inline part of its diff only (its accounts-file
  // accounts are the rest; createGenesis streamed the commitment over the whole state): that
  // commitment is not recomputable from the record, and block 0 is tied to its genesis file by
  // the digest every start compares.
  const partial = n === 0n && (await Meta.genesis.get(chain.db))?.accounts !== undefined;
  if (!diff) out.push('its state diff is missing');
  else if (!partial && stateDiffCommitment(parseDiff(diff)) !== b.header.state_diff_commitment) out.push('state diff commitment mismatch');
  return out;
}

/** A stored state diff (hex JSON) back to bigints. */
export function parseDiff(j: any) {
  return {
    storage_diffs: j.storage_diffs.map((s: any) => ({ address: BigInt(s.address), storage_entries: s.storage_entries.map((e: any) => ({ key: BigInt(e.key), value: BigInt(e.value) })) })),
    deprecated_declared_classes: j.deprecated_declared_classes.map(BigInt),
    declared_classes: j.declared_classes.map((d: any) => ({ class_hash: BigInt(d.class_hash), compiled_class_hash: BigInt(d.compiled_class_hash) })),
    deployed_contracts: j.deployed_contracts.map((d: any) => ({ address: BigInt(d.address), class_hash: BigInt(d.class_hash) })),
    replaced_classes: j.replaced_classes.map((d: any) => ({ contract_address: BigInt(d.contract_address), class_hash: BigInt(d.class_hash) })),
    nonces: j.nonces.map((d: any) => ({ contract_address: BigInt(d.contract_address), nonce: BigInt(d.nonce) })),
  };
}
