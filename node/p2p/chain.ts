/**
 * Plugs an opened chain (node.ts `openChain`) into the p2p service: reads from the ChainStore,
 * and a follower's import is `importBlock` from chain/replay.ts — signature against the genesis
 * key, link to our head, re-execution to the same state root, commitments and block hash, then
 * one synchronous batch. A rejected block writes nothing and throws a `BlockError` (errors.ts)
 * whose code is replay's reason (`bad_state_root` -> BAD_STATE_ROOT), so the p2p layer acts on
 * the code, never on an error's name or message.
 *
 * Rollback following: the certificates this node holds (listCertificates), the headers of the
 * blocks it archived as orphaned (served so that a follower can prove which branch a
 * certificate orphans), and a follower's rollback under a sequencer certificate
 * (chain/rollback.ts: unwinds, archives the orphaned blocks, checks the target root, stores the
 * certificate as given).
 */
import type { Chain } from '../node.ts';
import { BlockRejected, importBlock, type ReplayOptions } from '../chain/replay.ts';
import { listCertificates, rollback } from '../chain/rollback.ts';
import { rollbackAnnounced } from '../chain/events.ts';
import { Tables } from '../storage/schema.ts';
import type { P2PChain } from './context.ts';
import { BlockError } from './errors.ts';

/** A chain/replay.ts rejection as the p2p layer's typed error; anything else unchanged. */
export function toBlockError(e: unknown): unknown {
  return e instanceof BlockRejected ? new BlockError(BlockError.codeOf(e.reason), e.message, { cause: e }) : e;
}

export function chainForP2P(c: Chain, replay: ReplayOptions = {}): P2PChain {
  return {
    chainId: c.genesis.chainIdName,
    sequencerKey: c.genesis.sequencer.publicKey,
    head: async () => {
      const h = await c.chain.head();
      if (!h) throw new Error('the chain has no head');
      return h;
    },
    block: (n) => c.chain.block(n),
    signedHeader: async (n) => {
      const [h, sig] = await Promise.all([c.chain.header(n), c.chain.signature(n)]);
      return h && sig ? { header: h.header, hash: h.hash, signature: sig } : undefined;
    },
    importBlock: async (b) => {
      const head = await c.chain.head();
      if (!head) throw new Error('the chain has no head');
      const parent = await c.chain.header(head.number);
      if (!parent) throw new Error(`head block ${head.number} has no header`);
      try {
        await importBlock(c.db, b, { hash: parent.hash, header: parent.header }, c.world, c.genesis, replay);
      } catch (e) {
        throw toBlockError(e);
      }
      c.chain.events.emit({ type: 'imported', block: b });
    },
    certificates: () => listCertificates(c.db),
    orphanHeader: async (hash) => {
      return (await Tables.orphan.get(c.db, hash))?.block.header;
    },
    rollbackTo: async (cert) => {
      await rollbackAnnounced(c.chain, cert.target_height, () => rollback(c.db, c.chain, c.world, c.genesis, cert.target_height, { reason: cert.reason, incidentId: cert.incident_id, certificate: cert }));
    },
  };
}
