/** A minimal JSON-RPC 2.0 client over fetch, with errors that keep the node's code and data. */

export class PerpRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: unknown,
    readonly method: string,
  ) {
    super(`${method}: ${message} (code ${code})${data !== undefined ? ` ${typeof data === 'string' ? data : JSON.stringify(data)}` : ''}`);
    this.name = 'PerpRpcError';
  }
  /** The rule a rejected transaction broke (e.g. "INSUFFICIENT_COLLATERAL"), when the node named one. */
  get reason(): string | undefined {
    const d = this.data as { reason?: unknown } | undefined;
    return d && typeof d === 'object' && typeof d.reason === 'string' ? d.reason : undefined;
  }
}

export interface RpcClientOptions {
  /** Per-call timeout (default 30 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}

export class RpcClient {
  private id = 0;
  constructor(
    readonly url: string,
    private readonly opts: RpcClientOptions = {},
  ) {}

  async call<T = any>(method: string, params?: unknown): Promise<T> {
    const f = this.opts.fetch ?? fetch;
    const res = await f(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.opts.headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++this.id, method, ...(params === undefined ? {} : { params }) }),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let j: any;
    try {
      j = JSON.parse(text);
    } catch {
      throw new PerpRpcError(-32700, `HTTP ${res.status}: not a JSON-RPC answer`, text.slice(0, 200), method);
    }
    if (j && j.error) throw new PerpRpcError(j.error.code, j.error.message, j.error.data, method);
    if (!j || !('result' in j)) throw new PerpRpcError(-32603, `HTTP ${res.status}: answer without result`, undefined, method);
    return j.result as T;
  }
}
