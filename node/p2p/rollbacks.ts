/**
 * The rollback follower (docs/followers.md, "Rollbacks").
 *
 * - A certificate is believed only if it is signed by the genesis sequencer key for this chain
 *   id; a forged one costs its sender an offence. Valid ones are kept (bounded) and served on
 *   `/perpnode/<chainId>/rollbacks/1` (reqresp.ts), with the headers of the orphaned blocks we
 *   archived.
 * - A follower rolls back under certificate C only when its chain holds C's target and it can
 *   prove that its head lies on the branch C orphans: it holds C's orphaned head, or the chain of
 *   orphaned headers walked down from that (signed) head reaches its own head. A replayed old
 *   certificate therefore never undoes the branch that replaced it.
 * - Certificates arrive by gossip, are asked from every peer on connect (a follower that was
 *   offline during the rollback), and from a peer that shows us a sequencer-signed block on
 *   another branch than ours (a 'conflict').
 * - The rollback itself is chain/rollback.ts under the import lock (orphaned blocks archived,
 *   target root checked, the certificate stored); then the head, buffer and peers' heads are
 *   reset and the follower syncs the new branch from the target.
 */
import { certificateHash, verifyCertificate } from '../chain/rollback.ts';
import type { BlockHeader } from '../chain/header.ts';
import { cmp, hex, type P2PContext } from './context.ts';
import type { RollbackCertificate } from './envelope.ts';
import { MAX_ORPHAN_HEADERS } from './options.ts';
import type { PeerHead } from './peers.ts';
import type { ReqResp } from './reqresp.ts';

/** How a gossiped certificate is reported to gossipsub (gossip.ts maps it). */
export type CertificateVerdict = 'accept' | 'reject' | 'ignore';

/** What the follower needs once it rolled back (sync.ts). */
export interface AfterRollback {
  /** Forget blocks buffered ahead of the old head. */
  clearBuffer(): void;
  /** Ask every peer for its head again and sync the new branch. */
  pollStatus(): Promise<void>;
}

export class RollbackFollower {
  /** Verified certificates by certificate hash (insertion order; bounded). */
  private readonly certs = new Map<bigint, RollbackCertificate>();
  /** Orphaned headers proven by hash linkage: hash -> (number, parent hash). Bounded. */
  private readonly orphanLinks = new Map<bigint, { number: bigint; parent: bigint }>();
  private readonly certFetchedAt = new Map<string, number>();
  private readonly followPeers = new Set<string>();
  private followPromise: Promise<void> | undefined;
  private followAgain = false;
  private readonly walkWarned = new Set<bigint>();
  private readonly freshCerts = new Set<RollbackCertificate>();
  /** Conflicting blocks already reported (number:hash); cleared after a rollback. */
  private readonly conflicts = new Set<string>();

  constructor(
    private readonly ctx: P2PContext,
    private readonly reqresp: Pick<ReqResp, 'requestCertificates' | 'requestOrphans'>,
    private readonly after: AfterRollback,
  ) {}

  /** A follower that acts on certificates (a chain without rollbackTo only checks them). */
  get follows(): boolean {
    return this.ctx.opts.role === 'follower' && this.ctx.chain.rollbackTo !== undefined;
  }

  /** Loads the certificates the chain stored. */
  async load(): Promise<void> {
    for (const c of (await this.ctx.chain.certificates?.()) ?? []) this.remember(c);
  }

  /** The certificates this node knows (stored and learnt), newest targets first, bounded. */
  async knownCertificates(): Promise<RollbackCertificate[]> {
    await this.load();
    return [...this.certs.values()]
      .sort((a, b) => (a.target_height === b.target_height ? cmp(b.orphaned_head_height, a.orphaned_head_height) : cmp(b.target_height, a.target_height)))
      .slice(0, this.ctx.opts.maxCertificates);
  }

  /** Keeps a verified certificate; false when it was already known. */
  remember(c: RollbackCertificate): boolean {
    const h = certificateHash(c);
    if (this.certs.has(h)) return false;
    this.certs.set(h, c);
    while (this.certs.size > 2 * this.ctx.opts.maxCertificates) this.certs.delete(this.certs.keys().next().value!);
    return true;
  }

  /** Signature by the genesis key and chain id; remembers a valid certificate seen first now. */
  private checkCertificate(c: RollbackCertificate): 'new' | 'known' | 'invalid' {
    const k = this.certs.get(certificateHash(c));
    if (k && k.signature[0] === c.signature[0] && k.signature[1] === c.signature[1]) return 'known';
    if (c.chain_id !== this.ctx.chainIdFelt || !verifyCertificate(c, this.ctx.chain.sequencerKey)) return 'invalid';
    if (k) return 'known';
    this.remember(c);
    this.ctx.stats.certificatesLearnt++;
    return 'new';
  }

  /** A certificate received by gossip from `from`. */
  async onCertificate(c: RollbackCertificate, from: string): Promise<CertificateVerdict> {
    const { ctx } = this;
    const v = this.checkCertificate(c);
    if (v === 'invalid') {
      ctx.penalise(from, 'bad_certificate', `rollback certificate to ${c.target_height} is not signed by this chain's sequencer for this chain`);
      return 'reject';
    }
    if (v === 'known' || ctx.opts.role === 'sequencer') return 'ignore';
    ctx.log.warn(`rollback certificate from ${from}: target ${c.target_height} ${hex(c.target_hash)}, orphaned head ${c.orphaned_head_height} ${hex(c.orphaned_head_hash)}, reason ${JSON.stringify(c.reason)}`);
    ctx.emit('rollback', c);
    const ours = c.target_height <= ctx.head.number ? await ctx.chain.signedHeader(c.target_height) : undefined;
    if (ours && ours.hash !== c.target_hash) {
      ctx.stats.rollbacksIgnored++;
      ctx.log.warn(`certificate target ${c.target_height} ${hex(c.target_hash)} is not our block ${hex(ours.hash)} at that height: not followed`);
      return 'ignore';
    }
    if (!this.follows) {
      ctx.stats.rollbacksIgnored++;
      ctx.log.warn('this node does not follow rollbacks: certificate ignored');
      return 'accept';
    }
    this.scheduleFollow(from, c);
    return 'accept';
  }

  /** A sequencer-signed block on another branch than ours: ask its sender for certificates. */
  noteConflict(number: bigint, hash: bigint, from: string): void {
    const { ctx } = this;
    ctx.stats.conflicting++;
    const key = `${number}:${hash}`;
    if (this.conflicts.has(key)) return;
    if (this.conflicts.size > 1000) this.conflicts.clear();
    this.conflicts.add(key);
    ctx.log.warn(`peer ${from} sent a sequencer-signed block ${number} ${hex(hash)} on another branch than ours (the sequencer rolled back?)${this.follows ? ': asking it for rollback certificates' : ''}`);
    ctx.emit('conflict', { number, hash, from });
    this.scheduleFollow(from);
  }

  /** Asks `peer` (if given) for its certificates, then follows any that applies; coalesced. */
  scheduleFollow(peer?: string, fresh?: RollbackCertificate): void {
    if (!this.follows || this.ctx.stopping) return;
    if (peer) this.followPeers.add(peer);
    if (fresh) this.freshCerts.add(fresh);
    if (this.followPromise) {
      this.followAgain = true;
      return;
    }
    this.followPromise = this.ctx.track(this.followLoop()).finally(() => {
      this.followPromise = undefined;
    });
  }

  private async followLoop(): Promise<void> {
    const { ctx } = this;
    do {
      this.followAgain = false;
      const peers = [...this.followPeers];
      const fresh = [...this.freshCerts];
      this.followPeers.clear();
      this.freshCerts.clear();
      for (const id of peers) await this.fetchCertificates(id);
      if (ctx.stopping) return;
      const applied = await this.applyCertificates(peers);
      for (const c of fresh)
        if (c !== applied) {
          ctx.stats.rollbacksIgnored++;
          ctx.log.info(`certificate to ${c.target_height} does not orphan our head: not followed`);
        }
      if (applied) await this.after.pollStatus();
    } while (this.followAgain && !ctx.stopping);
  }

  /** The certificates a peer serves; each is verified, a forged one is an offence. */
  private async fetchCertificates(id: string): Promise<void> {
    const { ctx } = this;
    const now = Date.now();
    if ((this.certFetchedAt.get(id) ?? 0) + ctx.opts.certificateFetchIntervalMs > now || ctx.peers.isBanned(id)) return;
    this.certFetchedAt.set(id, now);
    if (this.certFetchedAt.size > 1000) this.certFetchedAt.clear();
    let certs: RollbackCertificate[];
    try {
      certs = await this.reqresp.requestCertificates(id);
    } catch (e) {
      this.onRollbacksError(id, e);
      return;
    }
    for (const c of certs)
      if (this.checkCertificate(c) === 'invalid') {
        ctx.penalise(id, 'bad_certificate', `served a rollback certificate to ${c.target_height} that is not signed by this chain's sequencer for this chain`);
        return;
      }
  }

  private onRollbacksError(id: string, e: unknown): void {
    if (!this.ctx.punish(id, e) && !this.ctx.stopping) this.ctx.log.debug(`rollbacks request to ${id} failed: ${(e as Error).message}`);
  }

  /**
   * Rolls back under the known certificate with the lowest target that holds for our chain:
   * its target is our block at that height, and our head provably lies on the branch it
   * orphans. Returns the certificate followed, if any.
   */
  private async applyCertificates(hints: string[]): Promise<RollbackCertificate | undefined> {
    const { ctx } = this;
    if (this.certs.size === 0 || ctx.broken) return undefined;
    const head = await ctx.chain.head();
    let chosen: { c: RollbackCertificate; at: PeerHead } | undefined;
    for (const c of [...this.certs.values()].sort((a, b) => cmp(a.target_height, b.target_height))) {
      if (ctx.stopping) return undefined;
      if (c.target_height >= head.number) break;
      if ((await ctx.chain.signedHeader(c.target_height))?.hash !== c.target_hash) continue;
      const at = await this.proveOrphaned(c, head, hints);
      if (at) {
        chosen = { c, at };
        break;
      }
    }
    if (!chosen) return undefined;
    const { c, at } = chosen;
    return ctx.importLock.run(async () => {
      if (ctx.stopping || ctx.broken) return undefined;
      // Imports may have run meanwhile: the proof must still hold.
      const cur = await ctx.chain.head();
      if (c.target_height >= cur.number || at.number > cur.number) return undefined;
      if ((await ctx.chain.signedHeader(c.target_height))?.hash !== c.target_hash) return undefined;
      if ((await ctx.chain.signedHeader(at.number))?.hash !== at.hash) return undefined;
      ctx.log.warn(
        `following the sequencer's rollback: head ${cur.number} ${hex(cur.hash)} lies on the branch orphaned by the certificate (target ${c.target_height} ${hex(c.target_hash)}, orphaned head ${c.orphaned_head_height}, reason ${JSON.stringify(c.reason)}, incident ${hex(c.incident_id)}); rolling back`,
      );
      const t0 = performance.now();
      try {
        await ctx.chain.rollbackTo!(c);
      } catch (e) {
        ctx.broken = `rollback to ${c.target_height} failed: ${(e as Error).message}`;
        ctx.log.error(`${ctx.broken}; block import stopped — restart the node to finish the rollback. ${(e as Error).stack ?? ''}`);
        return undefined;
      }
      ctx.head = await ctx.chain.head();
      this.after.clearBuffer();
      this.conflicts.clear();
      // Peers' heads above the target may be on the orphaned branch: ask them again.
      for (const p of ctx.peers.all()) if (p.head && p.head.number > c.target_height) p.head = undefined;
      ctx.stats.rollbacksApplied++;
      ctx.log.warn(`rolled back from ${cur.number} to ${ctx.head.number} ${hex(ctx.head.hash)} in ${Math.round(performance.now() - t0)} ms; following the new branch`);
      ctx.emit('rolledBack', { certificate: c, from: cur, to: ctx.head });
      return c;
    });
  }

  /**
   * Where our chain provably meets the branch `c` orphans (a height and our hash there), or
   * undefined. We hold the orphaned head itself, or the orphaned headers walked down from it
   * (hash-linked from the signed orphaned head hash) reach our head.
   */
  private async proveOrphaned(c: RollbackCertificate, head: PeerHead, hints: string[]): Promise<PeerHead | undefined> {
    const { ctx } = this;
    if (head.number >= c.orphaned_head_height) {
      const ours = await ctx.chain.signedHeader(c.orphaned_head_height);
      return ours?.hash === c.orphaned_head_hash ? { number: c.orphaned_head_height, hash: c.orphaned_head_hash } : undefined;
    }
    const gap = c.orphaned_head_height - head.number;
    if (gap > BigInt(ctx.opts.maxOrphanWalk)) {
      const h = certificateHash(c);
      if (!this.walkWarned.has(h)) {
        this.walkWarned.add(h);
        ctx.log.warn(`certificate to ${c.target_height}: our head ${head.number} is ${gap} blocks below its orphaned head (more than maxOrphanWalk ${ctx.opts.maxOrphanWalk}); cannot tell whether it orphans our branch — roll this node back by hand if it does`);
      }
      return undefined;
    }
    const theirs = await this.orphanedHashAt(c, head.number, hints);
    return theirs !== undefined && theirs === head.hash ? head : undefined;
  }

  /** The hash of the block at `height` on the branch `c` orphans (target < height <= orphaned head). */
  private async orphanedHashAt(c: RollbackCertificate, height: bigint, hints: string[]): Promise<bigint | undefined> {
    let hash = c.orphaned_head_hash;
    let n = c.orphaned_head_height;
    while (n > height) {
      let link = this.orphanLinks.get(hash);
      if (!link) {
        const local = await this.ctx.chain.orphanHeader?.(hash);
        link = local ? { number: local.block_number, parent: local.parent_hash } : await this.fetchOrphanLinks(hash, n - height, c.target_height, hints);
      }
      if (!link || link.number !== n) return undefined;
      hash = link.parent;
      n--;
    }
    return hash;
  }

  /** Fetches orphaned headers from `hash` down (at most `want`), keeping those above `floor`. */
  private async fetchOrphanLinks(hash: bigint, want: bigint, floor: bigint, hints: string[]): Promise<{ number: bigint; parent: bigint } | undefined> {
    const { ctx } = this;
    const count = Number(want < BigInt(MAX_ORPHAN_HEADERS) ? want : BigInt(MAX_ORPHAN_HEADERS));
    const active = ctx.peers.active();
    const order = [...new Set([...hints, ...active.filter((p) => p.role === 'sequencer').map((p) => p.id), ...active.map((p) => p.id)])].filter((id) => !ctx.peers.isBanned(id));
    for (const id of order.slice(0, 4)) {
      if (ctx.stopping) return undefined;
      let headers: { header: BlockHeader; hash: bigint }[];
      try {
        headers = await this.reqresp.requestOrphans(id, hash, count);
      } catch (e) {
        this.onRollbacksError(id, e);
        continue;
      }
      if (headers.length === 0) continue;
      if (this.orphanLinks.size + headers.length > 4 * ctx.opts.maxOrphanWalk) this.orphanLinks.clear();
      for (const x of headers) if (x.header.block_number > floor) this.orphanLinks.set(x.hash, { number: x.header.block_number, parent: x.header.parent_hash });
      return this.orphanLinks.get(hash);
    }
    return undefined;
  }

  /** Whether `hash` is a block some certificate orphaned (as far as we know). */
  async isOrphan(hash: bigint): Promise<boolean> {
    if (this.orphanLinks.has(hash)) return true;
    for (const c of this.certs.values()) if (c.orphaned_head_hash === hash) return true;
    return (await this.ctx.chain.orphanHeader?.(hash)) !== undefined;
  }
}
