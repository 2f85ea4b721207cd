/**
 * PerpClient: the perp_* API with local signing. Reads need no key; each write takes a Signer
 * (see signer.ts), builds the typed-data message, signs its SNIP-12 hash locally and sends the
 * message with the signature. Nonces (cancel-all, withdraw, transfer) are read from the node's
 * pre_confirmed state, so consecutive calls work without waiting for blocks.
 */
import { toHex } from '../crypto/index.ts';
import {
  cancelAllHash,
  cancelHash,
  deployAccountHash,
  orderHash,
  orderMessage,
  transferHash,
  withdrawHash,
  type Order,
  type OrderType,
  type Side,
  type TimeInForce,
} from '../../contracts-ts/index.ts';
import { RpcClient, type RpcClientOptions } from './rpc.ts';
import type { Signer } from './signer.ts';
import { parsePrice, parseSize, parseUsdc } from './units.ts';
import { verifyAccountStorageProof, type VerifyOptions } from './proof.ts';
import { encodeMulticall } from '../../contracts-ts/starknet/entrypoints.ts';
import { selectorOf } from '../../contracts-ts/starknet/abi.ts';
import { invokeTxHash, v3TxJson, type InvokeTx } from '../../contracts-ts/starknet/tx.ts';

/** One call of a Starknet multicall: a contract ("exchange", "vault" or an address), a function name or selector, felt arguments. */
export interface ContractCall {
  contract: 'exchange' | 'vault' | bigint | string;
  entrypoint: string;
  calldata?: (bigint | string | number)[];
}

export interface OrderInput {
  market: string;
  side: Side;
  /** bigint: 1e-8 units; string/number: base-asset decimal ("0.01"). */
  size: bigint | string | number;
  /** bigint: 1e-8 units; string/number: USD decimal. MARKET: the worst acceptable price (default 0 = none for a SELL). */
  price?: bigint | string | number;
  orderType?: OrderType;
  timeInForce?: TimeInForce;
  triggerPrice?: bigint | string | number;
  reduceOnly?: boolean;
  /** Unix seconds (default: now + 7 days). */
  expiry?: bigint | number;
  /** Makes otherwise identical orders distinct (default: random). */
  salt?: bigint;
}

export interface PerpClientOptions extends RpcClientOptions {}

const randomSalt = () => BigInt('0x' + Buffer.from(crypto.getRandomValues(new Uint8Array(31))).toString('hex'));
const sig = (s: [bigint, bigint]) => [toHex(s[0]), toHex(s[1])];

export class PerpClient {
  readonly rpc: RpcClient;
  private cfg: Promise<any> | null = null;

  constructor(url: string, opts: PerpClientOptions = {}) {
    this.rpc = new RpcClient(url, opts);
  }

  call<T = any>(method: string, params?: unknown): Promise<T> {
    return this.rpc.call<T>(method, params);
  }

  /** perp_getConfig (cached): chain id, typed-data domain, class hashes, markets, units. */
  config(): Promise<any> {
    if (!this.cfg) this.cfg = this.call('perp_getConfig').catch((e) => ((this.cfg = null), Promise.reject(e)));
    return this.cfg;
  }

  private async chainId(): Promise<bigint> {
    return BigInt((await this.config()).chain_id);
  }

  // ---- reads -------------------------------------------------------------------------------------

  getAccount(address: bigint | string) {
    return this.call('perp_getAccount', { address: hexOf(address) });
  }
  getOrders(address: bigint | string) {
    return this.call('perp_getOrders', { address: hexOf(address) });
  }
  getOrder(orderHash: bigint | string) {
    return this.call('perp_getOrder', { order_hash: hexOf(orderHash) });
  }
  getOrderBook(market: string, depth?: number) {
    return this.call('perp_getOrderBook', depth === undefined ? { market } : { market, depth });
  }
  getTrades(market: string, limit?: number) {
    return this.call('perp_getTrades', limit === undefined ? { market } : { market, limit });
  }
  getMarkets() {
    return this.call('perp_getMarkets');
  }
  getFunding(market: string) {
    return this.call('perp_getFunding', { market });
  }
  getVault() {
    return this.call('perp_getVault');
  }
  blockNumber(): Promise<number> {
    return this.call('starknet_blockNumber');
  }
  /** The account nonce including transactions already executed into the open block. */
  async nonce(address: bigint | string): Promise<bigint> {
    return BigInt(await this.call('starknet_getNonce', { block_id: 'pre_confirmed', contract_address: hexOf(address) }));
  }
  getTransactionStatus(hash: bigint | string) {
    return this.call('starknet_getTransactionStatus', { transaction_hash: hexOf(hash) });
  }
  getTransactionReceipt(hash: bigint | string) {
    return this.call('starknet_getTransactionReceipt', { transaction_hash: hexOf(hash) });
  }

  /** Polls until the transaction reaches `finality` (default ACCEPTED_ON_L2, i.e. sealed); returns its receipt. */
  async waitForTransaction(hash: bigint | string, opts: { finality?: 'PRE_CONFIRMED' | 'ACCEPTED_ON_L2'; timeoutMs?: number; intervalMs?: number } = {}) {
    const want = opts.finality ?? 'ACCEPTED_ON_L2';
    const end = Date.now() + (opts.timeoutMs ?? 60_000);
    for (;;) {
      try {
        const s = await this.getTransactionStatus(hash);
        if (s.finality_status === want || s.finality_status === 'ACCEPTED_ON_L2' || s.finality_status === 'ACCEPTED_ON_L1') return this.getTransactionReceipt(hash);
      } catch (e) {
        if ((e as { code?: number }).code !== 29) throw e;
      }
      if (Date.now() > end) throw new Error(`transaction ${hexOf(hash)} did not reach ${want} in time`);
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
    }
  }

  // ---- writes (signed locally) ------------------------------------------------------------------------

  /** Deploys the signer's account (its address is derived from its public key). */
  async deployAccount(signer: Signer): Promise<{ transaction_hash: string; address: string; public_key: string }> {
    const h = deployAccountHash(signer.publicKey, await this.chainId());
    return this.call('perp_deployAccount', { public_key: toHex(signer.publicKey), signature: sig(signer.signHash(h)) });
  }

  /** Builds the full Order (defaults filled in) without sending it. */
  buildOrder(signer: Signer, o: OrderInput): Order {
    const orderType = o.orderType ?? 'LIMIT';
    const market = orderType === 'MARKET' || orderType === 'STOP_MARKET' || orderType === 'TAKE_PROFIT_MARKET';
    return {
      account: signer.address,
      market: o.market,
      side: o.side,
      orderType,
      timeInForce: o.timeInForce ?? (market ? 'IOC' : 'GTC'),
      size: parseSize(o.size),
      price: o.price === undefined ? 0n : parsePrice(o.price),
      triggerPrice: o.triggerPrice === undefined ? 0n : parsePrice(o.triggerPrice),
      reduceOnly: o.reduceOnly ?? false,
      expiry: o.expiry === undefined ? BigInt(Math.floor(Date.now() / 1000) + 7 * 86400) : BigInt(o.expiry),
      salt: o.salt ?? randomSalt(),
    };
  }

  /** Signs and submits an order: answers its hash, status and any fills at once. */
  async submitOrder(signer: Signer, input: OrderInput | Order) {
    const order = 'account' in input ? input : this.buildOrder(signer, input);
    const h = orderHash(order, await this.chainId());
    return this.call('perp_submitOrder', { order: orderMessage(order), signature: sig(signer.signHash(h)) });
  }

  async cancelOrder(signer: Signer, orderHashValue: bigint | string) {
    const m = { account: signer.address, orderHash: BigInt(hexOf(orderHashValue)) };
    const h = cancelHash(m, await this.chainId());
    return this.call('perp_cancelOrder', { cancel: { account: toHex(m.account), orderHash: toHex(m.orderHash) }, signature: sig(signer.signHash(h)) });
  }

  /** Cancels every open order of the signer (in one market, or "ALL"). */
  async cancelAll(signer: Signer, market = 'ALL') {
    const m = { account: signer.address, market, nonce: await this.nonce(signer.address) };
    const h = cancelAllHash(m, await this.chainId());
    return this.call('perp_cancelAll', { cancel_all: { account: toHex(m.account), market, nonce: toHex(m.nonce) }, signature: sig(signer.signHash(h)) });
  }

  /** amount: bigint = 1e-6 USDC units, string/number = USDC decimal. recipient: the L1 address to pay. */
  async withdraw(signer: Signer, amount: bigint | string | number, recipient: bigint | string) {
    const m = { account: signer.address, amount: parseUsdc(amount), recipient: BigInt(hexOf(recipient)), nonce: await this.nonce(signer.address) };
    const h = withdrawHash(m, await this.chainId());
    return this.call('perp_withdraw', { withdraw: { account: toHex(m.account), amount: m.amount.toString(), recipient: toHex(m.recipient), nonce: toHex(m.nonce) }, signature: sig(signer.signHash(h)) });
  }

  async transfer(signer: Signer, recipient: bigint | string, amount: bigint | string | number) {
    const m = { account: signer.address, recipient: BigInt(hexOf(recipient)), amount: parseUsdc(amount), nonce: await this.nonce(signer.address) };
    const h = transferHash(m, await this.chainId());
    return this.call('perp_transfer', { transfer: { account: toHex(m.account), recipient: toHex(m.recipient), amount: m.amount.toString(), nonce: toHex(m.nonce) }, signature: sig(signer.signHash(h)) });
  }

  // ---- the Starknet face (the same contracts, as any Starknet wallet sees them) -----------------------

  private async contractAddress(c: ContractCall['contract']): Promise<bigint> {
    if (c === 'exchange') return BigInt((await this.config()).exchange_address);
    if (c === 'vault') return BigInt((await this.config()).vault_address);
    return BigInt(hexOf(c));
  }

  /** starknet_call: a view (e.g. exchange get_collateral) at a block (default pre_confirmed); the result felts. */
  async callContract(call: ContractCall, blockId: unknown = 'pre_confirmed'): Promise<bigint[]> {
    const request = { contract_address: toHex(await this.contractAddress(call.contract)), entry_point_selector: toHex(selectorOf(call.entrypoint)), calldata: (call.calldata ?? []).map((x) => hexOf(BigInt(x))) };
    return (await this.call<string[]>('starknet_call', { request, block_id: blockId })).map((x) => BigInt(x));
  }

  /**
   * starknet_addInvokeTransaction: the signer's account runs `calls` in one transaction (Cairo 1
   * multicall calldata, Starknet v3 hash signed locally, the account's Starknet nonce, zero
   * resource bounds: the chain charges no gas). E.g. [{contract: 'exchange', entrypoint:
   * 'withdraw', calldata: [amount, recipient]}].
   */
  async invoke(signer: Signer, calls: ContractCall[]): Promise<{ transaction_hash: string }> {
    const encoded = await Promise.all(calls.map(async (c) => ({ to: await this.contractAddress(c.contract), selector: selectorOf(c.entrypoint), calldata: (c.calldata ?? []).map((x) => BigInt(x)) })));
    const zero = { maxAmount: 0n, maxPricePerUnit: 0n };
    const tx: InvokeTx = {
      type: 'INVOKE',
      sender: signer.address,
      calldata: encodeMulticall(encoded),
      nonce: await this.nonce(signer.address),
      signature: [],
      resourceBounds: { l1Gas: zero, l1DataGas: zero, l2Gas: zero },
      tip: 0n,
      paymasterData: [],
      accountDeploymentData: [],
      nonceDaMode: 'L1',
      feeDaMode: 'L1',
      query: false,
      cancelAllHashes: [],
    };
    tx.signature = signer.signHash(invokeTxHash(tx, await this.chainId()));
    return this.call('starknet_addInvokeTransaction', { invoke_transaction: v3TxJson(tx) });
  }

  /** Devnet only: the node credits collateral (amount: bigint = 1e-6 units, string/number = USDC). */
  devnetMint(address: bigint | string, amount: bigint | string | number) {
    return this.call('devnet_mint', { address: hexOf(address), amount: parseUsdc(amount).toString() });
  }

  /** See proof.ts: the account's storage, proven against a block the sequencer signed. */
  verifyAccountStorageProof(address: bigint | string, opts: VerifyOptions = {}) {
    return verifyAccountStorageProof(this.rpc, BigInt(hexOf(address)), opts);
  }
}

function hexOf(x: bigint | string): string {
  if (typeof x === 'bigint') return toHex(x);
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(x)) throw new Error(`not a number: ${x}`);
  return toHex(BigInt(x));
}
