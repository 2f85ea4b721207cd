/**
 * Drives the signed workload into a running sequencer, in stream order, with a bounded number
 * of actions in flight (closed loop; or paced with --rate).
 *
 * inprocess: the bench plays the ingress: it looks up each signer's key (a per-account cache
 * over the head state), has the verify pool check the signatures of the next batch before the
 * actions reach the producer lock (SignatureCache.prepare), then calls ExchangeService.
 * rpc: orders and cancels go through JSON-RPC (perp_submitOrder, perp_cancelOrder) over
 * keep-alive HTTP, sent by a client worker thread (lib/rpc-client.ts: the wallets' HTTP and
 * JSON work stays off the node's main thread); the latency of each answer is the
 * acknowledgement latency. Oracle updates stay in-process (the oracle is a privileged feed; the
 * node's own feeder is in-process too).
 *
 * Oracle updates carry the workload's prices but are stamped and signed when they are sent, with
 * the node's clock (second resolution, strictly increasing: at most one per second and one per
 * block, the others are skipped), as a live feed would: a price signed in advance would be stale (refused with
 * ORACLE_STALE) by the time the run reaches it, and then no funding and no liquidation would
 * run at all. One signature per second on this thread (it is counted with the node's hashes).
 */
import type { RunningNode } from '../../node/node.ts';
import { TxRevert } from '../../contracts-ts/state.ts';
import { oracleUpdateHash, orderMessage } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { ACC } from '../../contracts-ts/layout.ts';
import { RejectedError } from '../../node/sequencer/producer.ts';
import { signatureJobs, type SigJob } from '../../node/sequencer/verify-pool.ts';
import type { BenchEvent } from './workload.ts';
import { RpcClientWorker } from './rpc-client.ts';

export interface DriveOptions {
  mode: 'inprocess' | 'rpc';
  durationMs: number;
  /** Actions in flight at most. */
  window: number;
  /** Actions per second (open loop), or 0 for as fast as the node accepts them. */
  rate: number;
  /** Use the verify pool at ingress (inprocess). */
  ingressPool: boolean;
  onTick?: (elapsedMs: number, d: DriveCounters) => void;
}

export interface DriveCounters {
  submitted: { orders: number; cancels: number; oracle: number };
  accepted: { orders: number; cancels: number; oracle: number };
  /** Oracle updates of the workload not sent: another was already sent in the same clock second. */
  oracleSkipped: number;
  /** Workload cancels not sent: their order was refused (a wallet cancels only orders it was told are accepted). */
  cancelsSkipped: number;
  fills: number;
  rejected: Record<string, number>;
  /** Milliseconds from submission to answer, per order. */
  ackMs: number[];
  startedAt: number;
  endedAt: number;
  exhausted: boolean;
  consumed: number;
}

const hex = (x: bigint) => '0x' + x.toString(16);

export async function drive(node: RunningNode, events: BenchEvent[], o: DriveOptions): Promise<DriveCounters> {
  const c: DriveCounters = {
    submitted: { orders: 0, cancels: 0, oracle: 0 },
    accepted: { orders: 0, cancels: 0, oracle: 0 },
    oracleSkipped: 0,
    cancelsSkipped: 0,
    fills: 0,
    rejected: {},
    ackMs: [],
    startedAt: performance.now(),
    endedAt: 0,
    exhausted: false,
    consumed: 0,
  };
  const g = node.chain.genesis;
  const operator = g.exchange.bridgeOperator.publicKey;
  const world = node.chain.world;
  const sigCache = node.producer.sigCache;
  // Ingress's per-account key cache (keys never change once an account is deployed).
  const keys = new Map<bigint, bigint>();
  const keyOf = (a: bigint): bigint | undefined => {
    let k = keys.get(a);
    if (k === undefined) {
      k = world.getStorage(a, ACC.publicKey);
      if (k !== 0n) keys.set(a, k);
    }
    return k === 0n ? undefined : k;
  };
  const oracleKey = g.exchange.oracles.find((k) => k.privateKey !== undefined);
  const clock = node.producer.m.clock ?? Date.now;
  let lastOracleTs = 0n;
  let lastOracleHead = -1n;
  const reject = (why: string) => (c.rejected[why] = (c.rejected[why] ?? 0) + 1);
  const reason = (e: unknown): string => (e instanceof TxRevert ? e.code : e instanceof RejectedError ? e.code : `ERROR ${(e as Error)?.message ?? e}`);
  const rpc = o.mode === 'rpc' ? await RpcClientWorker.create(node.rpcUrl, o.window) : null;
  c.startedAt = performance.now(); // the load starts once the client worker is up

  // A wallet cancels an order once it was told the order was accepted, never one refused: per
  // order, whether its answer said accepted (a cancel of a never-accepted hash would leave a
  // cancel-only word on chain that nothing can prune: docs/exchange.md).
  const accepted = new Map<bigint, Promise<boolean>>();
  const dispatch = (e: BenchEvent): Promise<void> => {
    if (e.k === 'o') {
      const p = submitOrder(e);
      accepted.set(e.signed.hash, p);
      return p.then(() => undefined);
    }
    if (e.k === 'c') {
      const known = accepted.get(e.tx.orderHash);
      if (!known) {
        c.cancelsSkipped++;
        return Promise.resolve();
      }
      return known.then((ok) => (ok ? submitCancel(e) : void c.cancelsSkipped++));
    }
    return submitOracle(e);
  };
  const submitOrder = (e: Extract<BenchEvent, { k: 'o' }>): Promise<boolean> => {
    c.submitted.orders++;
    const t0 = performance.now();
    if (rpc) {
      return rpc.call('perp_submitOrder', { order: orderMessage(e.signed.order), signature: e.signed.signature.map(hex) }).then((r) => {
        c.ackMs.push(r.ms);
        if (r.error) reject(r.error.reason ?? `RPC ${r.error.code} ${r.error.message}`);
        else if (r.result!.status === 'REJECTED') reject(`book: ${r.result!.reason}`);
        else {
          c.accepted.orders++;
          c.fills += r.result!.fills;
          return true;
        }
        return false;
      });
    }
    return node.exchange.submitOrder(e.signed).then(
      (res) => {
        c.ackMs.push(performance.now() - t0);
        if (res.record.status === 'REJECTED') reject(`book: ${res.record.reason}`);
        else {
          c.accepted.orders++;
          c.fills += res.fills.length;
          return true;
        }
        return false;
      },
      (err) => {
        c.ackMs.push(performance.now() - t0);
        reject(reason(err));
        return false;
      },
    );
  };
  const submitCancel = (e: Extract<BenchEvent, { k: 'c' }>): Promise<void> => {
    c.submitted.cancels++;
    if (rpc) {
      return rpc.call('perp_cancelOrder', { cancel: { account: hex(e.tx.account), orderHash: hex(e.tx.orderHash) }, signature: e.tx.signature.map(hex) }).then((r) => {
        if (r.error) reject(`cancel: ${r.error.reason ?? r.error.message}`);
        else c.accepted.cancels++;
      });
    }
    return node.exchange.cancel(e.tx).then(
      () => void c.accepted.cancels++,
      (err) => void reject(`cancel: ${reason(err)}`),
    );
  };
  const submitOracle = (e: Extract<BenchEvent, { k: 'x' }>): Promise<void> => {
    const ts = BigInt(Math.floor(clock() / 1000));
    const head = node.producer.head.number; // at most one price per market per block (ORACLE_TOO_FREQUENT)
    if (!oracleKey || oracleKey.publicKey !== e.tx.signer || ts <= lastOracleTs || head === lastOracleHead) {
      c.oracleSkipped++;
      return Promise.resolve();
    }
    lastOracleTs = ts;
    lastOracleHead = head;
    const body = { timestamp: ts, prices: e.tx.prices };
    const sig = sign(oracleUpdateHash(body, e.tx.signer, g.chainId), oracleKey.privateKey!);
    c.submitted.oracle++;
    return node.exchange.oracleUpdate({ ...e.tx, ...body, signature: [sig.r, sig.s] }).then(
      () => void c.accepted.oracle++,
      (err) => void reject(`oracle: ${reason(err)}`),
    );
  };

  const jobsOf = (e: BenchEvent): SigJob[] => {
    if (e.k === 'o') return signatureJobs({ type: 'TRIGGER', order: e.signed }, keyOf, g.chainId, operator);
    return signatureJobs(e.tx, keyOf, g.chainId, operator);
  };

  const deadline = c.startedAt + o.durationMs;
  const BATCH = 32;
  let next = 0;
  const inflight = new Set<Promise<void>>();
  const prepareBatch = (from: number): { from: number; to: number; ready: Promise<void> } => {
    const to = Math.min(events.length, from + BATCH);
    const usePool = o.ingressPool && o.mode === 'inprocess';
    const ready = usePool ? sigCache.prepare(events.slice(from, to).flatMap(jobsOf)).catch(() => undefined) : Promise.resolve();
    return { from, to, ready };
  };
  const ahead: { from: number; to: number; ready: Promise<void> }[] = [];
  let lastTick = 0;
  while (performance.now() < deadline) {
    while (ahead.length < 3 && (ahead.length ? ahead[ahead.length - 1]!.to : next) < events.length) ahead.push(prepareBatch(ahead.length ? ahead[ahead.length - 1]!.to : next));
    const b = ahead.shift();
    if (!b) {
      c.exhausted = true;
      break;
    }
    await b.ready;
    for (let i = b.from; i < b.to; i++) {
      if (o.rate > 0) {
        const due = c.startedAt + (i * 1000) / o.rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
      while (inflight.size >= o.window) await Promise.race(inflight);
      const p = dispatch(events[i]!).catch((err) => void reject(reason(err)));
      inflight.add(p);
      void p.then(() => inflight.delete(p));
      next = i + 1;
      c.consumed = next;
      const now = performance.now();
      if (o.onTick && now - lastTick > 100) {
        lastTick = now;
        o.onTick(now - c.startedAt, c);
      }
      if (now >= deadline) break;
    }
  }
  await Promise.all(inflight);
  c.endedAt = performance.now();
  await rpc?.close();
  return c;
}
