import { expect } from 'chai';
import { join } from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { startSequencer, StartupError } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import { ROOT } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

const GENESIS = join(ROOT, 'genesis/devnet.json');
const log = createLogger('silent');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('node lifecycle: a failed start releases what it took, stop releases everything', function () {
  this.timeout(60_000);

  it('a start refused after the database opened frees the ports and the data-dir lock', async () => {
    const t = tempDir();
    try {
      const dataDir = join(t.path, 'data');
      // Same chain, but no sequencer private key: refused after the chain is opened (and initialised).
      const g = JSON.parse(readFileSync(GENESIS, 'utf8'));
      delete g.sequencer.private_key;
      const keyless = join(t.path, 'keyless.json');
      writeFileSync(keyless, JSON.stringify(g));
      const rpcPort = await freePort();
      const adminPort = await freePort();
      const err = await startSequencer({ dataDir, genesisPath: keyless, rpcHost: '127.0.0.1', rpcPort, adminPort, feeder: 'off', log }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).to.be.instanceOf(StartupError);
      expect(err!.message).to.match(/no sequencer private key/);
      expect(existsSync(join(dataDir, 'node.json'))).to.equal(false);
      // Same ports, same data directory: only possible if the failed start released them.
      const node = await startSequencer({ dataDir, genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort, adminPort, feeder: 'off', log });
      expect(node.rpcUrl).to.equal(`http://127.0.0.1:${rpcPort}`);
      expect(existsSync(join(dataDir, 'node.json'))).to.equal(true);
      await node.producer.sealNow(true);
      await Promise.all([node.stop(), node.stop()]);
      expect(existsSync(join(dataDir, 'node.json'))).to.equal(false);
      // Stopped: the block in flight is durable and the directory opens again.
      const again = await startSequencer({ dataDir, genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort, adminPort: null, feeder: 'off', log });
      expect(again.producer.head.number).to.equal(1n);
      await again.stop();
    } finally {
      t.cleanup();
    }
  });
});
