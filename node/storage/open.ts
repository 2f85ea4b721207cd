/**
 * Opening a data directory: our lock first, then LevelDB, then the schema version check.
 * A second process on the same directory fails here with the owner's pid.
 *
 * Three ways to open:
 *   - 'create' (start): a missing or empty directory becomes a new one;
 *   - 'existing' (rollback, checkpoint, refund): it must already be a perpnode data directory;
 *   - 'readonly' (verify, status, checkpoints, audit): the same, and nothing is written to the
 *     database (LevelDB itself still replays its write-ahead log into a table on open, as on
 *     every open; it never creates, and we never call its repair).
 * A database whose db/CURRENT is missing is refused in every mode: LevelDB would otherwise
 * start an empty database there and delete the tables it no longer lists.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { lockDataDir, type DataDirLock } from './lock.ts';
import { Meta, SCHEMA_VERSION } from './schema.ts';
import { writeBatch, type Db } from './db.ts';
import { MIGRATIONS, MigrationError, migrate, planMigrations, type Migration } from './migrations.ts';

export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaError';
  }
}

/** The path given is not (or no longer) a perpnode data directory. */
export class DataDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirError';
  }
}

export type OpenMode = 'create' | 'existing' | 'readonly';

export interface OpenedDataDir {
  db: Db;
  dataDir: string;
  readOnly: boolean;
  close(): Promise<void>;
}

/**
 * Checks, without writing anything, that `dataDir` holds a LevelDB database we may open.
 * Returns false when there is none yet (allowed only for 'create').
 */
export function inspectDataDir(dataDir: string): boolean {
  if (!existsSync(dataDir)) return false;
  if (!statSync(dataDir).isDirectory()) throw new DataDirError(`${dataDir} is not a directory, so not a perpnode data directory (check --data-dir)`);
  const dbDir = join(dataDir, 'db');
  if (!existsSync(dbDir)) return false;
  const files = readdirSync(dbDir);
  if (files.length === 0) return false;
  if (!files.includes('CURRENT'))
    throw new DataDirError(
      `the database in ${dataDir} is damaged: db/CURRENT is missing (it names the MANIFEST listing the tables). Not opening it: LevelDB would start an empty database there and delete the tables. Restore db/CURRENT (a file holding the name of the newest db/MANIFEST-* followed by a newline) or re-sync from a follower`,
    );
  const manifest = readFileSync(join(dbDir, 'CURRENT'), 'utf8').trim();
  if (!/^MANIFEST-\d+$/.test(manifest) || !files.includes(manifest)) throw new DataDirError(`the database in ${dataDir} is damaged: db/CURRENT names ${JSON.stringify(manifest)}, which is not there. Not opening it; restore the manifest or re-sync from a follower`);
  return true;
}

async function isEmpty(db: Db): Promise<boolean> {
  for await (const _ of db.keys({ limit: 1 })) return false;
  return true;
}

export interface OpenOptions {
  mode?: OpenMode;
  /** Hears one line per migration step run at this open. */
  log?: (line: string) => void;
  /** The layout to bring the directory to; default SCHEMA_VERSION and MIGRATIONS (tests of future steps set it). */
  layout?: { version: number; migrations: readonly Migration[] };
}

export async function openDataDir(dataDir: string, opts: OpenOptions = {}): Promise<OpenedDataDir> {
  const mode = opts.mode ?? 'create';
  const layout = opts.layout ?? { version: SCHEMA_VERSION, migrations: MIGRATIONS };
  const exists = inspectDataDir(dataDir);
  if (!exists && mode !== 'create') throw new DataDirError(`${dataDir} is not a perpnode data directory (${existsSync(dataDir) ? 'it has no db/ database' : 'it does not exist'}); check --data-dir`);
  mkdirSync(dataDir, { recursive: true });
  const lock: DataDirLock = lockDataDir(dataDir);
  let db: Db | undefined;
  try {
    db = new ClassicLevel<Uint8Array, Uint8Array>(join(dataDir, 'db'), { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: !exists });
    await db.open();
    const version = await Meta.schemaVersion.get(db);
    if (version !== undefined) {
      if (version !== layout.version) {
        try {
          planMigrations(version, layout.version, layout.migrations);
        } catch (e) {
          throw new SchemaError(`data directory ${dataDir} has schema version ${version}; this perpnode reads version ${layout.version}: ${(e as Error).message}`);
        }
        if (mode === 'readonly') throw new SchemaError(`data directory ${dataDir} has schema version ${version} and this perpnode reads version ${layout.version}; a read-only command does not migrate it: run \`perpnode start\` on it once (it migrates at open), then retry`);
        try {
          await migrate(db, version, { target: layout.version, list: layout.migrations, log: opts.log });
        } catch (e) {
          if (e instanceof MigrationError) throw new SchemaError(`data directory ${dataDir}: ${e.message}`);
          throw e;
        }
      }
    } else if (!(await isEmpty(db))) {
      throw new SchemaError(`data directory ${dataDir} is damaged: its database has no schema_version record (every perpnode database has one from its first start). Not opening it; re-sync from a follower`);
    } else if (mode !== 'create') {
      throw new DataDirError(`${dataDir} is not a perpnode data directory (its database is empty); check --data-dir`);
    } else {
      await writeBatch(db, [Meta.schemaVersion.put(layout.version)], { sync: true });
    }
  } catch (e) {
    if (db) await db.close().catch(() => undefined);
    lock.release();
    if ((e as { code?: string }).code === 'LEVEL_DATABASE_NOT_OPEN') throw new Error(`cannot open the database in ${dataDir}: ${(e as { cause?: Error }).cause?.message ?? (e as Error).message}`);
    throw e;
  }
  const opened = db;
  if (mode === 'readonly') forbidWrites(opened, dataDir);
  let closed = false;
  return {
    db: opened,
    dataDir,
    readOnly: mode === 'readonly',
    async close() {
      if (closed) return;
      closed = true;
      try {
        await opened.close();
      } finally {
        lock.release();
      }
    },
  };
}

/** A read-only open: any write through this handle throws (a bug, never a silent change). */
function forbidWrites(db: Db, dataDir: string): void {
  const refuse = () => {
    throw new Error(`internal error: a write to ${dataDir}, which was opened read-only`);
  };
  const w = db as unknown as Record<string, unknown>;
  for (const m of ['put', 'del', 'batch', 'clear']) w[m] = refuse;
}
