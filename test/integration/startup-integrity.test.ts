import { expect } from 'chai';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { startSequencer } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import { bigIntToBytes32, bytesToBigInt, storageKey } from '../../node/storage/schema.ts';
import { loadGenesis } from '../../node/chain/genesis.ts';
import { MKT, marketBase } from '../../contracts-ts/layout.ts';
import { ROOT } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

const GENESIS = join(ROOT, 'genesis/devnet.json');
const log = createLogger('silent');

async function runBlocks(dataDir: string, n: number) {
  const node = await startSequencer({ dataDir, genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log });
  for (let i = 0; i < n; i++) await node.producer.sealNow(true);
  await node.stop();
}

async function poke(dataDir: string, address: bigint, key: bigint, f: (v: bigint) => bigint): Promise<bigint> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dataDir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const k = storageKey(address, key);
  const raw = await db.get(k);
  const before = raw ? bytesToBigInt(raw) : 0n;
  const after = f(before);
  if (after === 0n) await db.del(k);
  else await db.put(k, bigIntToBytes32(after));
  await db.close();
  return before;
}

async function startError(dataDir: string): Promise<Error | undefined> {
  try {
    const node = await startSequencer({ dataDir, genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log });
    await node.stop();
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

describe('startup integrity (storage altered while stopped)', function () {
  this.timeout(60_000);
  const g = loadGenesis(GENESIS);
  const btc = g.exchange.markets[0]!;

  it('a reset funding index makes the node refuse to start, naming the index; restoring it lets it start', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await runBlocks(data, 2);
      const key = marketBase(btc.id) + MKT.fundingIndex;
      const original = await poke(data, g.exchange.exchangeAddress, key, (v) => v + 12345n);
      const err = await startError(data);
      expect(err, 'node started on altered storage').to.not.equal(undefined);
      expect(err!.message).to.contain('refusing to start');
      expect(err!.message).to.contain(`funding index of ${btc.symbol}`);
      await poke(data, g.exchange.exchangeAddress, key, () => original);
      expect(await startError(data)).to.equal(undefined);
    } finally {
      t.cleanup();
    }
  });

  it('any altered flat value is caught by the state digest and named', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await runBlocks(data, 1);
      const acct = g.exchange.devAccounts[0]!.address;
      await poke(data, acct, 0x777n, () => 5n);
      const err = await startError(data);
      expect(err?.message).to.contain('altered');
      expect(err?.message).to.contain('0x777');
    } finally {
      t.cleanup();
    }
  });
});
