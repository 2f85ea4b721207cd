/**
 * The sequencer's promise never to sign two blocks at one height, kept OUTSIDE LevelDB (the
 * way CometBFT keeps its privval state): `<data-dir>/signer.json` holds the height and hash of
 * the newest block this data directory signed. It is replaced atomically (temp file, fsync,
 * rename, directory fsync) after a block's batch is durable and before the block is published
 * (in-memory head, p2p, RPC subscriptions).
 *
 * A database that lost its newest writes (a truncated write-ahead log, a restored backup) ends
 * below the record: the node refuses to start instead of signing a second, different block at a
 * height followers and wallets already saw. The ways out are re-syncing the database from a
 * follower (which has the lost blocks) or an explicit `perpnode rollback`, which signs a rollback
 * certificate orphaning every block above its target and lowers the record to it.
 *
 * A missing record is started at the head on the first start of a sequencer (a new chain, or a
 * database copied from a follower). Residual window: a crash after a block's batch is durable
 * and before the record is renamed leaves the record one block behind the database; the next
 * start moves it up to the (signature-checked) head.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const hex = (x: bigint) => '0x' + x.toString(16);

export interface SignedMark {
  height: bigint;
  hash: bigint;
}

export class SignerRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignerRecordError';
  }
}

export const SIGNER_FILE = 'signer.json';

export function signerPath(dataDir: string): string {
  return join(dataDir, SIGNER_FILE);
}

/** Reads a data directory's record (undefined when there is none). Never writes. */
export function readSignerRecord(dataDir: string): SignedMark | undefined {
  const path = signerPath(dataDir);
  if (!existsSync(path)) return undefined;
  let j: any;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SignerRecordError(`the signer record ${path} is unreadable (${(e as Error).message}); it is written atomically, so it was altered. Restore it, or re-sync the data directory from a follower`);
  }
  if (!j || typeof j.height !== 'number' || !Number.isSafeInteger(j.height) || j.height < 0 || typeof j.hash !== 'string' || !/^0x[0-9a-f]{1,64}$/.test(j.hash))
    throw new SignerRecordError(`the signer record ${path} is malformed (expected {"height": <block number>, "hash": "0x…"}); restore it, or re-sync the data directory from a follower`);
  return { height: BigInt(j.height), hash: BigInt(j.hash) };
}

function writeDurably(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export class SignerRecord {
  private constructor(
    readonly dataDir: string,
    private mark: SignedMark | undefined,
  ) {}

  static load(dataDir: string): SignerRecord {
    return new SignerRecord(dataDir, readSignerRecord(dataDir));
  }

  get last(): SignedMark | undefined {
    return this.mark;
  }

  /** Throws unless signing block `height` with `hash` keeps the promise. */
  guard(height: bigint, hash: bigint): void {
    const m = this.mark;
    if (!m || height > m.height) return;
    if (height === m.height && hash === m.hash) return;
    throw new SignerRecordError(`refusing to sign block ${height} (${hex(hash)}): this sequencer already signed ${height === m.height ? `block ${height} as ${hex(m.hash)}` : `up to block ${m.height} (${hex(m.hash)})`} (${signerPath(this.dataDir)})`);
  }

  /** Records a signed block whose batch is durable; the record only moves up. */
  advance(height: bigint, hash: bigint): void {
    this.guard(height, hash);
    if (this.mark && this.mark.height === height) return;
    this.write({ height, hash });
  }

  /** A rollback's certificate orphans everything above `height`: the record moves down to it. */
  reset(height: bigint, hash: bigint): void {
    this.write({ height, hash });
  }

  private write(m: SignedMark): void {
    writeDurably(signerPath(this.dataDir), JSON.stringify({ height: Number(m.height), hash: hex(m.hash), written: new Date().toISOString() }) + '\n');
    this.mark = m;
  }
}

/**
 * Why the database cannot be signed on from, or undefined when it can: it must hold the
 * recorded block, with the recorded hash. `blockHashAt` reads the database's canonical hash.
 */
export async function signerProblem(rec: SignedMark | undefined, head: { number: bigint; hash: bigint }, blockHashAt: (n: bigint) => Promise<bigint | undefined>, dataDir: string): Promise<string | undefined> {
  if (!rec) return undefined;
  if (head.number < rec.height)
    return `this sequencer signed block ${rec.height} (${hex(rec.hash)}), but the database in ${dataDir} ends at block ${head.number}: its newest writes were lost (e.g. a truncated write-ahead log). Signing from here would make a second block at heights followers and wallets already saw. Recover: copy the db/ of an up-to-date follower into ${dataDir} (keep ${SIGNER_FILE}), or orphan blocks ${head.number + 1n}..${rec.height} explicitly with \`perpnode rollback --to ${head.number}\` (signs a rollback certificate)`;
  const at = await blockHashAt(rec.height);
  if (at !== rec.hash)
    return `the database in ${dataDir} holds ${at === undefined ? 'no block' : `block ${hex(at)}`} at height ${rec.height}, but this sequencer signed ${hex(rec.hash)} there (${SIGNER_FILE}): the database is not this sequencer's chain. Re-sync it from a follower of this chain, or roll back explicitly below ${rec.height}`;
  return undefined;
}

/** The record of each open database (so every signing site finds it without plumbing). */
const byDb = new WeakMap<object, SignerRecord>();

export function attachSigner(db: object, rec: SignerRecord): void {
  byDb.set(db, rec);
}

export function signerOf(db: object): SignerRecord | undefined {
  return byDb.get(db);
}
