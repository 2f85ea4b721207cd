/**
 * The blocks topic, `/perpnode/<chainId>/blocks/1` (gossipsub, asynchronous validation): what
 * a node publishes on it and what it does with what it receives.
 *
 * Publishing (the sequencer): sealed blocks (announced by number, hash and signature when too
 * big for gossip: fetched over blocks_by_range), mode-change hints, rollback certificates. All
 * go out through one queue in call order, so a certificate precedes its new branch.
 *
 * Receiving: each message is validated before gossipsub may forward it.
 * - block head+1 (a follower, block included): imported at once (sync.ts `importOne`; the
 *   import checks the signature first). Accepted (forwarded) only if imported.
 * - any other block: its sequencer signature and hash are checked here (a `BlockError` costs
 *   the sender by its code's action). Further ahead: kept (bounded) and a range sync started;
 *   at or below our head: ignored, or a conflict when it is not our block at that height.
 * - a rollback certificate: rollbacks.ts. A mode hint: an event, never acted on (the mode a
 *   follower enforces is the one in its state, from the block).
 * The message is accepted, rejected (the sender committed an offence) or ignored.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub';
import { verify } from '../crypto/index.ts';
import { blockToJson, type Block } from '../chain/block.ts';
import { blockHash } from '../chain/header.ts';
import { hex, type P2PContext } from './context.ts';
import { blockMessage, decodeEnvelope, encodeEnvelope, EnvelopeError, type Envelope, type RollbackCertificate } from './envelope.ts';
import { BlockError } from './errors.ts';
import type { Host } from './host.ts';
import type { RollbackFollower } from './rollbacks.ts';
import type { Sync } from './sync.ts';

/** The validation result reported to gossipsub for one message. */
export type Acceptance = 'accept' | 'reject' | 'ignore';
const ACCEPTANCE: Record<Acceptance, TopicValidatorResult> = { accept: TopicValidatorResult.Accept, reject: TopicValidatorResult.Reject, ignore: TopicValidatorResult.Ignore };

export class Gossip {
  /** Publications go out in call order (a certificate before the first block of its branch). */
  private publishTail: Promise<void> = Promise.resolve();
  /** A certificate to publish once a peer subscribes (sequencer start after an offline rollback). */
  private pendingAnnouncement: RollbackCertificate | undefined;

  constructor(
    private readonly ctx: P2PContext,
    private readonly sync: Sync,
    private readonly rollbacks: RollbackFollower,
    /** Puts bytes on the topic (P2PService.publishRaw, so that tests can watch what goes out). */
    private readonly send: (bytes: Uint8Array) => Promise<void>,
  ) {}

  /** Subscribes to the blocks topic and validates what arrives on it. */
  attach(node: Host): void {
    const { ctx } = this;
    const topic = ctx.names.blocksTopic;
    const pubsub = node.services.pubsub;
    // Implemented by gossipsub, missing from its exported interface.
    const report = (msgId: string, src: string, a: Acceptance) =>
      (pubsub as unknown as { reportMessageValidationResult(id: string, src: string, a: TopicValidatorResult): void }).reportMessageValidationResult(msgId, src, ACCEPTANCE[a]);
    pubsub.addEventListener('gossipsub:message', (evt) => {
      const { msgId, propagationSource, msg } = evt.detail;
      if (msg.topic !== topic) return;
      ctx.peerIds.set(propagationSource.toString(), propagationSource);
      ctx.track(
        this.onMessage(msg.data, propagationSource.toString()).then(
          (a) => report(msgId, propagationSource.toString(), a),
          (e) => {
            ctx.log.error(`gossip handling failed: ${(e as Error).stack ?? e}`);
            report(msgId, propagationSource.toString(), 'ignore');
          },
        ),
      );
    });
    pubsub.subscribe(topic);
    pubsub.addEventListener('subscription-change', (evt) => {
      const c = this.pendingAnnouncement;
      if (!c || !evt.detail.subscriptions.some((s) => s.topic === topic && s.subscribe)) return;
      this.pendingAnnouncement = undefined;
      ctx.log.info(`publishing rollback certificate (target ${c.target_height}) now that a peer listens`);
      void this.enqueue(encodeEnvelope({ type: 'rollback', certificate: c }));
    });
  }

  // ---- publishing -----------------------------------------------------------------------------

  /** Publishes a sealed block (sequencer). Never throws: a peer that misses it syncs later. */
  async publishBlock(b: Block): Promise<void> {
    const { ctx } = this;
    ctx.head = { number: b.header.block_number, hash: b.hash };
    const { bytes, announced } = blockMessage(b, ctx.opts.maxGossipBytes);
    await this.enqueue(bytes);
    ctx.stats.published++;
    if (announced) {
      ctx.stats.announced++;
      ctx.log.debug(`block ${b.header.block_number} is larger than the gossip limit: announced, served over blocks_by_range`);
    }
    // Mode changes are on-chain (SET_MODE); the hint tells wallets' followers at once.
    for (const t of b.transactions) {
      const body = t.body as { type?: unknown; mode?: unknown } | null;
      if (body && body.type === 'SET_MODE' && typeof body.mode === 'string') await this.publishMode(body.mode, b.header.block_number, b.hash);
    }
  }

  /** The certificate of a rollback the sequencer just made; queued synchronously. */
  publishRollback(certificate: RollbackCertificate): Promise<void> {
    const { ctx } = this;
    ctx.head = { number: certificate.target_height, hash: certificate.target_hash };
    this.rollbacks.remember(certificate);
    ctx.log.warn(`publishing rollback certificate: target ${certificate.target_height} ${hex(certificate.target_hash)}, orphaned head ${certificate.orphaned_head_height} ${hex(certificate.orphaned_head_hash)}`);
    return this.enqueue(encodeEnvelope({ type: 'rollback', certificate }));
  }

  /** A certificate of an earlier (offline) rollback: now if a peer listens, else once one subscribes. */
  announceRollback(certificate: RollbackCertificate): void {
    this.rollbacks.remember(certificate);
    if (this.ctx.node.services.pubsub.getSubscribers(this.ctx.names.blocksTopic).length > 0) void this.enqueue(encodeEnvelope({ type: 'rollback', certificate }));
    else this.pendingAnnouncement = certificate;
  }

  /** Publishes a mode-change hint naming the block that records it. */
  async publishMode(mode: string, number: bigint, hash: bigint): Promise<void> {
    await this.enqueue(encodeEnvelope({ type: 'mode', mode, number, hash }));
  }

  private enqueue(bytes: Uint8Array): Promise<void> {
    const p = this.publishTail.then(() => this.send(bytes));
    this.publishTail = p;
    return p;
  }

  /** Publishes bytes on the blocks topic as they are; never throws. */
  async publishRaw(bytes: Uint8Array): Promise<void> {
    if (this.ctx.stopping) return;
    try {
      await this.ctx.node.services.pubsub.publish(this.ctx.names.blocksTopic, bytes);
    } catch (e) {
      this.ctx.log.debug(`publish failed: ${(e as Error).message}`);
    }
  }

  // ---- receiving ------------------------------------------------------------------------------

  /** Validates and handles one message from `from`; the result goes to gossipsub. */
  async onMessage(data: Uint8Array, from: string): Promise<Acceptance> {
    const { ctx } = this;
    ctx.stats.gossipReceived++;
    if (ctx.stopping) return 'ignore';
    let env: Envelope;
    try {
      env = decodeEnvelope(data, ctx.opts.maxGossipBytes);
    } catch (e) {
      ctx.penalise(from, e instanceof EnvelopeError ? e.code : 'malformed', (e as Error).message);
      return 'reject';
    }
    if (env.type === 'rollback') return this.rollbacks.onCertificate(env.certificate, from);
    if (env.type === 'mode') {
      // A hint only: the mode a follower enforces is the one in its state, from the block.
      ctx.log.info(`mode hint from ${from}: ${env.mode} at block ${env.number} ${hex(env.hash)}`);
      ctx.emit('mode', { mode: env.mode, number: env.number, hash: env.hash, from });
      return 'ignore';
    }
    const head = ctx.head;
    // The next block goes straight to importBlock, which checks signature and hash first (a
    // STARK verify costs milliseconds: do it once). Anything else is checked here.
    const direct = ctx.opts.role === 'follower' && env.block !== undefined && env.number === head.number + 1n;
    if (!direct) {
      const bad = this.check(env);
      if (bad) return this.sync.onBlockError(bad, from, env.number, env.hash) === 'rejected' ? 'reject' : 'ignore';
    }
    if (ctx.opts.role === 'sequencer') return 'ignore';
    if (env.number <= head.number) return this.onOldBlock(env, from);
    if (env.number > head.number + 1n) {
      ctx.peers.setHead(from, { number: env.number, hash: env.hash });
      if (env.block) this.sync.bufferBlock(env.block, from);
      this.sync.requestSync();
      return 'ignore';
    }
    let block = env.block;
    if (!block) {
      block = await this.sync.fetchAnnounced(env.number, env.hash, from);
      if (!block) return 'ignore';
    }
    const r = await this.sync.importOne(block, from, 'gossip');
    if (r === 'imported') {
      ctx.peers.setHead(from, { number: env.number, hash: env.hash });
      void this.sync.drainBuffer();
    }
    if (r === 'duplicate') return env.number === ctx.head.number && (await this.sameAsOurs(env)) ? 'accept' : 'ignore';
    return r === 'imported' ? 'accept' : r === 'rejected' ? 'reject' : 'ignore';
  }

  /** The gossip-level checks of a block message: sequencer signature, then the header's hash. */
  private check(env: { number: bigint; hash: bigint; signature: [bigint, bigint]; block?: Block }): BlockError | undefined {
    if (!verify(env.hash, this.ctx.chain.sequencerKey, env.signature)) return new BlockError('BAD_SIGNATURE', `block ${env.number} ${hex(env.hash)}: sequencer signature does not verify`);
    if (env.block && blockHash(env.block.header) !== env.hash) return new BlockError('BAD_HASH', `block ${env.number}: header does not hash to ${hex(env.hash)}`);
    return undefined;
  }

  /** Whether a (signature-checked) block message carries exactly the block we hold. */
  private async sameAsOurs(env: { number: bigint; hash: bigint; block?: Block }): Promise<boolean> {
    const ours = await this.ctx.chain.block(env.number);
    if (!ours || ours.hash !== env.hash) return false;
    return !env.block || JSON.stringify(blockToJson(env.block)) === JSON.stringify(blockToJson(ours));
  }

  private async onOldBlock(env: { number: bigint; hash: bigint; block?: Block }, from: string): Promise<Acceptance> {
    const { number, hash } = env;
    const ours = await this.ctx.chain.signedHeader(number);
    if (ours && ours.hash === hash) {
      this.ctx.stats.ignoredOld++;
      // The block we imported last is still fresh gossip worth relaying (if it is exactly ours);
      // older ones are replays.
      return number === this.ctx.head.number && (await this.sameAsOurs(env)) ? 'accept' : 'ignore';
    }
    this.rollbacks.noteConflict(number, hash, from);
    return 'ignore';
  }
}
