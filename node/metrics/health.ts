/**
 * `GET /health` (alive) and `GET /ready` (synced, not halted, database writable) on the RPC
 * port, JSON bodies, for load balancers and orchestrators. /ready answers 200 or 503 and lists
 * every reason it is not ready; its body also carries the mode and the p2p peers with their
 * lag, which the status page shows. docs/operations.md#health.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Mode } from '../../contracts-ts/exchange/modes.ts';
import type { P2PStatus } from '../p2p/index.ts';
import type { Route } from '../rpc/http.ts';

export interface HealthSources {
  role: 'sequencer' | 'follower';
  chainId: string;
  dataDir: string;
  /** The LevelDB handle: `status` is 'open' while it can be written. */
  db: { status: string };
  head(): Promise<{ number: bigint; hash: bigint } | undefined>;
  mode(): Mode;
  halted(): string | null;
  /** What the start-up check is doing while it runs (transactions wait for it); null once passed. */
  starting?(): string | null;
  p2p?: () => P2PStatus | undefined;
  startedAt: number;
}

const hex = (x: bigint) => '0x' + x.toString(16);
const json = (status: number, body: unknown) => ({ status, type: 'application/json', body: JSON.stringify(body) });

/** A follower is synced when a peer is connected and its head is at most this many blocks behind. */
export const SYNC_TOLERANCE_BLOCKS = 1;

export function healthRoutes(src: HealthSources): Record<string, Route> {
  // The write probe touches the disk: at most once a second, whatever the request rate.
  let probe: { at: number; error: string | null } = { at: -Infinity, error: null };
  const dbWritable = (): string | null => {
    const now = Date.now();
    if (now - probe.at < 1000) return probe.error;
    let error: string | null = null;
    if (src.db.status !== 'open') error = `database is ${src.db.status}`;
    else {
      const f = join(src.dataDir, '.ready-probe');
      try {
        writeFileSync(f, String(now));
        unlinkSync(f);
      } catch (e) {
        error = `data directory not writable: ${(e as Error).message}`;
      }
    }
    probe = { at: now, error };
    return error;
  };
  const headJson = async () => {
    const h = await src.head();
    return h ? { number: Number(h.number), hash: hex(h.hash) } : null;
  };
  return {
    '/health': async () => json(200, { status: 'ok', role: src.role, chain_id: src.chainId, head: await headJson(), uptime_s: Math.floor((Date.now() - src.startedAt) / 1000) }),
    '/ready': async () => {
      const reasons: string[] = [];
      const halted = src.halted();
      if (halted) reasons.push(`halted: ${halted}`);
      const starting = src.starting?.() ?? null;
      if (starting) reasons.push(`starting: ${starting}`);
      const p = src.p2p?.();
      const connected = p ? p.peers.filter((x) => x.connected) : [];
      let synced = true;
      if (src.role === 'follower') {
        if (!p || connected.length === 0) {
          synced = false;
          reasons.push('not synced: no connected peer');
        } else if (p.lag > SYNC_TOLERANCE_BLOCKS) {
          synced = false;
          reasons.push(`not synced: ${p.lag} blocks behind the best peer`);
        }
      }
      const dbError = dbWritable();
      if (dbError) reasons.push(dbError);
      const head = await headJson();
      const ready = reasons.length === 0;
      return json(ready ? 200 : 503, {
        ready,
        role: src.role,
        chain_id: src.chainId,
        head,
        synced,
        lag: p?.lag ?? 0,
        halted,
        starting,
        mode: src.mode(),
        db_writable: dbError === null,
        reasons,
        peers: connected.map((x) => ({ id: x.id, role: x.role, head: x.head?.number ?? null, lag: x.head && head ? Math.max(0, head.number - x.head.number) : null })),
      });
    },
  };
}
