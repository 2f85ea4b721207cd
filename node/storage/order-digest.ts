/**
 * A digest over the order book's persisted records (table O: open orders and order history),
 * so that an order record edited while the node was stopped is refused at start instead of
 * being served and matched. Like the flat-state digest (state/digest.ts): the sum mod 2^256
 * of SHA-256 over every (key, value), updated from each block's batch (old values read back,
 * new ones added) and stored as meta/order_digest in that same batch.
 */
import { createHash } from 'node:crypto';
import type { Db, DbOp } from '../state/index.ts';
import { Meta, Tables } from './schema.ts';
import { Sha256Sum } from '../state/digest.ts';

const MOD = 1n << 256n;

function entry(key: Uint8Array, value: Uint8Array): bigint {
  return BigInt('0x' + createHash('sha256').update(Uint8Array.of(Tables.order.tag)).update(key).update(value).digest('hex'));
}

function stored(db: Db): Promise<bigint | undefined> {
  return Meta.orderDigest.get(db);
}

/** The op updating the digest for a block's batch (undefined when the batch writes no order record). */
export async function orderDigestOp(db: Db, ops: readonly DbOp[]): Promise<DbOp | undefined> {
  const last = new Map<string, DbOp>();
  for (const o of ops) if (o.key[0] === Tables.order.tag) last.set(Buffer.from(o.key).toString('hex'), o);
  if (last.size === 0) return undefined;
  const touched = [...last.values()];
  const old = await db.getMany(touched.map((o) => o.key));
  let d = (await stored(db)) ?? 0n;
  touched.forEach((o, i) => {
    const prev = old[i];
    if (prev) d = (d - entry(o.key, prev) + MOD) % MOD;
    if (o.type === 'put') d = (d + entry(o.key, o.value)) % MOD;
  });
  return Meta.orderDigest.put(d);
}

/** Why the order records cannot be trusted, or undefined (one pass over table O). */
export async function orderDigestProblem(db: Db, dataDir: string): Promise<string | undefined> {
  const sum = new Sha256Sum();
  const tag = Uint8Array.of(Tables.order.tag);
  let n = 0;
  for await (const batch of Tables.order.rawBatches(db))
    for (const [k, v] of batch) {
      sum.add(tag, k, v); // = entry(k, v)
      n++;
    }
  const d = sum.value;
  const s = await stored(db);
  if (s === undefined ? n === 0 : s === d) return undefined;
  return `the order book's records in ${dataDir} (table O, ${n} records) were altered after the last block was committed: ${s === undefined ? 'their digest (meta/order_digest) is missing' : `they digest to 0x${d.toString(16)}, the head's batch recorded 0x${s.toString(16)}`}. An edited order would be served and matched. The book is sequencer state (followers do not hold it): restore db/ from a backup taken while the node was stopped`;
}
