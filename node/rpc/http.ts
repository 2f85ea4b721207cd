/**
 * JSON-RPC over HTTP (and WebSocket upgrades handed to `onUpgrade`). Limits with clear
 * errors: body size, batch length (in the dispatcher), per-IP rate, request timeout.
 * GET routes (status page, /health, /ready, /metrics) answer on their paths, rate-limited too.
 *
 * A port is bound first (`bindHttp`, before the node writes anything to its data directory; a
 * busy port names its flag), answering 503 until `startHttp` attaches the handlers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { E } from './errors.ts';
import type { Dispatcher } from './jsonrpc.ts';
import { TokenBuckets } from './ratelimit.ts';
import type { Logger } from '../log.ts';

export interface HttpOptions {
  host: string;
  port: number;
  paths: string[];
  maxBodyBytes: number;
  requestTimeoutMs: number;
  ratePerSec: number;
  burst: number;
  /** Checks a request before dispatch (e.g. bearer token); return false to refuse with 401. */
  authorize?: (req: IncomingMessage) => boolean;
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** GET (and HEAD) handlers by path; a GET to a JSON-RPC path without a route answers 405. */
  routes?: Record<string, Route>;
  /** A server already bound with `bindHttp` (else one is bound here). */
  server?: Server;
  /** Request lines at debug level. */
  log?: Logger;
}

/** The limits of one JSON-RPC HTTP server (body, time, per-IP rate, batch length). */
export interface HttpLimits {
  maxBodyBytes: number;
  requestTimeoutMs: number;
  ratePerSec: number;
  burst: number;
  maxBatch: number;
}

/** The public JSON-RPC port: what wallets and starknet.js call. */
export const PUBLIC_HTTP_DEFAULTS: HttpLimits & { port: number } = { port: 5050, maxBodyBytes: 1 << 20, requestTimeoutMs: 30_000, ratePerSec: 2000, burst: 4000, maxBatch: 100 };

/** The admin port (127.0.0.1 only, bearer token): few callers, long calls (rollback, verify). */
export const ADMIN_HTTP_DEFAULTS: HttpLimits & { port: number } = { port: 5055, maxBodyBytes: 64 << 10, requestTimeoutMs: 300_000, ratePerSec: 50, burst: 100, maxBatch: 10 };

export interface RouteResponse {
  status: number;
  type: string;
  body: string | Buffer;
}
export type Route = (req: IncomingMessage) => RouteResponse | Promise<RouteResponse>;

export class PortInUseError extends Error {
  constructor(
    readonly flag: string,
    readonly host: string,
    readonly port: number,
    cause: string,
  ) {
    super(`${flag} ${port}: ${host}:${port} is not available (${cause}); is another perpnode running? choose another port with ${flag}`);
    this.name = 'PortInUseError';
  }
}

/** Binds host:port (503 "starting" until startHttp attaches handlers); a failure names `flag`. */
export function bindHttp(host: string, port: number, flag: string): Promise<Server> {
  const server = createServer((_req, res) => send(res, 503, errBody({ code: -32603, message: 'the node is starting' })));
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new PortInUseError(flag, host, port, e.code === 'EADDRINUSE' ? 'address in use' : (e.code ?? e.message))));
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      resolve(server);
    });
  });
}

/** Checks that a TCP port can be bound now (for listeners opened later by another library). */
export async function probePort(host: string, port: number, flag: string): Promise<void> {
  if (port === 0) return;
  await closeServer(await bindHttp(host, port, flag));
}

export interface CallContext {
  ip: string;
}

function send(res: ServerResponse, status: number, body: string | null): void {
  if (res.writableEnded) return;
  if (body === null) {
    res.writeHead(204).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

const errBody = (e: { code: number; message: string; data?: unknown }) => JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) } });

export async function startHttp(dispatcher: Dispatcher<CallContext>, opts: HttpOptions): Promise<Server> {
  const limiter = new TokenBuckets(opts.ratePerSec, opts.burst);
  const routes = opts.routes ?? {};
  const server = opts.server ?? (await bindHttp(opts.host, opts.port, `port ${opts.port}`));
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route && (req.method === 'GET' || req.method === 'HEAD')) {
      if (!limiter.take(req.socket.remoteAddress ?? '?')) return send(res, 429, errBody(E.rateLimited()));
      Promise.resolve()
        .then(() => route(req))
        .then(
          (r) => {
            opts.log?.debug(`${req.method} ${path} ${r.status}`);
            if (res.writableEnded) return;
            res.writeHead(r.status, { 'content-type': r.type, 'content-length': Buffer.byteLength(r.body), 'cache-control': 'no-store' });
            res.end(req.method === 'HEAD' ? undefined : r.body);
          },
          (e) => {
            opts.log?.error(`GET ${path} failed: ${(e as Error)?.stack ?? e}`);
            send(res, 500, errBody(E.internal()));
          },
        );
      return;
    }
    if (!opts.paths.includes(path)) return send(res, 404, errBody(E.invalidRequest(`unknown path ${path}; use ${opts.paths.join(' or ')}`)));
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return send(res, 405, errBody(E.invalidRequest('use POST with a JSON-RPC body')));
    }
    if (opts.authorize && !opts.authorize(req)) return send(res, 401, errBody(E.unauthorized()));
    const ip = req.socket.remoteAddress ?? '?';
    if (!limiter.take(ip)) return send(res, 429, errBody(E.rateLimited()));
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > opts.maxBodyBytes) {
      send(res, 413, errBody(E.tooLarge(`body larger than ${opts.maxBodyBytes} bytes`)));
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    const timer = setTimeout(() => {
      aborted = true;
      send(res, 408, errBody(E.timeout()));
      req.destroy();
    }, opts.requestTimeoutMs);
    req.on('data', (c: Buffer) => {
      if (aborted) return;
      size += c.length;
      if (size > opts.maxBodyBytes) {
        aborted = true;
        clearTimeout(timer);
        send(res, 413, errBody(E.tooLarge(`body larger than ${opts.maxBodyBytes} bytes`)));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => clearTimeout(timer));
    req.on('end', () => {
      if (aborted) return;
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'); // one chunk: no copy
      dispatcher
        .handleText(text, { ip })
        .then((out) => {
          clearTimeout(timer);
          if (!aborted) send(res, 200, out);
        })
        .catch(() => {
          clearTimeout(timer);
          if (!aborted) send(res, 500, errBody(E.internal()));
        });
    });
  });
  server.headersTimeout = opts.requestTimeoutMs;
  server.requestTimeout = opts.requestTimeoutMs * 2;
  server.keepAliveTimeout = 5000;
  if (opts.onUpgrade) server.on('upgrade', opts.onUpgrade);
  return server;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
