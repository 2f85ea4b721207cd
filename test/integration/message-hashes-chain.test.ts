/**
 * Carried message hashes change no block: the recorded chain (test/vectors/recorded-chain.json,
 * made without a signature pool, every order and cancel hashed in execution) is recorded again
 * by a sequencer whose verify pool computes the order and cancel hashes and carries them into
 * execution (contracts-ts/message-hashes.ts). The blocks must be the same byte for byte, the
 * carried hashes must actually have been used, and a follower (no cache: it hashes) must import
 * them to the same roots.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTx } from '../../contracts-ts/index.ts';
import { blockFromJson } from '../../node/chain/block.ts';
import { importBlock } from '../../node/chain/replay.ts';
import { createLogger } from '../../node/log.ts';
import { openChain } from '../../node/node.ts';
import { ROOT } from '../helpers/proc.ts';
import { recordChain } from '../helpers/recorded-chain.ts';
import { tempDir } from '../helpers/tmp.ts';
import type { MessageHashCacheStats } from '../../contracts-ts/message-hashes.ts';

const recording = JSON.parse(readFileSync(join(ROOT, 'test/vectors/recorded-chain.json'), 'utf8'));

describe('carried message hashes: the recorded chain again, with the verify pool carrying order and cancel hashes', function () {
  this.timeout(180_000);

  it('gives the same blocks byte for byte, uses the carried hashes, and a follower without them imports it to the same roots', async () => {
    let stats: MessageHashCacheStats | undefined;
    let inline = -1;
    const again = await recordChain({
      verifyWorkers: 2,
      inspect: (node) => {
        stats = { ...node.producer.sigCache.messageHashes.stats };
        inline = node.producer.sigCache.stats.inline;
      },
    });
    expect(again.blocks.map((b) => b.hash)).to.deep.equal(recording.blocks.map((b: any) => b.hash));
    expect(again.blocks).to.deep.equal(recording.blocks);

    const txs = again.blocks.flatMap((b: any) => b.transactions.map((x: any) => parseTx(x.body)));
    const trades = txs.filter((x) => x.type === 'TRADE').length;
    const cancels = txs.filter((x) => x.type === 'CANCEL').length;
    expect(trades).to.be.greaterThan(0);
    expect(cancels).to.be.greaterThan(0);
    // Every order of every TRADE and every CANCEL found its carried hash (plus the book's own checks and dry runs).
    expect(stats!.hits).to.be.at.least(2 * trades + cancels);
    expect(stats!.refused).to.equal(0);
    expect(inline).to.equal(0); // and every signature was answered by the pool

    const t = tempDir('perpnode-msghash-');
    try {
      const path = join(t.path, 'genesis.json');
      writeFileSync(path, JSON.stringify(again.genesis));
      const c = await openChain({ dataDir: join(t.path, 'follower'), genesisPath: path, log: createLogger('silent') });
      try {
        for (const b of again.blocks.map(blockFromJson)) {
          const head = (await c.chain.head())!;
          await importBlock(c.db, b, { hash: head.hash, header: (await c.chain.header(head.number))!.header }, c.world, c.genesis);
          expect(c.world.root, `root after block ${b.header.block_number}`).to.equal(b.header.new_root);
        }
        expect((await c.chain.head())!.hash).to.equal(blockFromJson(recording.blocks.at(-1)).hash);
      } finally {
        await c.close();
      }
    } finally {
      t.cleanup();
    }
  });
});
