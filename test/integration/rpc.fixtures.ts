/**
 * An in-process devnet sequencer for the RPC integration tests: temp data directory, fast
 * blocks, no oracle feeder (so nothing but the test moves the state), no admin port, no p2p.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSequencer, type RunningNode } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import type { RpcOptions } from '../../node/rpc/methods.ts';
import { createSigner, PerpClient, type Signer } from '../../node/client/index.ts';
import { ROOT } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

export interface TestNode {
  node: RunningNode;
  url: string;
  wsUrl: string;
  client: PerpClient;
  /** Devnet accounts 0..n with their keys (deployed and funded at genesis). */
  dev: Signer[];
  call(method: string, params?: unknown): Promise<any>;
  /** The raw JSON-RPC answer (result or error). */
  raw(body: unknown): Promise<{ status: number; json: any; text: string }>;
  stop(): Promise<void>;
}

export async function startTestNode(opts: { blockTimeMs?: number; heartbeatMs?: number; rpc?: RpcOptions } = {}): Promise<TestNode> {
  const tmp = tempDir('perpnode-rpc-');
  const g = JSON.parse(readFileSync(join(ROOT, 'genesis/devnet.json'), 'utf8'));
  g.block_time_ms = opts.blockTimeMs ?? 50;
  g.heartbeat_ms = opts.heartbeatMs ?? 200;
  const genesisPath = join(tmp.path, 'genesis.json');
  writeFileSync(genesisPath, JSON.stringify(g));
  const node = await startSequencer({
    dataDir: join(tmp.path, 'data'),
    genesisPath,
    rpcHost: '127.0.0.1',
    rpcPort: 0,
    adminPort: null,
    log: createLogger('silent'),
    feeder: 'off',
    rpc: opts.rpc,
  });
  const url = node.rpcUrl;
  const client = new PerpClient(url);
  const dev = node.chain.genesis.exchange.devAccounts.filter((a) => a.privateKey !== undefined).map((a) => createSigner(a.privateKey!));
  return {
    node,
    url,
    wsUrl: url.replace(/^http/, 'ws') + '/ws',
    client,
    dev,
    call: (method, params) => client.call(method, params),
    async raw(body) {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
      const text = await res.text();
      let json: any = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        /* not JSON */
      }
      return { status: res.status, json, text };
    },
    async stop() {
      await node.stop();
      tmp.cleanup();
    },
  };
}

/** Waits until `f` returns a truthy value (polling). */
export async function until<T>(f: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, stepMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** The methods the issue lists (plus perp_sequencerSignature), served over HTTP. */
export const HTTP_METHODS = [
  'starknet_specVersion',
  'starknet_chainId',
  'starknet_blockNumber',
  'starknet_blockHashAndNumber',
  'starknet_syncing',
  'starknet_getBlockWithTxHashes',
  'starknet_getBlockWithTxs',
  'starknet_getBlockWithReceipts',
  'starknet_getBlockTransactionCount',
  'starknet_getStateUpdate',
  'starknet_getStorageAt',
  'starknet_getNonce',
  'starknet_getClassHashAt',
  'starknet_getTransactionByHash',
  'starknet_getTransactionByBlockIdAndIndex',
  'starknet_getTransactionReceipt',
  'starknet_getTransactionStatus',
  'starknet_getEvents',
  'starknet_getStorageProof',
  'starknet_getClass',
  'starknet_getClassAt',
  'starknet_getCompiledCasm',
  'starknet_call',
  'starknet_estimateFee',
  'starknet_estimateMessageFee',
  'starknet_getMessagesStatus',
  'starknet_simulateTransactions',
  'starknet_traceTransaction',
  'starknet_traceBlockTransactions',
  'starknet_addInvokeTransaction',
  'starknet_addDeployAccountTransaction',
  'starknet_addDeclareTransaction',
  'perp_sequencerSignature',
  'perp_getOrphanedBlock',
  'perp_getOrphanedTransaction',
  'perp_getConfig',
  'perp_deployAccount',
  'perp_submitOrder',
  'perp_cancelOrder',
  'perp_cancelAll',
  'perp_withdraw',
  'perp_transfer',
  'perp_getAccount',
  'perp_getOrders',
  'perp_getOrder',
  'perp_getOrderBook',
  'perp_getTrades',
  'perp_getMarkets',
  'perp_getFunding',
  'perp_getVault',
  'perp_submitOracleUpdate',
  'devnet_mint',
];
