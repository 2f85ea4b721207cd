/**
 * Numbered migrations of the data-directory layout (schema.ts's SCHEMA_VERSION).
 *
 * A directory written by an older perpnode is brought to SCHEMA_VERSION when it is opened for
 * writing: each step `from -> from + 1` reads what it needs and returns the ops that rewrite it,
 * and the ops are committed in ONE atomic batch together with the new schema_version record.
 * So a step either lands whole or not at all: a step that throws (or a crash in the middle)
 * leaves the directory at its old version, unchanged, and the next start tries again.
 *
 * Rules for adding one (a codec change in schema.ts needs one):
 *   - bump SCHEMA_VERSION and append `{ from: SCHEMA_VERSION - 1, ... }` below;
 *   - a step never depends on code that reads the new layout (it reads raw bytes of the old one);
 *   - add a test that writes the old bytes by hand and checks what the step made of them
 *     (test/unit/storage-migrations.test.ts shows how).
 *
 * Version 1 is the first layout; no step is needed yet. A directory newer than this code is
 * refused (an older binary must not guess at a newer layout), and a read-only open of an older
 * directory is refused rather than migrated (read-only tools never write).
 */
import { Meta, SCHEMA_VERSION } from './schema.ts';
import { writeBatch, type Db, type DbOp } from './db.ts';

export interface Migration {
  /** The version this step reads; it writes `from + 1`. */
  readonly from: number;
  /** What the step changes, for the log and for errors. */
  readonly name: string;
  /** The ops that turn a `from` directory into a `from + 1` one; nothing may be written here. */
  ops(db: Db): Promise<DbOp[]>;
}

/** Every step, in order. Empty while the layout is at its first version. */
export const MIGRATIONS: readonly Migration[] = [];

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export interface MigrateResult {
  from: number;
  to: number;
  /** The steps that ran, by name, oldest first. */
  applied: string[];
}

/**
 * The steps from `found` to `target`, checked before anything runs: a gap or a duplicate in the
 * list is a bug, reported as one instead of half-migrating a directory.
 */
export function planMigrations(found: number, target: number = SCHEMA_VERSION, list: readonly Migration[] = MIGRATIONS): Migration[] {
  if (!Number.isInteger(found) || found < 1) throw new MigrationError(`schema version ${String(found)} is not a version any perpnode wrote`);
  if (found > target) throw new MigrationError(`the data directory has schema version ${found}, newer than the ${target} this perpnode reads; run the perpnode that wrote it (or a newer one)`);
  const plan: Migration[] = [];
  for (let v = found; v < target; v++) {
    const steps = list.filter((m) => m.from === v);
    if (steps.length !== 1) throw new MigrationError(`internal error: ${steps.length === 0 ? 'no' : 'more than one'} migration from schema version ${v} to ${v + 1}`);
    plan.push(steps[0]!);
  }
  return plan;
}

/**
 * Brings `db` from `found` to `target`, one atomic batch per step (durable: sync). Returns what
 * ran. `log` hears one line per step.
 */
export async function migrate(db: Db, found: number, opts: { target?: number; list?: readonly Migration[]; log?: (line: string) => void } = {}): Promise<MigrateResult> {
  const target = opts.target ?? SCHEMA_VERSION;
  const plan = planMigrations(found, target, opts.list ?? MIGRATIONS);
  const applied: string[] = [];
  let v = found;
  for (const step of plan) {
    let ops: DbOp[];
    try {
      ops = await step.ops(db);
    } catch (e) {
      throw new MigrationError(`migration ${v} -> ${v + 1} (${step.name}) failed, nothing was written and the directory stays at version ${v}: ${(e as Error).message}`);
    }
    if (ops.some((op) => Buffer.from(op.key).equals(Buffer.from(Meta.schemaVersion.key)))) throw new MigrationError(`internal error: migration ${v} -> ${v + 1} (${step.name}) writes schema_version itself`);
    await writeBatch(db, [...ops, Meta.schemaVersion.put(v + 1)], { sync: true });
    opts.log?.(`migrated the data directory from schema version ${v} to ${v + 1}: ${step.name} (${ops.length} writes)`);
    applied.push(step.name);
    v++;
  }
  return { from: found, to: v, applied };
}
