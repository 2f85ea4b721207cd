/**
 * perpnode/client — talk to a perpnode over JSON-RPC from a wallet, a bot or a script.
 *
 * - typed-data builders for every message a key signs (what starknet.js wallets display and
 *   sign with `account.signMessage` / `typedData.getMessageHash`);
 * - `createSigner(privateKey)`: a STARK key that signs those messages locally (the key never
 *   leaves the process);
 * - `PerpClient`: every perp_* call plus the Starknet reads a trader needs, `waitForTransaction`,
 *   and `verifyAccountStorageProof`, which checks an account's on-chain storage against a block
 *   signed by the sequencer key (no trust in the RPC server needed beyond that key).
 *
 * Units: sizes and prices are integers in 1e-8, collateral in 1e-6 USDC, fractions in 1e-9.
 * `parseSize('0.01')`, `parsePrice('65000.5')`, `parseUsdc('100')` convert from decimals.
 * See docs/client.md for a complete example.
 *
 * Importing the SDK sets `globalThis.WebSocket` (from the `ws` package) when the runtime has
 * none: Node 20 has no global WebSocket, and starknet.js' WebSocketChannel hangs without one.
 */
import { WebSocket as NodeWebSocket } from 'ws';

if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') (globalThis as { WebSocket?: unknown }).WebSocket = NodeWebSocket;

export {
  cancelAllTypedData,
  cancelTypedData,
  deployAccountTypedData,
  depositTypedData,
  orderTypedData,
  oracleUpdateTypedData,
  transferTypedData,
  withdrawTypedData,
  typedDataDomain,
  orderHash,
  cancelHash,
  cancelAllHash,
  withdrawHash,
  transferHash,
  deployAccountHash,
  accountAddress,
  TYPED_DATA_TYPES,
  type Order,
  type OrderType,
  type Side,
  type TimeInForce,
  type TypedData,
} from '../../contracts-ts/index.ts';
export { createSigner, type Signer } from './signer.ts';
export { RpcClient, PerpRpcError, type RpcClientOptions } from './rpc.ts';
export { PerpClient, type ContractCall, type OrderInput, type PerpClientOptions } from './perp.ts';
export { verifyAccountStorageProof, ProofVerificationError, type VerifiedAccount, type VerifyOptions } from './proof.ts';
export { parseSize, parsePrice, parseUsdc, formatUnits, SIZE_DECIMALS, PRICE_DECIMALS, USDC_DECIMALS } from './units.ts';
