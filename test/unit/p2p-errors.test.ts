/**
 * p2p block errors (node/p2p/errors.ts): every BlockError code has its action on the peer, the
 * follower's import turns every chain/replay.ts rejection into a known code, docs/followers.md
 * lists the table as it is, and the real import and gossip-validation code paths (sync.ts,
 * gossip.ts, no libp2p host) give a peer that sends a bad block an offence, a sequencer-signed
 * block on another branch a conflict, and an ignored code nothing.
 */
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlockRejected } from '../../node/chain/replay.ts';
import { toBlockError } from '../../node/p2p/chain.ts';
import { P2PContext } from '../../node/p2p/context.ts';
import { blockMessage, EnvelopeError, FrameError, resolveP2POptions } from '../../node/p2p/index.ts';
import { BLOCK_ERROR_ACTIONS, BLOCK_ERROR_CODES, BlockError, peerOffence, ProtocolError, type BlockErrorCode, type PeerAction } from '../../node/p2p/errors.ts';
import { Gossip } from '../../node/p2p/gossip.ts';
import type { ReqResp } from '../../node/p2p/reqresp.ts';
import { RollbackFollower } from '../../node/p2p/rollbacks.ts';
import { Sync } from '../../node/p2p/sync.ts';
import { ROOT } from '../helpers/proc.ts';
import { FakeChain, makeBlock, ROGUE_KEY, testLog } from '../integration/p2p.fixtures.ts';

/** The table as it is meant to be: changing an action is a decision, made here too. */
const EXPECTED: Record<BlockErrorCode, PeerAction> = {
  BAD_SIGNATURE: 'offence',
  BAD_HASH: 'offence',
  NOT_NEXT: 'ignore',
  BAD_PARENT: 'conflict',
  BAD_TIMESTAMP: 'offence',
  BAD_HEADER: 'offence',
  BAD_BODY: 'offence',
  BAD_TX: 'offence',
  BAD_TX_HASH: 'offence',
  BAD_TX_SIGNATURE: 'offence',
  TX_FAILED: 'offence',
  BAD_RECEIPT: 'offence',
  INVARIANT: 'offence',
  BAD_STATE_ROOT: 'offence',
  BAD_COMMITMENT: 'offence',
  INVALID_BLOCK: 'offence',
};

describe('p2p block errors: codes and actions', () => {
  it('each code maps to its action, and only offences are held against the peer', () => {
    expect(BLOCK_ERROR_ACTIONS).to.deep.equal(EXPECTED);
    for (const code of BLOCK_ERROR_CODES) {
      const e = new BlockError(code, `block 7: ${code}`);
      expect(e.action, code).to.equal(EXPECTED[code]);
      expect(e.reason, code).to.equal(code.toLowerCase());
      expect(e).to.be.instanceOf(Error);
      expect(peerOffence(e), code).to.deep.equal(EXPECTED[code] === 'offence' ? { reason: code.toLowerCase(), detail: `block 7: ${code}` } : undefined);
    }
  });

  it('every rejection chain/replay.ts throws becomes a known code (not INVALID_BLOCK), keeping its message and cause', () => {
    const src = readFileSync(join(ROOT, 'node/chain/replay.ts'), 'utf8');
    const reasons = [...new Set([...src.matchAll(/new BlockRejected\('(\w+)'/g)].map((m) => m[1]!))];
    expect(reasons.length).to.be.greaterThan(10);
    for (const r of reasons) {
      const rejected = new BlockRejected(r, `why ${r}`);
      const e = toBlockError(rejected);
      expect(e, r).to.be.instanceOf(BlockError);
      expect((e as BlockError).code, r).to.equal(r.toUpperCase());
      expect((e as BlockError).reason, r).to.equal(r);
      expect((e as BlockError).message).to.equal(`why ${r}`);
      expect((e as BlockError).cause).to.equal(rejected);
    }
    expect(BlockError.codeOf('no_such_check')).to.equal('INVALID_BLOCK');
    // A local failure stays what it is (not the peer's fault).
    const local = new Error('disk full');
    expect(toBlockError(local)).to.equal(local);
    expect(peerOffence(local)).to.equal(undefined);
  });

  it('protocol, envelope and frame errors: offences under their code; timeouts and closed streams are not', () => {
    expect(peerOffence(new ProtocolError('BAD_RANGE', 'x'))).to.deep.equal({ reason: 'bad_range', detail: 'x' });
    expect(peerOffence(new ProtocolError('MALFORMED', 'x'))?.reason).to.equal('malformed');
    expect(peerOffence(new EnvelopeError('oversized', 'x'))?.reason).to.equal('oversized');
    expect(peerOffence(new FrameError('malformed', 'x'))?.reason).to.equal('malformed');
    expect(peerOffence(new FrameError('oversized', 'x'))?.reason).to.equal('oversized');
    expect(peerOffence(new FrameError('timeout', 'x'))).to.equal(undefined);
    expect(peerOffence(new FrameError('closed', 'x'))).to.equal(undefined);
  });

  it('docs/followers.md lists every code with its action', () => {
    const doc = readFileSync(join(ROOT, 'docs/followers.md'), 'utf8');
    for (const code of BLOCK_ERROR_CODES) expect(doc, code).to.match(new RegExp(`\\| \`${code}\` \\| ${EXPECTED[code]} \\|`));
  });
});

describe('p2p block errors: the action on the peer, through the real import and gossip paths', () => {
  const PEER = '12D3KooWPeerUnderTest';

  function follower() {
    const chain = new FakeChain();
    const events = new EventEmitter();
    const ctx = new P2PContext(chain, resolveP2POptions({ role: 'follower', port: 0 }), testLog('unit'), events);
    const reqresp = {} as ReqResp; // no request is made on these paths
    let sync!: Sync;
    const rollbacks = new RollbackFollower(ctx, reqresp, { clearBuffer: () => sync.clearBuffer(), pollStatus: () => sync.pollStatus() });
    sync = new Sync(ctx, reqresp, rollbacks);
    const gossip = new Gossip(ctx, sync, rollbacks, async () => undefined);
    const offences: { peer: string; reason: string; banned: boolean }[] = [];
    const conflicts: unknown[] = [];
    events.on('offence', (o) => offences.push(o));
    events.on('conflict', (c) => conflicts.push(c));
    return { chain, ctx, sync, gossip, offences, conflicts };
  }

  it('a bad block gets its sender an offence (score, stats, event) and leaves the chain as it was', async () => {
    const f = follower();
    // Sequencer-signed, next in line, wrong state root: only re-execution (importBlock) can tell.
    const bad = makeBlock(f.chain.tip, { root: 0x1234n });
    expect(await f.sync.importOne(bad, PEER, 'gossip')).to.equal('rejected');
    expect(f.offences).to.deep.equal([{ peer: PEER, reason: 'bad_state_root', detail: 'root', banned: false }]);
    expect(f.ctx.stats.rejected).to.deep.equal({ bad_state_root: 1 });
    const rec = f.ctx.peers.get(PEER);
    expect(rec.offences).to.equal(1);
    expect(rec.lastOffence).to.equal('bad_state_root');
    expect(rec.score).to.be.lessThan(0);
    expect(f.chain.blocks.length).to.equal(1);
    expect(f.ctx.stats.imported).to.equal(0);
    // The honest block still goes in afterwards.
    const good = makeBlock(f.chain.tip);
    expect(await f.sync.importOne(good, PEER, 'gossip')).to.equal('imported');
    expect(f.chain.tip.hash).to.equal(good.hash);
  });

  it('gossip: a forged block is rejected (not relayed) and costs its sender an offence, before any import', async () => {
    const f = follower();
    // Two ahead of our head, so gossip checks the signature itself.
    const b1 = makeBlock(f.chain.tip);
    const forged = makeBlock(b1, { key: ROGUE_KEY });
    expect(await f.gossip.onMessage(blockMessage(forged, 1 << 20).bytes, PEER)).to.equal('reject');
    expect(f.offences.map((o) => o.reason)).to.deep.equal(['bad_signature']);
    expect(f.chain.imports).to.equal(0);
    // The next block with a bad signature goes straight to the import, with the same result.
    const direct = makeBlock(f.chain.tip, { key: ROGUE_KEY });
    expect(await f.gossip.onMessage(blockMessage(direct, 1 << 20).bytes, PEER)).to.equal('reject');
    expect(f.offences.map((o) => o.reason)).to.deep.equal(['bad_signature', 'bad_signature']);
    expect(f.chain.imports).to.equal(1);
    expect(f.ctx.peers.get(PEER).offences).to.equal(2);
    // An honest next block is accepted (relayed).
    expect(await f.gossip.onMessage(blockMessage(b1, 1 << 20).bytes, PEER)).to.equal('accept');
  });

  it('enough bad blocks ban the peer', async () => {
    const f = follower();
    for (let i = 0; i < 3; i++) await f.sync.importOne(makeBlock(f.chain.tip, { root: BigInt(i + 1) }), PEER, 'sync');
    expect(f.offences.map((o) => o.banned)).to.deep.equal([false, false, true]);
    expect(f.ctx.peers.isBanned(PEER)).to.equal(true);
  });

  it('a sequencer-signed block on another branch is a conflict: no offence, a conflict event', async () => {
    const f = follower();
    const b1 = makeBlock(f.chain.tip);
    await f.sync.importOne(b1, PEER, 'gossip');
    // Block 2 on a branch from genesis: validly signed, but its parent is not our head.
    const other = makeBlock(makeBlock(f.chain.blocks[0]!, { txs: 1 }));
    expect(await f.sync.importOne(other, PEER, 'gossip')).to.equal('conflict');
    expect(f.offences).to.deep.equal([]);
    expect(f.conflicts).to.deep.equal([{ number: 2n, hash: other.hash, from: PEER }]);
    expect(f.ctx.stats.conflicting).to.equal(1);
    expect(f.ctx.peers.get(PEER).offences).to.equal(0);
  });

  it('an ignored code holds nothing against the peer', () => {
    const f = follower();
    expect(f.sync.onBlockError(new BlockError('NOT_NEXT', 'block 5 does not follow head 3'), PEER, 5n, 9n)).to.equal('ignored');
    expect(f.offences).to.deep.equal([]);
    expect(f.conflicts).to.deep.equal([]);
    expect(f.ctx.peers.get(PEER).offences).to.equal(0);
    expect(f.ctx.stats.rejected).to.deep.equal({});
  });
});
