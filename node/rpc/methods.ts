/** Every JSON-RPC method the public port serves. */
import type { Methods } from './jsonrpc.ts';
import type { CallContext } from './http.ts';
import type { RpcModules } from './context.ts';
import { starknetMethods } from './starknet.ts';

export function rpcMethods(m: RpcModules): Methods<CallContext> {
  return { ...starknetMethods(m) };
}
