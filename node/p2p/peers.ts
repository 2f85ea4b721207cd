/**
 * What we know about each peer: its score, offences, ban, role and head. Scores are ours (not
 * gossipsub's): an offence (a block that fails verification, a forged or malformed message, a
 * broken protocol answer) costs `offencePenalty`; at `banScore` the peer is disconnected and
 * refused for `banMs`. Negative scores recover slowly, so an old offence is forgiven.
 */
import type { P2POptions, Role } from './options.ts';

export interface PeerHead {
  number: bigint;
  hash: bigint;
}

export interface PeerRecord {
  id: string;
  connected: boolean;
  score: number;
  offences: number;
  lastOffence?: string;
  role?: Role;
  head?: PeerHead;
  bannedUntil?: number;
  scoreAt: number;
}

export class PeerBook {
  private readonly peers = new Map<string, PeerRecord>();

  constructor(
    private readonly opts: Pick<P2POptions, 'offencePenalty' | 'banScore' | 'banMs' | 'recoveryPerMinute'>,
    private readonly now: () => number = Date.now,
  ) {}

  get(id: string): PeerRecord {
    let r = this.peers.get(id);
    if (!r) {
      r = { id, connected: false, score: 0, offences: 0, scoreAt: this.now() };
      this.peers.set(id, r);
    }
    this.recover(r);
    return r;
  }

  private recover(r: PeerRecord): void {
    const t = this.now();
    if (r.score < 0) r.score = Math.min(0, r.score + (this.opts.recoveryPerMinute * (t - r.scoreAt)) / 60_000);
    r.scoreAt = t;
  }

  setConnected(id: string, connected: boolean): void {
    const r = this.get(id);
    r.connected = connected;
    if (!connected) r.head = undefined;
  }

  /** A head the peer proved (signed header or verified block). `exact` replaces, else only raises. */
  setHead(id: string, head: PeerHead, exact = false): void {
    const r = this.get(id);
    if (exact || !r.head || head.number > r.head.number) r.head = head;
  }

  setRole(id: string, role: Role): void {
    this.get(id).role = role;
  }

  /** Records an offence; returns true when the peer is now banned (the caller disconnects it). */
  offence(id: string, reason: string): boolean {
    const r = this.get(id);
    r.offences++;
    r.lastOffence = reason;
    r.score += this.opts.offencePenalty;
    if (r.score <= this.opts.banScore) {
      r.bannedUntil = this.now() + this.opts.banMs;
      r.head = undefined;
      return true;
    }
    return false;
  }

  /** A small deduction (timeouts, empty answers): lowers the peer's priority, never bans alone. */
  demote(id: string, points = 2): void {
    const r = this.get(id);
    r.score = Math.max(this.opts.banScore + 1, r.score - points);
  }

  reward(id: string): void {
    const r = this.get(id);
    r.score = Math.min(20, r.score + 1);
  }

  isBanned(id: string): boolean {
    const r = this.peers.get(id);
    if (!r?.bannedUntil) return false;
    if (r.bannedUntil > this.now()) return true;
    r.bannedUntil = undefined;
    r.score = this.opts.banScore / 2;
    return false;
  }

  /** Connected, unbanned peers. */
  active(): PeerRecord[] {
    return [...this.peers.values()].filter((r) => r.connected && !this.isBanned(r.id)).map((r) => this.get(r.id));
  }

  bestHead(): PeerHead | undefined {
    let best: PeerHead | undefined;
    for (const r of this.active()) if (r.head && (!best || r.head.number > best.number)) best = r.head;
    return best;
  }

  /** Peers that can serve block `from`, best first (score, then head). */
  candidates(from: bigint): PeerRecord[] {
    return this.active()
      .filter((r) => r.head && r.head.number >= from)
      .sort((a, b) => b.score - a.score || (a.head!.number === b.head!.number ? 0 : a.head!.number > b.head!.number ? -1 : 1));
  }

  all(): PeerRecord[] {
    return [...this.peers.keys()].map((id) => this.get(id));
  }
}
