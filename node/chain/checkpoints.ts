/**
 * Checkpoints: named (or automatic, every N blocks) heights an operator can roll back to.
 * Every block keeps its reverse diff, so a checkpoint is only a label on a height; the time is
 * the operator's wall clock (a label, never an input to a state transition).
 */
import { writeBatch, type Db, type DbOp } from '../storage/db.ts';
import { Tables } from '../storage/schema.ts';
import type { ChainStore } from './store.ts';

export interface Checkpoint {
  height: bigint;
  block_hash: bigint;
  state_root: bigint;
  label: string;
  time: string;
}

const LABEL = /^[A-Za-z0-9._-]{1,64}$/;

export function checkLabel(label: string): string {
  if (!LABEL.test(label)) throw new Error('a checkpoint label is 1-64 characters of letters, digits, ".", "_" or "-"');
  if (/^[0-9]+$/.test(label)) throw new Error('a checkpoint label cannot be all digits (it would read as a height)');
  return label;
}

export function checkpointOps(c: Checkpoint): DbOp[] {
  return [Tables.checkpoint.put(c.height, c)];
}

export async function listCheckpoints(db: Db): Promise<Checkpoint[]> {
  const out: Checkpoint[] = [];
  for await (const c of Tables.checkpoint.values(db)) out.push(c);
  return out;
}

/** A checkpoint at the current head (or a given height) with a label. */
export async function makeCheckpoint(db: Db, chain: ChainStore, label: string, height?: bigint): Promise<Checkpoint> {
  checkLabel(label);
  const head = await chain.head();
  if (!head) throw new Error('no head block');
  const n = height ?? head.number;
  const h = await chain.header(n);
  if (!h) throw new Error(`no block at height ${n}`);
  const existing = (await listCheckpoints(db)).find((c) => c.label === label);
  if (existing && existing.height !== n) throw new Error(`checkpoint label "${label}" already names height ${existing.height}`);
  const c: Checkpoint = { height: n, block_hash: h.hash, state_root: h.header.new_root, label, time: new Date().toISOString() };
  await writeBatch(db, checkpointOps(c), { sync: true });
  return c;
}

/** `--to` accepts a height or a checkpoint label. */
export async function resolveTarget(db: Db, to: string): Promise<bigint> {
  if (/^[0-9]+$/.test(to)) return BigInt(to);
  const c = (await listCheckpoints(db)).filter((x) => x.label === to);
  if (!c.length) throw new Error(`no checkpoint labelled "${to}" (perpnode checkpoints lists them)`);
  return c[c.length - 1]!.height;
}

/** Checkpoints above a height are dropped when the chain is rolled back below them. */
export async function checkpointsAbove(db: Db, height: bigint): Promise<DbOp[]> {
  const ops: DbOp[] = [];
  for (const c of await listCheckpoints(db)) if (c.height > height) ops.push(Tables.checkpoint.del(c.height));
  return ops;
}
