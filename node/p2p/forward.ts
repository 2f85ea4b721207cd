/**
 * Trading calls on a follower. A follower has no producer, so calls that submit transactions
 * are either forwarded to the sequencer's JSON-RPC (`--sequencer-rpc`) or refused with error
 * 11008 naming the sequencer. Implemented as a Dispatcher wrapper over a list of method names,
 * so methods added to rpcMethods later are covered by adding their names to the list.
 */
import { Dispatcher, type DispatchOptions, type Methods } from '../rpc/jsonrpc.ts';
import { E, RpcError } from '../rpc/errors.ts';

/** Methods that submit transactions: only the sequencer can execute them. */
export const TRADING_METHODS: readonly string[] = ['perp_submitOrder', 'perp_cancelOrder', 'perp_cancelAll', 'perp_withdraw', 'perp_transfer', 'perp_deployAccount', 'perp_submitOracleUpdate', 'devnet_mint'];

export interface ForwardOptions {
  /** Method names to forward (or refuse). */
  methods: readonly string[];
  /** The sequencer's JSON-RPC URL; absent = refuse with a clear error. */
  sequencerRpc?: string;
  /** How the refusal names the sequencer (its address, its p2p multiaddr). */
  sequencer: string;
  timeoutMs?: number;
  /** Largest answer accepted from the sequencer. */
  maxResponseBytes?: number;
  fetch?: typeof fetch;
}

type Id = string | number | null;
type Answer = Awaited<ReturnType<Dispatcher<unknown>['handleOne']>>;

function errorAnswer(id: Id, e: RpcError): Answer {
  return { jsonrpc: '2.0', id, error: { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) } };
}

const validId = (id: unknown): id is Id => id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));

export class ForwardingDispatcher<C> extends Dispatcher<C> {
  private readonly names: Set<string>;

  constructor(
    methods: Methods<C>,
    opts: DispatchOptions,
    private readonly fwd: ForwardOptions,
  ) {
    super(methods, opts);
    this.names = new Set(fwd.methods);
  }

  override has(method: string): boolean {
    return this.names.has(method) || super.has(method);
  }

  override async handleOne(req: unknown, ctx: C): Promise<Answer> {
    if (req === null || typeof req !== 'object' || Array.isArray(req)) return super.handleOne(req, ctx);
    const r = req as Record<string, unknown>;
    if (typeof r.method !== 'string' || !this.names.has(r.method) || r.jsonrpc !== '2.0') return super.handleOne(req, ctx);
    const hasId = Object.hasOwn(r, 'id');
    if (hasId && !validId(r.id)) return super.handleOne(req, ctx);
    if (r.params !== undefined && (r.params === null || typeof r.params !== 'object')) return super.handleOne(req, ctx);
    const id: Id = hasId ? (r.id as Id) : null;
    const answer = await this.forward(r.method, r.params, id);
    return hasId ? answer : null;
  }

  private async forward(method: string, params: unknown, id: Id): Promise<Answer> {
    const url = this.fwd.sequencerRpc;
    if (!url)
      return errorAnswer(
        id,
        E.notOnThisRole(`${method} submits a transaction, which only the sequencer can do; this node is a follower. Send it to the sequencer (${this.fwd.sequencer}), or start this follower with --sequencer-rpc <url> to forward it.`),
      );
    const f = this.fwd.fetch ?? fetch;
    try {
      const res = await f(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params !== undefined ? { params } : {}) }),
        signal: AbortSignal.timeout(this.fwd.timeoutMs ?? 30_000),
      });
      const text = await res.text();
      if (text.length > (this.fwd.maxResponseBytes ?? 4 << 20)) throw new Error('answer too large');
      const j = JSON.parse(text);
      if (j && typeof j === 'object' && !Array.isArray(j)) {
        if (j.error && typeof j.error === 'object' && typeof j.error.code === 'number' && typeof j.error.message === 'string')
          return { jsonrpc: '2.0', id, error: { code: j.error.code, message: j.error.message, ...(j.error.data !== undefined ? { data: j.error.data } : {}) } };
        if (Object.hasOwn(j, 'result')) return { jsonrpc: '2.0', id, result: j.result };
      }
      throw new Error(`HTTP ${res.status}: not a JSON-RPC answer`);
    } catch (e) {
      return errorAnswer(id, E.notOnThisRole(`${method} must go to the sequencer and forwarding to ${url} failed: ${(e as Error).message}`));
    }
  }
}
