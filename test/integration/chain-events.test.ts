/**
 * Typed chain events (node/chain/events.ts) are emitted where the head moves: a sequencer's seal,
 * a follower's import (p2p/chain.ts), an online rollback (maintenance). Each event arrives after
 * the batch is durable and the state applied: inside the listener the state is at the new head.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import type { ChainEvent } from '../../node/chain/events.ts';
import { chainForP2P } from '../../node/p2p/chain.ts';
import { openChain, type RunningNode } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { startTestSequencer } from '../helpers/sequencer.ts';
import { ROOT } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('chain events', function () {
  this.timeout(60_000);
  let t: ReturnType<typeof tempDir>;
  let node: RunningNode;
  before(async () => {
    t = tempDir('perpnode-events-');
    const g = JSON.parse(readFileSync(join(ROOT, 'genesis/devnet.json'), 'utf8'));
    g.heartbeat_ms = 3_600_000; // only the test seals
    g.checkpoint_interval = 0;
    writeFileSync(join(t.path, 'genesis.json'), JSON.stringify(g));
    node = await startTestSequencer(t.path, { genesisPath: join(t.path, 'genesis.json') });
  });
  after(async () => {
    await node?.stop();
    t.cleanup();
  });

  it('sealed on every seal, rolledBack on an online rollback (the orphaned range), imported on a follower', async () => {
    const seen: ChainEvent[] = [];
    const roots: bigint[] = [];
    const off = node.chain.chain.events.on((e) => {
      seen.push(e);
      roots.push(node.chain.world.root);
    });
    for (let i = 0; i < 3; i++) await node.producer.sealNow(true);
    expect(seen.map((e) => e.type)).to.deep.equal(['sealed', 'sealed', 'sealed']);
    const sealed = seen.map((e) => (e.type === 'sealed' ? e.block : undefined)!);
    expect(sealed.map((b) => b.header.block_number)).to.deep.equal([1n, 2n, 3n]);
    expect(roots, 'the state is already at the new head when the listener runs').to.deep.equal(sealed.map((b) => b.header.new_root));

    // A follower's import of the same blocks: one 'imported' each, in order.
    const f = await openChain({ dataDir: join(t.path, 'follower'), genesisPath: join(t.path, 'genesis.json'), log: createLogger('silent') });
    try {
      const imported: bigint[] = [];
      const importedRoots: bigint[] = [];
      f.chain.events.on((e) => {
        if (e.type !== 'imported') return;
        imported.push(e.block.header.block_number);
        importedRoots.push(f.world.root);
      });
      const p2pChain = chainForP2P(f);
      for (const b of sealed) await p2pChain.importBlock!(b);
      expect(imported).to.deep.equal([1n, 2n, 3n]);
      expect(importedRoots).to.deep.equal(sealed.map((b) => b.header.new_root));
      // A block that does not verify moves nothing and emits nothing.
      await p2pChain.importBlock!({ ...sealed[0]!, header: { ...sealed[0]!.header, block_number: 4n } }).catch(() => undefined);
      expect(imported).to.deep.equal([1n, 2n, 3n]);
    } finally {
      await f.close();
    }

    seen.length = 0;
    await node.maintenance.rollback(1n, 'test', 0n);
    const rb = seen.find((e) => e.type === 'rolledBack');
    expect(rb).to.deep.equal({ type: 'rolledBack', from: { number: 3n, hash: sealed[2]!.hash }, to: { number: 1n, hash: sealed[0]!.hash }, firstOrphaned: { number: 2n, hash: sealed[1]!.hash } });
    // The new branch's first block (CANCEL_ONLY, cancels) follows as 'sealed' after the rollback.
    expect(seen.map((e) => e.type)).to.deep.equal(['rolledBack', 'sealed']);
    off();
    await node.producer.sealNow(true);
    expect(seen).to.have.length(2);
  });
});
