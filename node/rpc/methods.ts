/**
 * Every JSON-RPC method the public port serves (HTTP at / and /rpc/v0_10, WebSocket at /ws),
 * and the pieces the node wires around them. docs/rpc.md lists them with their parameters.
 */
import type { Methods } from './jsonrpc.ts';
import type { CallContext } from './http.ts';
import type { RpcModules } from './context.ts';
import { starknetMethods } from './starknet.ts';
import { starknetExecMethods } from './starknet-exec.ts';
import { createPerpApi, type PerpApi, type PerpOptions } from './perp.ts';
import { WsHub, type WsOptions } from './ws.ts';

export interface RpcOptions {
  perp?: Partial<PerpOptions>;
  ws?: Partial<WsOptions>;
}

export interface Rpc {
  methods: Methods<CallContext>;
  perp: PerpApi;
  /** The WebSocket side (attach `handleUpgrade` to the HTTP server's 'upgrade' event). */
  createWs(onInternalError?: (method: string, e: unknown) => void): WsHub;
}

export function createRpc(m: RpcModules, opts: RpcOptions = {}): Rpc {
  const perp = createPerpApi(m, opts.perp);
  const methods = { ...starknetMethods(m), ...starknetExecMethods(m), ...perp.methods };
  return { methods, perp, createWs: (onInternalError) => new WsHub(m, methods, perp, opts.ws, onInternalError) };
}

/** The HTTP method table alone (followers and tests). */
export function rpcMethods(m: RpcModules, opts: RpcOptions = {}): Methods<CallContext> {
  return createRpc(m, opts).methods;
}

/** Methods that only exist over WebSocket. */
export const WS_ONLY_METHODS = [
  'starknet_subscribeNewHeads',
  'starknet_subscribeEvents',
  'starknet_subscribeTransactionStatus',
  'starknet_subscribeNewTransactions',
  'starknet_subscribeNewTransactionReceipts',
  'starknet_unsubscribe',
  'perp_subscribeOrderBook',
  'perp_subscribeTrades',
  'perp_subscribeAccount',
] as const;
