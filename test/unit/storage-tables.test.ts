import { expect } from 'chai';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { Meta, META_LIST, TABLE_LIST, Tables, accountOrderRange } from '../../node/storage/schema.ts';
import { tempDir } from '../helpers/tmp.ts';

/*
 * The version-1 layout, written here byte by byte as the code before the table list wrote it
 * (tag byte, big-endian fields, JSON text with 0x-hex felts), independently of schema.ts. Every
 * record must read back through its table, and encoding the decoded value must give the same
 * bytes: a v1 data directory opens and serves the same answers.
 */
const te = new TextEncoder();
const felt = (x: bigint) => Buffer.from(x.toString(16).padStart(64, '0'), 'hex');
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const key = (tag: string, ...parts: Uint8Array[]) => new Uint8Array(Buffer.concat([Buffer.from(tag, 'latin1'), ...parts]));
const text = (s: string) => te.encode(s);

const HEADER =
  '{"block_number":7,"parent_hash":"0xabc","new_root":"0x5f","timestamp":1700000000,"sequencer_address":"0x1","l1_gas_price":{"price_in_wei":"0x1","price_in_fri":"0x2"},"l1_data_gas_price":{"price_in_wei":"0x3","price_in_fri":"0x4"},"l2_gas_price":{"price_in_wei":"0x5","price_in_fri":"0x6"},"l1_da_mode":"BLOB","starknet_version":"0.14.0","transaction_count":1,"event_count":1,"state_diff_length":2,"state_diff_commitment":"0x7","transaction_commitment":"0x8","event_commitment":"0x9","receipt_commitment":"0xa"}';
const TX = '{"hash":"0x77","signature":["0x1","0x2"],"body":{"type":"DEPOSIT","amount":"0x3e8"}}';
const RECEIPT = '{"transaction_hash":"0x77","events":[{"from_address":"0x42","keys":["0x1"],"data":["0x2","0x3"]}]}';
const ORDER =
  '{"order":{"account":"0x42","market":"BTC-USD","side":"BUY","orderType":"LIMIT","timeInForce":"GTC","size":"0x186a0","price":"0x5d21dba000","triggerPrice":"0x0","reduceOnly":false,"expiry":"0xee6b2800","salt":"0x4d"},"hash":"0x99","signature":["0x5","0x6"],"seq":"0x3","remaining":"0x186a0","filled":"0x0","status":"OPEN"}';

/** [key, value, what the table must read] for one record of every v1 table and meta record. */
const V1: { table: string; key: Uint8Array; value: Uint8Array; check(v: any): void }[] = [
  { table: 'meta', key: key('M', text('schema_version')), value: text('1'), check: (v) => expect(v).to.equal(1) },
  { table: 'meta', key: key('M', text('head')), value: text('{"number":"0x7","hash":"0xbeef"}'), check: (v) => expect(v).to.deep.equal({ number: '0x7', hash: '0xbeef' }) },
  { table: 'header', key: key('H', u64(7n)), value: text(`{"header":${HEADER},"hash":"0xbeef"}`), check: (v) => (expect(v.hash).to.equal(0xbeefn), expect(v.header.block_number).to.equal(7n), expect(v.header.l2_gas_price.price_in_fri).to.equal(6n)) },
  { table: 'hashIndex', key: key('h', felt(0xbeefn)), value: felt(7n), check: (v) => expect(v).to.equal(7n) },
  { table: 'signature', key: key('G', u64(7n)), value: text('["0x11","0x22"]'), check: (v) => expect(v).to.deep.equal([0x11n, 0x22n]) },
  { table: 'body', key: key('B', u64(7n)), value: text(`{"transactions":[${TX}],"receipts":[${RECEIPT}]}`), check: (v) => (expect(v.transactions[0].hash).to.equal(0x77n), expect(v.receipts[0].events[0].data).to.deep.equal([2n, 3n])) },
  { table: 'txIndex', key: key('x', felt(0x77n)), value: text('{"block_number":"0x7","index":0}'), check: (v) => expect(v).to.deep.equal({ block_number: 7n, index: 0 }) },
  {
    table: 'stateDiff',
    key: key('D', u64(7n)),
    value: text('{"storage_diffs":[{"address":"0x42","storage_entries":[{"key":"0x1","value":"0x2"}]}],"deprecated_declared_classes":[],"declared_classes":[],"deployed_contracts":[],"replaced_classes":[],"nonces":[{"contract_address":"0x42","nonce":"0x1"}]}'),
    check: (v) => expect(v.storage_diffs[0].storage_entries[0].key).to.equal('0x1'),
  },
  { table: 'blockRoots', key: key('r', u64(7n)), value: text('{"contracts_root":"0x10","classes_root":"0x0"}'), check: (v) => expect(v).to.deep.equal({ contractsRoot: 0x10n, classesRoot: 0n }) },
  {
    table: 'reverseDiff',
    key: key('R', u64(7n)),
    value: text('{"storage":[{"address":"0x42","key":"0x1","prev":"0x0"}],"contracts":[{"address":"0x42","prev":{"class_hash":"0x5","nonce":"0x0","storage_root":"0x0"}},{"address":"0x43","prev":null}],"declared":[{"class_hash":"0x5","prev":null}],"roots":{"contracts_root":"0xf","classes_root":"0x0"}}'),
    check: (v) => (expect(v.contracts[0].prev).to.deep.equal({ classHash: 5n, nonce: 0n, storageRoot: 0n }), expect(v.contracts[1].prev).to.equal(null), expect(v.roots.contracts_root).to.equal(0xfn)),
  },
  { table: 'trieNode', key: key('T', felt(0x1234n)), value: new Uint8Array(Buffer.concat([Buffer.of(0), felt(1n), felt(2n)])), check: (v) => expect(v).to.deep.equal({ kind: 'binary', left: 1n, right: 2n }) },
  { table: 'trieNode', key: key('T', felt(0x1235n)), value: new Uint8Array(Buffer.concat([Buffer.of(1), felt(3n), felt(4n), Buffer.of(5)])), check: (v) => expect(v).to.deep.equal({ kind: 'edge', child: 3n, path: 4n, length: 5 }) },
  { table: 'contractState', key: key('C', felt(0xaaan)), value: text('{"class_hash":"0x5","nonce":"0x2","storage_root":"0x9"}'), check: (v) => expect(v).to.deep.equal({ classHash: 5n, nonce: 2n, storageRoot: 9n }) },
  { table: 'storage', key: key('s', felt(0x42n), felt(0x1n)), value: felt(0x2n), check: (v) => expect(v).to.equal(2n) },
  { table: 'contract', key: key('c', felt(0x42n)), value: text('{"class_hash":"0x5","nonce":"0x2","storage_root":"0x9"}'), check: (v) => expect(v.nonce).to.equal(2n) },
  { table: 'declaredClass', key: key('k', felt(0x5n)), value: felt(0x6n), check: (v) => expect(v).to.equal(6n) },
  { table: 'order', key: key('O', felt(0x99n)), value: text(ORDER), check: (v) => (expect(v.signed.hash).to.equal(0x99n), expect(v.status).to.equal('OPEN'), expect(v.signed.order.price).to.equal(0x5d21dba000n)) },
  { table: 'accountOrder', key: key('a', felt(0x42n), felt(0x99n)), value: new Uint8Array(0), check: (v) => expect(v).to.equal(null) },
  { table: 'checkpoint', key: key('P', u64(7n)), value: text('{"height":7,"block_hash":"0xbeef","state_root":"0x5f","label":"pre","time":"2026-01-01T00:00:00.000Z"}'), check: (v) => expect(v).to.deep.include({ height: 7n, label: 'pre' }) },
  {
    table: 'orphan',
    key: key('X', felt(0xdeadn)),
    value: text(`{"block":{"header":${HEADER},"hash":"0xdead","signature":["0x1","0x2"],"transactions":[${TX}],"receipts":[${RECEIPT}]},"reason":{"reason":"test","incident_id":"0x1","rolled_back_to":6}}`),
    check: (v) => (expect(v.block.hash).to.equal(0xdeadn), expect(v.reason.rolled_back_to).to.equal(6)),
  },
  { table: 'orphanTx', key: key('y', felt(0x77n)), value: felt(0xdeadn), check: (v) => expect(v).to.equal(0xdeadn) },
  {
    table: 'rollbackCert',
    key: key('Z', u64(0n)),
    value: text('{"chain_id":"0x50","target_height":6,"target_hash":"0xabc","orphaned_head_height":7,"orphaned_head_hash":"0xdead","reason":"test","incident_id":"0x1","signature":["0x1","0x2"]}'),
    check: (v) => expect(v.orphaned_head_height).to.equal(7),
  },
];

/** The meta records as v1 wrote them (key name, value text, what the record must read). */
const V1_META: { name: keyof typeof Meta; text: string; check(v: any): void }[] = [
  { name: 'schemaVersion', text: '1', check: (v) => expect(v).to.equal(1) },
  { name: 'head', text: '{"number":"0x7","hash":"0xbeef"}', check: (v) => expect(v).to.deep.equal({ number: 7n, hash: 0xbeefn }) },
  { name: 'genesis', text: '{"chain_id":"PERPNODE_DEVNET","block_hash":"0x123","state_hash":"pedersen"}', check: (v) => expect(v).to.deep.equal({ chain_id: 'PERPNODE_DEVNET', block_hash: 0x123n, state_hash: 'pedersen' }) },
  { name: 'stateRoots', text: '{"contracts_root":"0xf","classes_root":"0x0","flat_digest":"0x1f"}', check: (v) => expect(v).to.deep.equal({ contracts_root: 0xfn, classes_root: 0n, flat_digest: 0x1fn }) },
  {
    name: 'rollbackIntent',
    text: '{"target":"0x6","target_hash":"0xabc","from":"0x7","from_hash":"0xdead","state_at":"0x7","reason":"test","incident_id":"0x1"}',
    check: (v) => expect(v).to.deep.equal({ target: 6n, target_hash: 0xabcn, from: 7n, from_hash: 0xdeadn, state_at: 7n, reason: 'test', incident_id: 1n }),
  },
  { name: 'afterRollback', text: '{"target":"0x6","incident_id":"0x1"}', check: (v) => expect(v).to.deep.equal({ target: 6n, incident_id: 1n }) },
  { name: 'orderSeq', text: '"0x4"', check: (v) => expect(v).to.equal(4n) },
  { name: 'orderDigest', text: '"0xabcdef"', check: (v) => expect(v).to.equal(0xabcdefn) },
];

describe('storage: the table list', () => {
  it('declares every table once: unique tag bytes, the v1 tags unchanged, a meaning each', () => {
    const tags = TABLE_LIST.map((t) => t.tag);
    expect(new Set(tags).size).to.equal(tags.length);
    expect(new Set(TABLE_LIST.map((t) => t.name)).size).to.equal(TABLE_LIST.length);
    const v1 = { meta: 'M', header: 'H', hashIndex: 'h', signature: 'G', body: 'B', txIndex: 'x', stateDiff: 'D', blockRoots: 'r', reverseDiff: 'R', trieNode: 'T', contractState: 'C', storage: 's', contract: 'c', declaredClass: 'k', order: 'O', accountOrder: 'a', checkpoint: 'P', orphan: 'X', orphanTx: 'y', rollbackCert: 'Z' };
    for (const [n, tag] of Object.entries(v1)) expect(String.fromCharCode(Tables[n as keyof typeof Tables].tag), n).to.equal(tag);
    for (const t of TABLE_LIST) expect(t.meaning.length, t.name).to.be.greaterThan(10);
    expect(new Set(META_LIST.map((m) => m.name)).size).to.equal(META_LIST.length);
  });

  it('reads every v1 record through its table, and re-encodes it to the same bytes', async () => {
    const t = tempDir();
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(t.path, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
      const batch = db.batch();
      for (const r of V1) batch.put(r.key, r.value);
      for (const m of V1_META) batch.put(key('M', text(Meta[m.name].name)), text(m.text));
      await batch.write();
      const covered = new Set<string>();
      for (const r of V1) {
        const table = TABLE_LIST.find((x) => x.tag === r.key[0])!;
        expect(table.name).to.equal(r.table);
        covered.add(table.name);
        const k = table.decodeKey(r.key);
        expect(Buffer.from(table.key(k)).toString('hex'), `${r.table} key`).to.equal(Buffer.from(r.key).toString('hex'));
        const v = await table.get(db, k);
        r.check(v);
        expect(Buffer.from(table.encode(v)).toString('hex'), `${r.table} value`).to.equal(Buffer.from(r.value).toString('hex'));
      }
      expect([...covered].sort()).to.deep.equal(TABLE_LIST.filter((x) => x.name !== 'storageUpdate').map((x) => x.name).sort());
      for (const m of V1_META) {
        const rec = Meta[m.name];
        const v = await rec.get(db);
        m.check(v);
        expect(new TextDecoder().decode((rec.codec as { encode(x: unknown): Uint8Array }).encode(v)), m.name).to.equal(m.text);
      }
      expect(META_LIST.map((m) => m.name).sort()).to.deep.equal(V1_META.map((m) => Meta[m.name].name).sort());
      const orders = [];
      for await (const k of Tables.accountOrder.keys(db, accountOrderRange(0x42n))) orders.push(k);
      expect(orders).to.deep.equal([{ account: 0x42n, order: 0x99n }]);
      const storage = [];
      for await (const e of Tables.storage.entries(db)) storage.push(e);
      expect(storage).to.deep.equal([[{ address: 0x42n, key: 1n }, 2n]]);
    } finally {
      await db.close();
      t.cleanup();
    }
  });
});
