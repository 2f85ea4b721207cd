/**
 * JSON-RPC 2.0 dispatch with exact semantics: batches (an empty batch is an error), ids echoed
 * with their type, params by name or by position (or absent), -32700 with id null on a parse
 * error, -32600 for a malformed request, -32601 for an unknown method, -32602 naming the bad
 * parameter, -32603 without stack traces. Notifications (no id) get no response.
 */
import { E, RpcError } from './errors.ts';

export interface MethodSpec<C = unknown> {
  /** Parameter names in positional order; a trailing `?` marks an optional one. */
  params: string[];
  handler(p: Record<string, unknown>, ctx: C): unknown | Promise<unknown>;
}

export type Methods<C> = Record<string, MethodSpec<C>>;

type Id = string | number | null;
interface Response {
  jsonrpc: '2.0';
  id: Id;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface DispatchOptions {
  maxBatch: number;
  onInternalError?: (method: string, e: unknown) => void;
  /** After each call (metrics, request logs): the method ('unknown' when not a method here), milliseconds, the error code or null. */
  onCall?: (method: string, ms: number, errorCode: number | null) => void;
}

function errorResponse(id: Id, e: RpcError): Response {
  const error: Response['error'] = { code: e.code, message: e.message };
  if (e.data !== undefined) error.data = e.data;
  return { jsonrpc: '2.0', id, error };
}

function validId(id: unknown): id is Id {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

interface ParamSpec {
  names: string[];
  required: boolean[];
}

/** Parsed parameter lists, once per spec array (method tables are built once). */
const parsedSpecs = new WeakMap<string[], ParamSpec>();

function paramSpec(spec: string[]): ParamSpec {
  let p = parsedSpecs.get(spec);
  if (!p) parsedSpecs.set(spec, (p = { names: spec.map((s) => s.replace(/\?$/, '')), required: spec.map((s) => !s.endsWith('?')) }));
  return p;
}

/** Named params object from by-name or by-position input; -32602 naming what is wrong. */
export function bindParams(spec: string[], params: unknown): Record<string, unknown> {
  const { names, required } = paramSpec(spec);
  const out: Record<string, unknown> = {};
  if (params === undefined) {
    // absent params: fine only if nothing is required
  } else if (Array.isArray(params)) {
    if (params.length > names.length) throw E.invalidParams(`too many positional params: expected at most ${names.length}`);
    params.forEach((v, i) => (out[names[i]!] = v));
  } else if (params !== null && typeof params === 'object') {
    for (const k of Object.keys(params)) if (!names.includes(k)) throw E.invalidParams(`unknown param "${k}"`);
    Object.assign(out, params);
  } else throw E.invalidRequest('params must be an array or an object');
  for (let i = 0; i < names.length; i++) if (required[i] && out[names[i]!] === undefined) throw E.invalidParams(`missing param "${names[i]}"`);
  return out;
}

export class Dispatcher<C> {
  constructor(
    private readonly methods: Methods<C>,
    private readonly opts: DispatchOptions,
  ) {}

  has(method: string): boolean {
    return Object.hasOwn(this.methods, method);
  }

  /** One request object -> a response, or null for a notification. */
  async handleOne(req: unknown, ctx: C): Promise<Response | null> {
    if (req === null || typeof req !== 'object' || Array.isArray(req)) return errorResponse(null, E.invalidRequest('request must be an object'));
    const r = req as Record<string, unknown>;
    const hasId = Object.hasOwn(r, 'id');
    const id: Id = hasId && validId(r.id) ? (r.id as Id) : null;
    if (r.jsonrpc !== '2.0') return errorResponse(id, E.invalidRequest('jsonrpc must be "2.0"'));
    if (hasId && !validId(r.id)) return errorResponse(null, E.invalidRequest('id must be a string, a number or null'));
    if (typeof r.method !== 'string') return errorResponse(id, E.invalidRequest('method must be a string'));
    if (r.params !== undefined && (r.params === null || typeof r.params !== 'object')) return errorResponse(id, E.invalidRequest('params must be an array or an object'));
    const method = r.method;
    const t0 = performance.now();
    let response: Response;
    try {
      if (!this.has(method)) throw E.methodNotFound(method);
      const spec = this.methods[method]!;
      const bound = bindParams(spec.params, r.params);
      const result = await spec.handler(bound, ctx);
      response = { jsonrpc: '2.0', id, result: result === undefined ? null : result };
    } catch (e) {
      if (e instanceof RpcError) response = errorResponse(id, e);
      else {
        this.opts.onInternalError?.(method, e);
        response = errorResponse(id, E.internal());
      }
    }
    this.opts.onCall?.(this.has(method) ? method : 'unknown', performance.now() - t0, response.error ? response.error.code : null);
    return hasId ? response : null;
  }

  /** A raw body -> the response text, or null when nothing is to be sent back. */
  async handleText(body: string, ctx: C): Promise<string | null> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return JSON.stringify(errorResponse(null, E.parse()));
    }
    if (Array.isArray(parsed)) {
      if (parsed.length === 0) return JSON.stringify(errorResponse(null, E.invalidRequest('empty batch')));
      if (parsed.length > this.opts.maxBatch) return JSON.stringify(errorResponse(null, E.tooLarge(`batch longer than ${this.opts.maxBatch}`)));
      const out: Response[] = [];
      for (const item of parsed) {
        const res = await this.handleOne(item, ctx);
        if (res) out.push(res);
      }
      return out.length ? JSON.stringify(out) : null;
    }
    const res = await this.handleOne(parsed, ctx);
    return res ? JSON.stringify(res) : null;
  }
}
