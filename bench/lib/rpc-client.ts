/**
 * The rpc mode's wallets: JSON-RPC over keep-alive HTTP from a worker thread, so the clients'
 * HTTP and JSON work does not run on the node's main thread (real wallets are other processes;
 * in-process `fetch` cost the node's thread about as much as the call it measured). The main
 * thread hands request bodies over in batches (one message per turn of the event loop) and gets
 * back, per call, what the driver counts: the error's code, message and data.reason, or the
 * result's status, reason and number of fills, and the latency the client saw (from the
 * request's start on the worker to the end of the answer).
 */
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads';
import { Agent, request } from 'node:http';
import { spawnTsWorker } from '../../node/sequencer/verify-pool.ts';

export interface CallSummary {
  ms: number;
  error?: { code: number; message: string; reason?: string };
  result?: { status?: string; reason?: string | null; fills: number };
}

interface Req {
  id: number;
  body: string;
}

const TAG = 'perpnode-bench-rpc-client';

export class RpcClientWorker {
  private nextId = 1;
  private pending = new Map<number, (s: CallSummary) => void>();
  private out: Req[] = [];
  private flushQueued = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: { done: [number, CallSummary][] }) => {
      for (const [id, s] of m.done) {
        const f = this.pending.get(id);
        this.pending.delete(id);
        f?.(s);
      }
    });
  }

  /** Starts the worker: at most `connections` keep-alive connections to `url`. */
  static async create(url: string, connections: number): Promise<RpcClientWorker> {
    const w = spawnTsWorker(new URL(import.meta.url), { tag: TAG, url, connections });
    await new Promise<void>((resolve, reject) => {
      w.once('message', (m: { ready?: boolean }) => (m.ready ? resolve() : reject(new Error('rpc client worker failed to start'))));
      w.once('error', reject);
    });
    return new RpcClientWorker(w);
  }

  call(method: string, params: unknown): Promise<CallSummary> {
    const id = this.nextId++;
    this.out.push({ id, body: JSON.stringify({ jsonrpc: '2.0', id, method, params }) });
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => {
        this.flushQueued = false;
        const reqs = this.out;
        this.out = [];
        this.worker.postMessage({ reqs });
      });
    }
    return new Promise((resolve) => this.pending.set(id, resolve));
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

function summarize(status: number, text: string, ms: number): CallSummary {
  if (status === 429) return { ms, error: { code: 429, message: 'HTTP 429 rate limited' } };
  let j: { result?: { status?: string; reason?: string | null; fills?: unknown[] }; error?: { code: number; message: string; data?: { reason?: string } } };
  try {
    j = JSON.parse(text);
  } catch {
    return { ms, error: { code: status, message: `HTTP ${status}: not JSON` } };
  }
  if (j.error) return { ms, error: { code: j.error.code, message: j.error.message, ...(j.error.data?.reason !== undefined ? { reason: j.error.data.reason } : {}) } };
  const r = j.result ?? {};
  return { ms, result: { status: r.status, reason: r.reason, fills: Array.isArray(r.fills) ? r.fills.length : 0 } };
}

function workerMain(): void {
  const port = parentPort!;
  const { url, connections } = workerData as { url: string; connections: number };
  const u = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let done: [number, CallSummary][] = [];
  let flushQueued = false;
  const finish = (id: number, s: CallSummary) => {
    done.push([id, s]);
    if (flushQueued) return;
    flushQueued = true;
    setImmediate(() => {
      flushQueued = false;
      const d = done;
      done = [];
      port.postMessage({ done: d });
    });
  };
  port.on('message', (m: { reqs: Req[] }) => {
    for (const { id, body } of m.reqs) {
      const t0 = performance.now();
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(id, summarize(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), performance.now() - t0)));
        res.on('error', (e) => finish(id, { ms: performance.now() - t0, error: { code: -1, message: e.message } }));
      });
      req.on('error', (e) => finish(id, { ms: performance.now() - t0, error: { code: -1, message: e.message } }));
      req.end(body);
    }
  });
  port.postMessage({ ready: true });
}

if (!isMainThread && (workerData as { tag?: string } | null)?.tag === TAG) workerMain();
