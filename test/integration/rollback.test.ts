import { expect } from 'chai';
import { join } from 'node:path';
import { startSequencer } from '../../node/node.ts';
import { openChain } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import { rollback, pendingRollback, listCertificates, verifyCertificate } from '../../node/chain/rollback.ts';
import { makeCheckpoint, resolveTarget } from '../../node/chain/checkpoints.ts';
import { fullCheck } from '../../node/chain/verify.ts';
import { decodeJson, feltKey, Tag } from '../../node/storage/schema.ts';
import { depositHash, type DepositTx } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { ROOT } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

const GENESIS = join(ROOT, 'genesis/devnet.json');
const log = createLogger('silent');

/** A chain with state changes in every block: deposits to the dev accounts. */
async function buildChain(dataDir: string, blocks: number, labelAt: number) {
  const node = await startSequencer({ dataDir, genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log });
  const g = node.chain.genesis;
  const op = g.exchange.bridgeOperator;
  let label = { height: 0n, root: 0n };
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 3; i++) {
      const m = { depositId: BigInt(b * 100 + i + 1), recipient: g.exchange.devAccounts[i]!.address, amount: BigInt(1000 + b) };
      const s = sign(depositHash(m, op.publicKey, g.chainId), op.privateKey!);
      await node.producer.submit({ type: 'DEPOSIT', ...m, signature: [s.r, s.s] } as DepositTx);
    }
    const blk = await node.producer.sealNow();
    if (b === labelAt) {
      const cp = await node.maintenance.checkpoint('pre-maintenance');
      label = { height: cp.height, root: cp.state_root };
      expect(cp.height).to.equal(blk!.header.block_number);
    }
  }
  const head = node.producer.head;
  await node.stop();
  return { label, head };
}

describe('rollback (crash-resumable)', function () {
  this.timeout(120_000);

  it('restores the exact checkpoint state root; orphaned blocks archived; certificate signed', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      const { label, head } = await buildChain(data, 8, 3);
      const c = await openChain({ dataDir: data, genesisPath: GENESIS, log });
      try {
        const target = await resolveTarget(c.db, 'pre-maintenance');
        expect(target).to.equal(label.height);
        const orphanHead = await c.chain.header(head.number);
        const cert = await rollback(c.db, c.chain, c.world, c.genesis, target, { reason: 'test', incidentId: 7n });
        expect(c.world.root).to.equal(label.root);
        expect((await c.chain.head())!.number).to.equal(target);
        expect(await c.chain.header(target + 1n)).to.equal(undefined);
        const archived = await c.db.get(feltKey(Tag.orphan, orphanHead!.hash));
        expect(decodeJson(archived!).block.hash).to.equal('0x' + orphanHead!.hash.toString(16));
        expect(verifyCertificate(cert, c.genesis.sequencer.publicKey)).to.equal(true);
        expect(verifyCertificate({ ...cert, target_height: cert.target_height + 1n }, c.genesis.sequencer.publicKey)).to.equal(false);
        expect((await listCertificates(c.db)).length).to.equal(1);
        expect(await fullCheck(c.chain, c.world, c.genesis)).to.deep.equal([]);
      } finally {
        await c.close();
      }
      // The node starts on the rolled-back chain and produces on top of it.
      const node = await startSequencer({ dataDir: data, genesisPath: GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log });
      try {
        expect(node.maintenance.mode()).to.equal('CANCEL_ONLY');
        const b = await node.producer.sealNow(true);
        expect(b!.header.block_number > label.height).to.equal(true);
      } finally {
        await node.stop();
      }
    } finally {
      t.cleanup();
    }
  });

  for (const crashAfter of [0, 1, 3]) {
    it(`a crash after ${crashAfter + 1} unwound block(s) resumes at the next start and ends at the exact target root`, async () => {
      const t = tempDir();
      try {
        const data = join(t.path, 'data');
        const { label } = await buildChain(data, 7, 2);
        let c = await openChain({ dataDir: data, genesisPath: GENESIS, log });
        let unwound = 0;
        let crashed = false;
        try {
          await rollback(c.db, c.chain, c.world, c.genesis, label.height, {
            reason: 'crash test',
            incidentId: 1n,
            onProgress: () => {
              if (++unwound > crashAfter) throw new Error('simulated crash');
            },
          });
        } catch (e) {
          crashed = (e as Error).message === 'simulated crash';
        }
        await c.close();
        expect(crashed).to.equal(true);
        // the marker is there; the head already points at the target
        c = await openChain({ dataDir: data, genesisPath: GENESIS, log, skipCheck: true });
        await c.close();
        c = await openChain({ dataDir: data, genesisPath: GENESIS, log });
        try {
          expect(await pendingRollback(c.db)).to.equal(undefined);
          expect(c.world.root).to.equal(label.root);
          expect((await c.chain.head())!.number).to.equal(label.height);
          expect(await fullCheck(c.chain, c.world, c.genesis)).to.deep.equal([]);
        } finally {
          await c.close();
        }
      } finally {
        t.cleanup();
      }
    });
  }

  it('refuses bad targets and labels', async () => {
    const t = tempDir();
    try {
      const data = join(t.path, 'data');
      await buildChain(data, 2, 0);
      const c = await openChain({ dataDir: data, genesisPath: GENESIS, log });
      try {
        let err: Error | undefined;
        try {
          await rollback(c.db, c.chain, c.world, c.genesis, 99n, { reason: 'x', incidentId: 0n });
        } catch (e) {
          err = e as Error;
        }
        expect(err?.message).to.match(/below the head/);
        err = undefined;
        try {
          await resolveTarget(c.db, 'nope');
        } catch (e) {
          err = e as Error;
        }
        expect(err?.message).to.match(/no checkpoint labelled/);
        err = undefined;
        try {
          await makeCheckpoint(c.db, c.chain, '123');
        } catch (e) {
          err = e as Error;
        }
        expect(err?.message).to.match(/all digits/);
      } finally {
        await c.close();
      }
    } finally {
      t.cleanup();
    }
  });
});
