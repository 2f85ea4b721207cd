/**
 * Rollback to an earlier height, crash-safe at every step:
 *   1. one sync batch writes the intent marker and moves the head pointer to the target;
 *   2. blocks are unwound from the old head down, one block per sync batch: its reverse diff
 *      is applied to the flat tables, the block is archived as orphaned (table X) and unlinked
 *      from the canonical tables, and the progress marker (the height the flat state is at)
 *      moves in the same batch;
 *   3. the state root is checked against the target header's;
 *   4. one batch clears the marker and stores the signed rollback certificate.
 * A kill at any moment leaves a marker that the next start (or `perpnode rollback` again)
 * resumes from, ending at the exact target root. Trie nodes are never deleted, so the target
 * root's tries are already there. Orphaned blocks' transactions are not replayed.
 */
import { encodeShortString, poseidonHashMany, sign, starknetKeccak, verify } from '../crypto/index.ts';
import { classLeaf, contractLeaf, globalRoot, type ContractRecord, type Db, type DbOp, type ReverseDiff, type WorldState } from '../state/index.ts';
import { blockHash } from './header.ts';
import { Meta, Tables } from '../storage/schema.ts';
import { writeBatch } from '../storage/db.ts';
import { ChainStore } from './store.ts';
import type { Genesis } from './genesis.ts';
import { IntegrityError } from './verify.ts';
import { checkpointsAbove } from './checkpoints.ts';
import { signerOf } from './signer-record.ts';

const hex = (x: bigint) => '0x' + x.toString(16);
const CERT_V1 = encodeShortString('PERPNODE_ROLLBACK_V1');

export interface RollbackIntent {
  target: bigint;
  target_hash: bigint;
  from: bigint;
  from_hash: bigint;
  /** The height the flat state is at (moves down as blocks are unwound). */
  state_at: bigint;
  reason: string;
  incident_id: bigint;
  /** A follower's rollback: the sequencer's certificate, stored as given when the rollback ends (also after a crash). */
  certificate?: ReturnType<typeof certificateToJson>;
}

/** What followers need to follow a rollback: signed by the sequencer key. */
export interface RollbackCertificate {
  chain_id: bigint;
  target_height: bigint;
  target_hash: bigint;
  orphaned_head_height: bigint;
  orphaned_head_hash: bigint;
  reason: string;
  incident_id: bigint;
  signature: [bigint, bigint];
}

/** The reason is committed by its Starknet keccak; the rest field by field. */
export function certificateHash(c: Omit<RollbackCertificate, 'signature'>): bigint {
  return poseidonHashMany([CERT_V1, c.chain_id, c.target_height, c.target_hash, c.orphaned_head_height, c.orphaned_head_hash, starknetKeccak(c.reason), c.incident_id]);
}

export function verifyCertificate(c: RollbackCertificate, publicKey: bigint): boolean {
  return verify(certificateHash(c), publicKey, c.signature);
}

export function certificateToJson(c: RollbackCertificate) {
  return {
    chain_id: hex(c.chain_id),
    target_height: Number(c.target_height),
    target_hash: hex(c.target_hash),
    orphaned_head_height: Number(c.orphaned_head_height),
    orphaned_head_hash: hex(c.orphaned_head_hash),
    reason: c.reason,
    incident_id: hex(c.incident_id),
    signature: c.signature.map(hex),
  };
}

export function certificateFromJson(j: any): RollbackCertificate {
  if (!j || typeof j !== 'object' || typeof j.reason !== 'string' || j.reason.length > 256 || !Array.isArray(j.signature) || j.signature.length !== 2) throw new Error('malformed rollback certificate');
  return {
    chain_id: BigInt(j.chain_id),
    target_height: BigInt(j.target_height),
    target_hash: BigInt(j.target_hash),
    orphaned_head_height: BigInt(j.orphaned_head_height),
    orphaned_head_hash: BigInt(j.orphaned_head_hash),
    reason: j.reason,
    incident_id: BigInt(j.incident_id),
    signature: [BigInt(j.signature[0]), BigInt(j.signature[1])],
  };
}

export async function pendingRollback(db: Db): Promise<RollbackIntent | undefined> {
  return Meta.rollbackIntent.get(db);
}

export interface RollbackOptions {
  reason: string;
  incidentId: bigint;
  /** Signs the certificate; without it (a follower) the certificate passed in is stored. */
  signingKey?: bigint;
  certificate?: RollbackCertificate;
  /** Called after each unwound block (tests kill the process here). */
  onProgress?: (stateAt: bigint) => void | Promise<void>;
}

/** Starts (or, if a marker exists, resumes) a rollback to `target`. Returns the certificate. */
export async function rollback(db: Db, chain: ChainStore, world: WorldState, g: Genesis, target: bigint, opts: RollbackOptions): Promise<RollbackCertificate> {
  let intent = await pendingRollback(db);
  if (intent && intent.target !== target) throw new Error(`a rollback to ${intent.target} is in progress; finish it first (perpnode rollback --to ${intent.target})`);
  if (!intent) {
    const head = await chain.head();
    if (!head) throw new Error('no head block');
    // Blocks this sequencer signed that the database lost (signer-record.ts): the rollback may
    // target the database's own head, and its certificate orphans up to the newest signed one.
    const signed = signerOf(db)?.last;
    const lost = signed && signed.height > head.number ? signed : undefined;
    if (target < 0n || target > head.number || (target === head.number && !lost)) throw new Error(`rollback target ${target} must be below the head ${head.number}`);
    const t = await chain.header(target);
    if (!t) throw new Error(`no block at height ${target}`);
    // Every reverse diff is proven against the signed headers before anything is written.
    for (let n = head.number; n > target; n--) await checkReverseDiff(chain, world, g, n);
    const from = lost ? { number: lost.height, hash: lost.hash } : head;
    intent = { target, target_hash: t.hash, from: from.number, from_hash: from.hash, state_at: head.number, reason: opts.reason, incident_id: opts.incidentId, ...(opts.certificate ? { certificate: certificateToJson(opts.certificate) } : {}) };
    await writeBatch(
      db,
      [
        Meta.rollbackIntent.put(intent),
        Meta.head.put({ number: target, hash: t.hash }),
      ],
      { sync: true },
    );
  }
  return resumeRollback(db, chain, world, g, intent, opts);
}

async function resumeRollback(db: Db, chain: ChainStore, world: WorldState, g: Genesis, intent: RollbackIntent, opts: Partial<RollbackOptions>): Promise<RollbackCertificate> {
  for (let n = intent.state_at; n > intent.target; n--) {
    const block = await chain.block(n);
    const rev = await chain.reverseDiff(n);
    if (!block || !rev) throw new IntegrityError(`rollback: block ${n} or its reverse diff is missing`);
    await checkReverseDiff(chain, world, g, n);
    const u = world.unwind(rev);
    const next = { ...intent, state_at: n - 1n };
    const ops: DbOp[] = [
      ...u.ops,
      ...ChainStore.orphanOps(block, { reason: intent.reason, incident_id: hex(intent.incident_id), rolled_back_to: Number(intent.target) }),
      ...ChainStore.unlinkOps(block),
      Meta.rollbackIntent.put(next),
    ];
    await writeBatch(db, ops, { sync: true });
    u.apply();
    intent = next;
    await opts.onProgress?.(next.state_at);
  }
  const t = await chain.header(intent.target);
  if (!t) throw new IntegrityError(`rollback: target header ${intent.target} is missing`);
  if (world.root !== t.header.new_root) throw new IntegrityError(`rollback ended with state root ${hex(world.root)}, but block ${intent.target} commits to ${hex(t.header.new_root)}`);
  let cert: RollbackCertificate;
  const given = opts.certificate ?? (intent.certificate ? certificateFromJson(intent.certificate) : undefined);
  if (given) cert = given;
  else {
    const body = { chain_id: g.chainId, target_height: intent.target, target_hash: intent.target_hash, orphaned_head_height: intent.from, orphaned_head_hash: intent.from_hash, reason: intent.reason, incident_id: intent.incident_id };
    const key = opts.signingKey ?? g.sequencer.privateKey;
    if (!key) throw new Error('no sequencer key to sign the rollback certificate');
    const s = sign(certificateHash(body), key);
    cert = { ...body, signature: [s.r, s.s] };
  }
  // Lowered before the marker goes: a crash in between resumes here and lowers it again.
  signerOf(db)?.reset(intent.target, intent.target_hash);
  await writeBatch(
    db,
    [
      ...(await checkpointsAbove(db, intent.target)),
      Meta.rollbackIntent.del(),
      Tables.rollbackCert.put(BigInt((await listCertificates(db)).length), certificateToJson(cert)),
      Meta.afterRollback.put({ target: intent.target, incident_id: intent.incident_id }),
    ],
    { sync: true },
  );
  return cert;
}

/**
 * Proves that undoing block n with its stored reverse diff reaches the state block n-1 signed:
 * the diff's entries are applied to the committed tries at block n (read through their hashes,
 * no flat table involved) and the resulting global root must equal block n-1's signed
 * `new_root`, and the roots the diff records must be those. An altered, incomplete or foreign
 * reverse diff fails here, before the rollback writes anything for the block.
 */
export async function checkReverseDiff(chain: ChainStore, world: WorldState, g: Genesis, n: bigint): Promise<void> {
  const refuse = (why: string) => new IntegrityError(`rollback refused: the reverse diff of block ${n} ${why}. Nothing of block ${n} was unwound; re-sync the data directory from a follower`);
  const [hn, hp, rev, roots] = await Promise.all([chain.header(n), chain.header(n - 1n), chain.reverseDiff(n), chain.roots(n)]);
  if (!hn || !hp || !rev || !roots) throw refuse('(or a header or the roots it starts from) is missing');
  if (blockHash(hp.header) !== hp.hash || hn.header.parent_hash !== hp.hash) throw refuse(`cannot be checked: block ${n - 1n}'s stored header does not hash to block ${n}'s parent`);
  const sig = await chain.signature(n - 1n);
  const unsignedGenesis = n - 1n === 0n && sig?.[0] === 0n && sig?.[1] === 0n;
  if (!sig || (!unsignedGenesis && !verify(hp.hash, g.sequencer.publicKey, sig))) throw refuse(`cannot be checked: block ${n - 1n}'s signature does not verify`);
  if (globalRoot(roots.contractsRoot, roots.classesRoot) !== hn.header.new_root) throw refuse(`cannot be checked: the trie roots stored for block ${n} are not its signed state root`);
  const target = hp.header.new_root;
  const contracts = world.contractsTrie(roots.contractsRoot);
  const committed = async (address: bigint): Promise<ContractRecord | null> => {
    const leaf = await contracts.getAt(roots.contractsRoot, address);
    if (leaf === 0n) return null;
    const rec = await world.contractStateByLeaf(leaf);
    if (!rec || contractLeaf(world.hash, rec.classHash, rec.storageRoot, rec.nonce) !== leaf) throw refuse(`cannot be checked: the contract record of ${hex(address)} at block ${n} is missing or altered`);
    return rec;
  };
  const storage = new Map<bigint, ReverseDiff['storage']>();
  for (const e of rev.storage) storage.set(e.address, [...(storage.get(e.address) ?? []), e]);
  const prevs = new Map(rev.contracts.map((c) => [c.address, c.prev]));
  for (const address of new Set([...storage.keys(), ...prevs.keys()])) {
    const now = await committed(address);
    const after = prevs.has(address) ? prevs.get(address)! : now;
    // The storage root the record returns to must be what the diff's storage entries rebuild.
    const t = world.storageTrie(now?.storageRoot ?? 0n);
    for (const e of storage.get(address) ?? []) t.put(e.key, e.prev);
    const sroot = await t.commit();
    if (sroot !== (after?.storageRoot ?? 0n)) throw refuse(`does not restore contract ${hex(address)}'s storage to its recorded storage root`);
    contracts.put(address, after ? contractLeaf(world.hash, after.classHash, after.storageRoot, after.nonce) : 0n);
  }
  const classes = world.classesTrie(roots.classesRoot);
  for (const d of rev.declared) classes.put(d.class_hash, d.prev === null ? 0n : classLeaf(d.prev));
  const contractsRoot = await contracts.commit();
  const classesRoot = await classes.commit();
  const reached = globalRoot(contractsRoot, classesRoot);
  if (reached !== target) throw refuse(`reaches state root ${hex(reached)}, but block ${n - 1n} is signed with ${hex(target)}`);
  if (BigInt(rev.roots.contracts_root) !== contractsRoot || BigInt(rev.roots.classes_root) !== classesRoot) throw refuse(`records trie roots that are not the ones it reaches`);
}

/** Resumes an interrupted rollback if a marker is there (every start calls this first). */
export async function finishPendingRollback(db: Db, chain: ChainStore, world: WorldState, g: Genesis): Promise<RollbackCertificate | undefined> {
  const intent = await pendingRollback(db);
  if (!intent) return undefined;
  return resumeRollback(db, chain, world, g, intent, {});
}

export async function listCertificates(db: Db): Promise<RollbackCertificate[]> {
  const out: RollbackCertificate[] = [];
  for await (const j of Tables.rollbackCert.values(db)) out.push(certificateFromJson(j));
  return out;
}
