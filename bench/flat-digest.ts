/**
 * The start-up digest pass alone (quickCheck's recomputation of the flat-state digest,
 * node/state/digest.ts), over a synthetic flat state: `--contracts N` contract records with
 * `--slots K` storage slots each. The database is built once under bench/.cache and reused.
 *
 *   npx tsx bench/flat-digest.ts --contracts 200000 --slots 5
 *
 * Prints the entries visited, the digest and the pass's time (time A/B as whole processes, alternating the two trees).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { parseArgs } from 'node:util';
import { WorldState } from '../node/state/world.ts';
import { Tables } from '../node/storage/schema.ts';
import { writeBatch, type DbOp } from '../node/storage/db.ts';

const { values } = parseArgs({ options: { contracts: { type: 'string', default: '200000' }, slots: { type: 'string', default: '5' }, dir: { type: 'string' } } });
const contracts = Number(values.contracts);
const slots = Number(values.slots);
const dir = values.dir ?? join(import.meta.dirname, '.cache', `flat-digest-${contracts}x${slots}`);
const fresh = !existsSync(dir);
const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
await db.open();
if (fresh) {
  let ops: DbOp[] = [];
  for (let i = 1; i <= contracts; i++) {
    const address = BigInt(i) * 0x9e3779b97f4a7c15n + 0x1000n;
    ops.push(Tables.contract.put(address, { classHash: 0x5n, nonce: BigInt(i % 13), storageRoot: address * 31n }));
    for (let k = 0; k < slots; k++) ops.push(Tables.storage.put({ address, key: BigInt(k) * 0x1234567n }, BigInt(i * 7 + k)));
    if (ops.length >= 20_000) {
      await writeBatch(db, ops);
      ops = [];
    }
  }
  await writeBatch(db, ops);
  await db.compactRange(Uint8Array.of(0), Uint8Array.of(255));
}
const world = await WorldState.load(db, 'poseidon');
const t0 = process.hrtime.bigint();
const digest = await world.computeFlatDigest();
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const entries = contracts * (slots + 1);
console.log(JSON.stringify({ entries, digest: '0x' + digest.toString(16), ms: Math.round(ms), usPerEntry: +((ms * 1000) / entries).toFixed(2) }));
await db.close();
