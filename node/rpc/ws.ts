/**
 * JSON-RPC over WebSocket, on the RPC port at /ws. Every HTTP method works over it too; on top:
 *
 *   starknet_subscribeNewHeads {block_id?}            -> starknet_subscriptionNewHeads
 *   starknet_subscribeEvents {from_address?, keys?, block_id?, finality_status?}
 *                                                     -> starknet_subscriptionEvents
 *   starknet_subscribeTransactionStatus {transaction_hash}
 *                                                     -> starknet_subscriptionTransactionStatus
 *   starknet_subscribeNewTransactions {finality_status?, sender_address?, tags?}
 *                                                     -> starknet_subscriptionNewTransaction
 *   starknet_subscribeNewTransactionReceipts {finality_status?, sender_address?}
 *                                                     -> starknet_subscriptionNewTransactionReceipts
 *   starknet_unsubscribe {subscription_id}
 *   perp_subscribeOrderBook {market, depth?}          -> perp_subscriptionOrderBook (snapshots)
 *   perp_subscribeTrades {market}                     -> perp_subscriptionTrades (one per trade)
 *   perp_subscribeAccount {address}                   -> perp_subscriptionAccount (snapshots)
 *
 * A rollback is announced as starknet_subscriptionReorg to head, event, new-transaction and
 * new-receipt subscribers, and to a transaction-status subscriber whose transaction it orphaned.
 * Transactions execute on arrival, so no transaction is ever RECEIVED or CANDIDATE here: those
 * finality filters are accepted and never fire.
 * Notifications are JSON-RPC notifications: {jsonrpc, method, params: {subscription_id, result}}.
 *
 * Limits: connections in total and per IP, subscriptions per connection, incoming message size
 * (the connection is closed with 1009 beyond it), messages per second per connection, and
 * slow clients: a connection whose unsent data exceeds `maxBufferedBytes` is closed with 1013
 * rather than letting the node buffer without bound.
 *
 * The chain is followed through its events (chain/events.ts): a sealed or imported block is
 * announced as it becomes the head, a rollback as starknet_subscriptionReorg over the orphaned
 * range, so the same code serves a sequencer and a follower; a sequencer also pushes
 * pre-confirmed transactions as they execute.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import { getAccountView, markPrice } from '../../contracts-ts/index.ts';
import type { Block, Receipt } from '../chain/block.ts';
import type { HeadRef } from '../chain/events.ts';
import type { OrderRecord } from '../sequencer/orderbook/index.ts';
import { Dispatcher, type Methods } from './jsonrpc.ts';
import type { CallContext } from './http.ts';
import type { RpcModules } from './context.ts';
import { E, RpcError } from './errors.ts';
import { blockId, felt, int, str } from './params.ts';
import { TokenBuckets } from './ratelimit.ts';
import { findTx } from './starknet.ts';
import { accountView, dec, eventView, headerView, hex, perpTxOf, receiptView, txView } from './views.ts';
import { txSender } from '../../contracts-ts/index.ts';
import type { ChainTx } from '../chain/block.ts';
import { liveState, tradesOf, type PerpApi } from './perp.ts';
import { ERROR_CODES, rpcErrorCode } from '../../contracts-ts/index.ts';

export interface WsOptions {
  paths: string[];
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxSubscriptionsPerConnection: number;
  /** Largest incoming message; larger closes the connection (1009). */
  maxPayloadBytes: number;
  /** Unsent bytes a client may accumulate before it is dropped as too slow (1013). */
  maxBufferedBytes: number;
  messagesPerSec: number;
  messageBurst: number;
  maxBatch: number;
  /** Coalescing delay for order book and account snapshots. */
  snapshotDelayMs: number;
  /** starknet_subscribe* block_id may go back at most this many blocks. */
  maxBlocksBack: number;
}

export const defaultWsOptions: WsOptions = {
  paths: ['/ws', '/rpc/v0_10/ws'],
  maxConnections: 1000,
  maxConnectionsPerIp: 64,
  maxSubscriptionsPerConnection: 64,
  maxPayloadBytes: 1 << 20,
  maxBufferedBytes: 4 << 20,
  messagesPerSec: 200,
  messageBurst: 400,
  maxBatch: 100,
  snapshotDelayMs: 20,
  maxBlocksBack: 1024,
};

export interface WsCallContext extends CallContext {
  conn?: Conn;
}

type Sub =
  | ({ kind: 'heads' } & Backlog)
  | ({ kind: 'events'; addresses: Set<bigint> | null; keys: (Set<bigint> | null)[]; preConfirmed: boolean } & Backlog)
  | { kind: 'txStatus'; hash: bigint; last?: string; block?: bigint }
  | { kind: 'newTxs'; finality: Set<string>; senders: Set<bigint> | null; proofFacts: boolean }
  | { kind: 'newReceipts'; finality: Set<string>; senders: Set<bigint> | null }
  | { kind: 'book'; market: string; depth: number; last?: string; timer?: NodeJS.Timeout }
  | { kind: 'trades'; market: string }
  | { kind: 'account'; address: bigint; last?: string; timer?: NodeJS.Timeout };

/**
 * A subscription with a block_id sends the blocks up to the head it saw first; chain events that
 * arrive meanwhile wait in `queue` (those up to `backlogTo` are already in the backlog), so the
 * client sees every block once and in order.
 */
interface Backlog {
  queue?: (() => void)[];
  backlogTo?: bigint;
}

/** Runs `send` now, or after the subscription's backlog when one is being sent. */
function inOrder(s: Backlog, blockNumber: bigint | null, send: () => void): void {
  if (!s.queue) return send();
  s.queue.push(() => (blockNumber === null || s.backlogTo === undefined || blockNumber > s.backlogTo) && send());
}

/** Sends a backlog of blocks `from..to`, then what waited for it. */
function sendBacklog(s: Backlog, from: bigint, to: bigint, sendOne: (n: bigint) => Promise<void>): void {
  s.backlogTo = to;
  setImmediate(async () => {
    try {
      for (let n = from; n <= to; n++) await sendOne(n);
    } finally {
      const q = s.queue ?? [];
      delete s.queue;
      for (const f of q) f();
    }
  });
}

const NOTIFY: Record<Sub['kind'], string> = {
  heads: 'starknet_subscriptionNewHeads',
  events: 'starknet_subscriptionEvents',
  txStatus: 'starknet_subscriptionTransactionStatus',
  newTxs: 'starknet_subscriptionNewTransaction',
  newReceipts: 'starknet_subscriptionNewTransactionReceipts',
  book: 'perp_subscriptionOrderBook',
  trades: 'perp_subscriptionTrades',
  account: 'perp_subscriptionAccount',
};

export class Conn {
  readonly subs = new Map<string, Sub>();
  closed = false;
  constructor(
    readonly ws: WebSocket,
    readonly ip: string,
    private readonly hub: WsHub,
  ) {}

  /** Sends a message, or drops the client if it is not reading fast enough. */
  send(msg: unknown): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount > this.hub.opts.maxBufferedBytes) {
      this.hub.dropSlow(this);
      return;
    }
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  notify(id: string, sub: Sub, result: unknown): void {
    this.send({ jsonrpc: '2.0', method: NOTIFY[sub.kind], params: { subscription_id: id, result } });
  }
}

function eventMatches(sub: Extract<Sub, { kind: 'events' }>, e: { fromAddress: bigint; keys: bigint[] }): boolean {
  if (sub.addresses && !sub.addresses.has(e.fromAddress)) return false;
  for (let i = 0; i < sub.keys.length; i++) {
    const allowed = sub.keys[i];
    if (allowed && (e.keys[i] === undefined || !allowed.has(e.keys[i]!))) return false;
  }
  return true;
}

/** Addresses a receipt concerns: senders and every event key that is an account. */
function touched(r: Receipt): Set<bigint> {
  const out = new Set<bigint>();
  for (const e of r.events) for (let i = 1; i < e.keys.length; i++) out.add(e.keys[i]!);
  return out;
}

/** At most this many addresses in a sender_address filter (TOO_MANY_ADDRESSES_IN_FILTER beyond). */
export const MAX_SENDER_ADDRESSES = 64;

function finalityFilter(v: unknown, allowed: readonly string[]): Set<string> {
  if (v === undefined) return new Set(['ACCEPTED_ON_L2']);
  if (!Array.isArray(v) || v.length > allowed.length || v.some((x) => typeof x !== 'string' || !allowed.includes(x))) throw E.invalidParams(`finality_status must be a list of ${allowed.join(', ')}`);
  return new Set(v as string[]);
}

function senderFilter(v: unknown): Set<bigint> | null {
  if (v === undefined) return null;
  if (!Array.isArray(v)) throw E.invalidParams('sender_address must be a list of addresses');
  if (v.length > MAX_SENDER_ADDRESSES) throw E.tooManyAddressesInFilter();
  return v.length ? new Set(v.map((a, i) => felt(a, `sender_address[${i}]`))) : null;
}

export class WsHub {
  readonly opts: WsOptions;
  private readonly wss: WebSocketServer;
  private readonly conns = new Set<Conn>();
  private readonly perIp = new Map<string, number>();
  private readonly dispatcher: Dispatcher<WsCallContext>;
  private nextId = 1;
  private readonly offs: (() => void)[] = [];

  constructor(
    readonly m: RpcModules,
    methods: Methods<CallContext>,
    readonly perp: PerpApi,
    opts: Partial<WsOptions> = {},
    onInternalError?: (method: string, e: unknown) => void,
  ) {
    this.opts = { ...defaultWsOptions, ...opts };
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.opts.maxPayloadBytes, perMessageDeflate: false });
    this.dispatcher = new Dispatcher<WsCallContext>({ ...(methods as Methods<WsCallContext>), ...this.subscriptionMethods() }, { maxBatch: this.opts.maxBatch, onInternalError });
    this.offs.push(
      m.chain.events.on((e) => {
        if (this.conns.size === 0) return;
        if (e.type === 'rolledBack') this.onRolledBack(e.from, e.firstOrphaned);
        else this.onSealed(e.block);
      }),
    );
    const p = m.producer;
    if (p) {
      const onTx = (ev: { hash: bigint; receipt: Receipt; blockNumber: bigint }) => this.onPreConfirmed(ev.receipt, ev.blockNumber);
      // Orders the sequencer cancelled itself (after a rollback): an explicit notice to the
      // owner's account subscribers, then fresh book and account snapshots.
      const onOrder = (r: OrderRecord) => {
        const a = r.signed.order.account;
        this.forSubs((c, id, s) => s.kind === 'account' && s.address === a && c.notify(id, s, { event: 'order_cancelled', order_hash: '0x' + r.signed.hash.toString(16), status: r.status, reason: r.reason ?? null }));
        perp.events.accountChanged(a);
        perp.events.bookChanged(r.signed.order.market);
      };
      p.on('tx', onTx);
      p.on('order', onOrder);
      this.offs.push(() => p.off('tx', onTx), () => p.off('order', onOrder));
    }
    const onBook = (market: string) => this.forSubs((c, id, s) => s.kind === 'book' && s.market === market && this.scheduleSnapshot(c, id, s));
    const onAccount = (a: bigint) => this.forSubs((c, id, s) => s.kind === 'account' && s.address === a && this.scheduleSnapshot(c, id, s));
    perp.events.on('book', onBook);
    perp.events.on('account', onAccount);
    this.offs.push(() => perp.events.off('book', onBook), () => perp.events.off('account', onAccount));
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** For the HTTP server's 'upgrade' event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const refuse = (status: string, why: string) => {
      socket.write(`HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(why)}\r\n\r\n${why}`);
      socket.destroy();
    };
    if (!this.opts.paths.includes(path)) return refuse('404 Not Found', `WebSocket JSON-RPC is served at ${this.opts.paths[0]}`);
    const ip = req.socket.remoteAddress ?? '?';
    if (this.conns.size >= this.opts.maxConnections) return refuse('503 Service Unavailable', 'too many WebSocket connections');
    if ((this.perIp.get(ip) ?? 0) >= this.opts.maxConnectionsPerIp) return refuse('429 Too Many Requests', 'too many WebSocket connections from this address');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, ip));
  }

  private accept(ws: WebSocket, ip: string): void {
    const conn = new Conn(ws, ip, this);
    this.conns.add(conn);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    const limiter = new TokenBuckets(this.opts.messagesPerSec, this.opts.messageBurst);
    let queue: Promise<void> = Promise.resolve();
    ws.on('message', (data, isBinary) => {
      if (conn.closed) return;
      if (!limiter.take('m')) {
        conn.send({ jsonrpc: '2.0', id: null, error: { code: E.rateLimited().code, message: E.rateLimited().message } });
        return;
      }
      const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
      // Answer in order: each message waits for the previous one.
      queue = queue.then(async () => {
        try {
          const out = await this.dispatcher.handleText(text, { ip, conn });
          if (out !== null) conn.send(out);
        } catch {
          conn.send({ jsonrpc: '2.0', id: null, error: { code: -32603, message: 'Internal error' } });
        }
      });
    });
    ws.on('close', () => this.release(conn));
    ws.on('error', () => this.release(conn));
  }

  private release(conn: Conn): void {
    if (conn.closed) return;
    conn.closed = true;
    for (const s of conn.subs.values()) if ('timer' in s && s.timer) clearTimeout(s.timer);
    conn.subs.clear();
    this.conns.delete(conn);
    const n = (this.perIp.get(conn.ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(conn.ip);
    else this.perIp.set(conn.ip, n);
  }

  dropSlow(conn: Conn): void {
    if (conn.closed) return;
    try {
      conn.ws.close(1013, 'slow consumer: too much unsent data');
    } catch {
      /* already closing */
    }
    // A client that does not read will not complete the closing handshake either.
    setTimeout(() => conn.ws.terminate(), 1000).unref();
    this.release(conn);
  }

  async close(): Promise<void> {
    for (const off of this.offs) off();
    for (const c of [...this.conns]) {
      c.ws.terminate();
      this.release(c);
    }
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  private forSubs(f: (c: Conn, id: string, s: Sub) => unknown): void {
    for (const c of this.conns) for (const [id, s] of c.subs) f(c, id, s);
  }

  // ---- following the chain --------------------------------------------------------------------------

  /**
   * The head went back: a reorg notice over the orphaned range to head, event and
   * new-transaction subscribers, and to each status subscriber whose transaction was in it
   * (seen in an orphaned block, or in the open block above them).
   */
  private onRolledBack(from: HeadRef, firstOrphaned: HeadRef): void {
    const reorg = { starting_block_hash: hex(firstOrphaned.hash), starting_block_number: Number(firstOrphaned.number), ending_block_hash: hex(from.hash), ending_block_number: Number(from.number) };
    const reorgNote = (c: Conn, id: string) => c.send({ jsonrpc: '2.0', method: 'starknet_subscriptionReorg', params: { subscription_id: id, result: reorg } });
    this.forSubs((c, id, s) => {
      if (s.kind === 'heads' || s.kind === 'events') inOrder(s, null, () => reorgNote(c, id));
      else if (s.kind === 'newTxs' || s.kind === 'newReceipts') reorgNote(c, id);
      else if (s.kind === 'txStatus' && s.block !== undefined && s.block >= firstOrphaned.number) {
        s.last = undefined;
        s.block = undefined;
        reorgNote(c, id);
      }
    });
  }

  private senderOf(t: ChainTx): bigint {
    const tx = perpTxOf(t);
    return tx ? txSender(tx, this.m.genesis.sequencer.address) : this.m.genesis.sequencer.address;
  }

  /** New-transaction and new-receipt notifications for transactions at one finality. */
  private sendNewTxs(c: Conn, id: string, s: Extract<Sub, { kind: 'newTxs' | 'newReceipts' }>, txs: readonly ChainTx[], receipts: readonly Receipt[], blockNumber: bigint, blockHash: bigint | undefined, finality: 'PRE_CONFIRMED' | 'ACCEPTED_ON_L2'): void {
    if (!s.finality.has(finality)) return;
    txs.forEach((t, i) => {
      if (s.senders && !s.senders.has(this.senderOf(t))) return;
      if (s.kind === 'newTxs') {
        const v: Record<string, unknown> = txView(t, this.m.genesis);
        if (s.proofFacts) v.proof_facts = [];
        c.notify(id, s, { ...v, finality_status: finality });
      } else {
        const r = receipts[i];
        if (r) c.notify(id, s, { ...receiptView(r, finality, t), ...(blockHash !== undefined ? { block_hash: hex(blockHash) } : {}), block_number: Number(blockNumber) });
      }
    });
  }

  private onSealed(b: Block): void {
    const hv = headerView(b.header, b.hash);
    const bn = b.header.block_number;
    const txIn = new Set(b.transactions.map((t) => t.hash));
    this.forSubs((c, id, s) => {
      switch (s.kind) {
        case 'newTxs':
        case 'newReceipts':
          this.sendNewTxs(c, id, s, b.transactions, b.receipts, bn, b.hash, 'ACCEPTED_ON_L2');
          break;
        case 'heads':
          inOrder(s, bn, () => c.notify(id, s, hv));
          break;
        case 'events':
          inOrder(s, bn, () => this.sendEvents(c, id, s, b.receipts, bn, b.hash, 'ACCEPTED_ON_L2'));
          break;
        case 'txStatus':
          if (txIn.has(s.hash)) this.sendStatus(c, id, s, 'ACCEPTED_ON_L2', bn);
          break;
        case 'trades':
          if (!this.m.producer) for (const r of b.receipts) for (const t of tradesOf(this.m, r, bn, 'ACCEPTED_ON_L2')) if (t.market === s.market) c.notify(id, s, t);
          break;
        case 'book':
          this.scheduleSnapshot(c, id, s);
          break;
        case 'account':
          // Marks and funding move every account's numbers; snapshots are sent only on change.
          this.scheduleSnapshot(c, id, s);
          break;
      }
    });
  }

  /** A transaction just executed into the open block (sequencer only). */
  private onPreConfirmed(r: Receipt, blockNumber: bigint): void {
    const accounts = touched(r);
    const open = this.m.producer?.openBlock;
    const t = open && open.number === blockNumber ? open.txs.find((x) => x.hash === r.transaction_hash) : undefined;
    this.forSubs((c, id, s) => {
      switch (s.kind) {
        case 'newTxs':
        case 'newReceipts':
          if (t) this.sendNewTxs(c, id, s, [t], [r], blockNumber, undefined, 'PRE_CONFIRMED');
          break;
        case 'events':
          if (s.preConfirmed) inOrder(s, blockNumber, () => this.sendEvents(c, id, s, [r], blockNumber, undefined, 'PRE_CONFIRMED'));
          break;
        case 'txStatus':
          if (s.hash === r.transaction_hash) this.sendStatus(c, id, s, 'PRE_CONFIRMED', blockNumber);
          break;
        case 'trades':
          for (const t of tradesOf(this.m, r, blockNumber, 'PRE_CONFIRMED')) if (t.market === s.market) c.notify(id, s, t);
          break;
        case 'book':
          this.scheduleSnapshot(c, id, s);
          break;
        case 'account':
          if (accounts.has(s.address)) this.scheduleSnapshot(c, id, s);
          break;
      }
    });
  }

  private sendEvents(c: Conn, id: string, s: Extract<Sub, { kind: 'events' }>, receipts: readonly Receipt[], blockNumber: bigint, blockHash: bigint | undefined, finality: string): void {
    receipts.forEach((r, ti) =>
      r.events.forEach((e, ei) => {
        if (!eventMatches(s, e)) return;
        c.notify(id, s, {
          ...eventView(e),
          ...(blockHash !== undefined ? { block_hash: hex(blockHash) } : {}),
          block_number: Number(blockNumber),
          transaction_hash: hex(r.transaction_hash),
          transaction_index: ti,
          event_index: ei,
          finality_status: finality,
        });
      }),
    );
  }

  private sendStatus(c: Conn, id: string, s: Extract<Sub, { kind: 'txStatus' }>, finality: string, blockNumber: bigint): void {
    if (s.last === finality || (s.last === 'ACCEPTED_ON_L2' && finality === 'PRE_CONFIRMED')) return;
    s.last = finality;
    s.block = blockNumber;
    c.notify(id, s, { transaction_hash: hex(s.hash), status: { finality_status: finality, execution_status: 'SUCCEEDED' } });
  }

  private snapshot(s: Extract<Sub, { kind: 'book' | 'account' }>): unknown {
    if (s.kind === 'book') {
      const ex = this.m.exchange!;
      const d = ex.matcher.depth(s.market, s.depth);
      return {
        market: s.market,
        bids: d.bids.map(([p, z]) => [dec(p), dec(z)]),
        asks: d.asks.map(([p, z]) => [dec(p), dec(z)]),
        mark_price: dec(markPrice(liveState(this.m), this.m.genesis.exchange, s.market)),
      };
    }
    return accountView(getAccountView(liveState(this.m), this.m.genesis.exchange, s.address));
  }

  /** Sends a fresh snapshot soon (coalescing bursts), and only if it differs from the last one. */
  private scheduleSnapshot(c: Conn, id: string, s: Extract<Sub, { kind: 'book' | 'account' }>): void {
    if (s.timer) return;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      if (c.closed || !c.subs.has(id)) return;
      this.sendSnapshot(c, id, s);
    }, this.opts.snapshotDelayMs);
  }

  private sendSnapshot(c: Conn, id: string, s: Extract<Sub, { kind: 'book' | 'account' }>): void {
    let snap: unknown;
    try {
      snap = this.snapshot(s);
    } catch {
      return;
    }
    const text = JSON.stringify(snap);
    if (text === s.last) return;
    s.last = text;
    c.notify(id, s, snap);
  }

  // ---- the subscription methods ----------------------------------------------------------------------------

  private add(ctx: WsCallContext, sub: Sub): { id: string; conn: Conn } {
    const conn = ctx.conn;
    if (!conn) throw E.methodNotFound('subscriptions need a WebSocket connection (/ws)');
    if (conn.subs.size >= this.opts.maxSubscriptionsPerConnection) throw E.tooLarge(`at most ${this.opts.maxSubscriptionsPerConnection} subscriptions per connection`);
    const id = String(this.nextId++);
    conn.subs.set(id, sub);
    return { id, conn };
  }

  /** Blocks from a subscription's block_id up to the head (at most maxBlocksBack back). */
  private async backlog(v: unknown): Promise<bigint | null> {
    if (v === undefined) return null;
    const id = blockId(v, 'block_id');
    if ('tag' in id) {
      if (id.tag !== 'latest') throw E.invalidParams('block_id must be a block number, a block hash or "latest"');
      return null;
    }
    const head = await this.m.chain.head();
    if (!head) throw E.noBlocks();
    const n = 'number' in id ? id.number : await this.m.chain.numberOf(id.hash);
    if (n === undefined || n > head.number) throw E.blockNotFound();
    if (head.number - n > BigInt(this.opts.maxBlocksBack)) throw E.tooManyBlocksBack();
    return n;
  }

  private subscriptionMethods(): Methods<WsCallContext> {
    const cfg = this.m.genesis.exchange;
    const market = (v: unknown) => {
      const s = str(v, 'market', 31);
      if (!cfg.marketBySymbol.has(s)) throw new RpcError(rpcErrorCode('UNKNOWN_MARKET'), ERROR_CODES.UNKNOWN_MARKET.message, { reason: 'UNKNOWN_MARKET', market: s });
      return s;
    };
    return {
      starknet_subscribeNewHeads: {
        params: ['block_id?'],
        handler: async (p, ctx) => {
          const from = await this.backlog(p.block_id);
          const sub: Sub = { kind: 'heads', ...(from !== null ? { queue: [] } : {}) };
          const { id, conn } = this.add(ctx, sub);
          if (from !== null) {
            const head = await this.m.chain.head();
            sendBacklog(sub, from, head!.number, async (n) => {
              const h = await this.m.chain.header(n);
              if (h && conn.subs.get(id) === sub) conn.notify(id, sub, headerView(h.header, h.hash));
            });
          }
          return id;
        },
      },
      starknet_subscribeEvents: {
        params: ['from_address?', 'keys?', 'block_id?', 'finality_status?'],
        handler: async (p, ctx) => {
          let addresses: Set<bigint> | null = null;
          if (p.from_address !== undefined) {
            const list = Array.isArray(p.from_address) ? p.from_address : [p.from_address];
            if (list.length > 64) throw E.tooManyAddressesInFilter();
            addresses = new Set(list.map((a, i) => felt(a, `from_address[${i}]`)));
          }
          const keys: (Set<bigint> | null)[] = [];
          if (p.keys !== undefined) {
            if (!Array.isArray(p.keys)) throw E.invalidParams('keys must be a list of lists of felts');
            if (p.keys.length > 16 || p.keys.reduce((n: number, k: unknown) => n + (Array.isArray(k) ? k.length : 0), 0) > 256) throw E.tooManyKeysInFilter();
            p.keys.forEach((pos: unknown, i: number) => {
              if (!Array.isArray(pos)) throw E.invalidParams(`keys[${i}] must be a list of felts`);
              keys.push(pos.length ? new Set(pos.map((k, j) => felt(k, `keys[${i}][${j}]`))) : null);
            });
          }
          const fin = p.finality_status ?? 'ACCEPTED_ON_L2';
          if (fin !== 'ACCEPTED_ON_L2' && fin !== 'PRE_CONFIRMED') throw E.invalidParams('finality_status must be ACCEPTED_ON_L2 or PRE_CONFIRMED');
          const from = await this.backlog(p.block_id);
          const sub: Sub = { kind: 'events', addresses, keys, preConfirmed: fin === 'PRE_CONFIRMED', ...(from !== null ? { queue: [] } : {}) };
          const { id, conn } = this.add(ctx, sub);
          if (from !== null) {
            const head = await this.m.chain.head();
            sendBacklog(sub, from, head!.number, async (n) => {
              const b = await this.m.chain.block(n);
              if (b && conn.subs.get(id) === sub) this.sendEvents(conn, id, sub, b.receipts, n, b.hash, 'ACCEPTED_ON_L2');
            });
          }
          return id;
        },
      },
      starknet_subscribeTransactionStatus: {
        params: ['transaction_hash'],
        handler: async (p, ctx) => {
          const hash = felt(p.transaction_hash, 'transaction_hash');
          const sub: Extract<Sub, { kind: 'txStatus' }> = { kind: 'txStatus', hash };
          const { id, conn } = this.add(ctx, sub);
          const place = await findTx(this.m, hash);
          if (place) setImmediate(() => conn.subs.get(id) === sub && this.sendStatus(conn, id, sub, place.where === 'open' ? 'PRE_CONFIRMED' : 'ACCEPTED_ON_L2', place.blockNumber));
          return id;
        },
      },
      starknet_subscribeNewTransactions: {
        params: ['finality_status?', 'sender_address?', 'tags?'],
        handler: (p, ctx) => {
          const finality = finalityFilter(p.finality_status, ['RECEIVED', 'CANDIDATE', 'PRE_CONFIRMED', 'ACCEPTED_ON_L2']);
          const senders = senderFilter(p.sender_address);
          if (p.tags !== undefined && (!Array.isArray(p.tags) || p.tags.length > 1 || p.tags.some((x) => x !== 'INCLUDE_PROOF_FACTS'))) throw E.invalidParams('tags must be a list of INCLUDE_PROOF_FACTS');
          return this.add(ctx, { kind: 'newTxs', finality, senders, proofFacts: Array.isArray(p.tags) && p.tags.length > 0 }).id;
        },
      },
      starknet_subscribeNewTransactionReceipts: {
        params: ['finality_status?', 'sender_address?'],
        handler: (p, ctx) => {
          const finality = finalityFilter(p.finality_status, ['PRE_CONFIRMED', 'ACCEPTED_ON_L2']);
          return this.add(ctx, { kind: 'newReceipts', finality, senders: senderFilter(p.sender_address) }).id;
        },
      },
      starknet_unsubscribe: {
        params: ['subscription_id'],
        handler: (p, ctx) => {
          const conn = ctx.conn;
          if (!conn) throw E.methodNotFound('subscriptions need a WebSocket connection (/ws)');
          const id = typeof p.subscription_id === 'number' ? String(p.subscription_id) : p.subscription_id;
          if (typeof id !== 'string') throw E.invalidSubscriptionId();
          const s = conn.subs.get(id);
          if (!s) throw E.invalidSubscriptionId();
          if ('timer' in s && s.timer) clearTimeout(s.timer);
          conn.subs.delete(id);
          return true;
        },
      },
      perp_subscribeOrderBook: {
        params: ['market', 'depth?'],
        handler: (p, ctx) => {
          if (!this.m.exchange) throw E.notOnThisRole('the order book lives on the sequencer: subscribe there');
          const sub: Extract<Sub, { kind: 'book' }> = { kind: 'book', market: market(p.market), depth: p.depth === undefined ? 20 : int(p.depth, 'depth', 1, 500) };
          const { id, conn } = this.add(ctx, sub);
          setImmediate(() => conn.subs.get(id) === sub && this.sendSnapshot(conn, id, sub));
          return id;
        },
      },
      perp_subscribeTrades: {
        params: ['market'],
        handler: (p, ctx) => {
          const { id } = this.add(ctx, { kind: 'trades', market: market(p.market) });
          return id;
        },
      },
      perp_subscribeAccount: {
        params: ['address'],
        handler: (p, ctx) => {
          const address = felt(p.address, 'address');
          if (address >= 1n << 251n) throw E.invalidParams('address must be below 2^251');
          const sub: Extract<Sub, { kind: 'account' }> = { kind: 'account', address };
          const { id, conn } = this.add(ctx, sub);
          setImmediate(() => conn.subs.get(id) === sub && this.sendSnapshot(conn, id, sub));
          return id;
        },
      },
    };
  }
}
