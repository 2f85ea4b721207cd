/**
 * Opening a data directory: our lock first, then LevelDB, then the schema version check.
 * A second process on the same directory fails here with the owner's pid.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { lockDataDir, type DataDirLock } from './lock.ts';
import { decodeJson, encodeJson, metaKey, SCHEMA_VERSION } from './schema.ts';
import type { Db } from '../state/index.ts';

export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaError';
  }
}

export interface OpenedDataDir {
  db: Db;
  dataDir: string;
  close(): Promise<void>;
}

export async function openDataDir(dataDir: string, opts: { create?: boolean } = {}): Promise<OpenedDataDir> {
  mkdirSync(dataDir, { recursive: true });
  const lock: DataDirLock = lockDataDir(dataDir);
  let db: Db | undefined;
  try {
    db = new ClassicLevel<Uint8Array, Uint8Array>(join(dataDir, 'db'), { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: opts.create !== false });
    await db.open();
    const v = await db.get(metaKey('schema_version'));
    if (v) {
      const version = decodeJson(v);
      if (version !== SCHEMA_VERSION) throw new SchemaError(`data directory ${dataDir} has schema version ${version}; this perpnode reads version ${SCHEMA_VERSION} only`);
    } else {
      await db.put(metaKey('schema_version'), encodeJson(SCHEMA_VERSION), { sync: true });
    }
  } catch (e) {
    if (db) await db.close().catch(() => undefined);
    lock.release();
    if ((e as { code?: string }).code === 'LEVEL_DATABASE_NOT_OPEN') throw new Error(`cannot open the database in ${dataDir}: ${(e as { cause?: Error }).cause?.message ?? (e as Error).message}`);
    throw e;
  }
  const opened = db;
  let closed = false;
  return {
    db: opened,
    dataDir,
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
