/**
 * JSON-RPC over HTTP (and WebSocket upgrades handed to `onUpgrade`). Limits with clear
 * errors: body size, batch length (in the dispatcher), per-IP rate, request timeout.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { E } from './errors.ts';
import type { Dispatcher } from './jsonrpc.ts';
import { TokenBuckets } from './ratelimit.ts';

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

export function startHttp(dispatcher: Dispatcher<CallContext>, opts: HttpOptions): Promise<Server> {
  const limiter = new TokenBuckets(opts.ratePerSec, opts.burst);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
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
      const text = Buffer.concat(chunks).toString('utf8');
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
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
