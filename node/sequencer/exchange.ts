/**
 * The sequencer's exchange service: the order book wired to the chain.
 *
 * Orders never go on-chain by themselves; the matcher proposes fills and each fill is settled
 * at once as a TRADE transaction in the open block (contracts-ts re-checks both signed orders).
 * A fill the contracts refuse tells the matcher which side failed (TxRevert.party), so the book
 * never holds an order the chain would not honour. Cancels are on-chain transactions and final
 * at once. Order records persist in table O in the same batch as each block, so the book and
 * the chain can never disagree after a crash.
 */
import { OverlayState, TxRevert, type ExecContext, type StateAccess } from '../../contracts-ts/state.ts';
import { executeTransaction } from '../../contracts-ts/execute.ts';
import type { ExchangeConfig, MarketConfig } from '../../contracts-ts/config.ts';
import type { SignedOrder } from '../../contracts-ts/exchange/order.ts';
import { cancelOwnerOk, isTpSl, withinBand } from '../../contracts-ts/exchange/order.ts';
import { vaultUnwindTargets } from '../../contracts-ts/exchange/proposers.ts';
import { markPriceOf, positionOf } from '../../contracts-ts/exchange/ledger.ts';
import { getMode } from '../../contracts-ts/exchange/modes.ts';
import { impactPrice } from '../../contracts-ts/exchange/funding.ts';
import { checkOrderBacking, EXPIRY_UNKNOWN, readOrderState, validateOrderForBook } from '../../contracts-ts/exchange/orders.ts';
import { revert } from '../../contracts-ts/exchange/errors.ts';
import type { CancelAllTx, CancelTx, InvokeTx, OracleUpdateTx, PerpTx } from '../../contracts-ts/tx.ts';
import { decodeMulticall } from '../../contracts-ts/starknet/entrypoints.ts';
import { selectorOf } from '../../contracts-ts/starknet/abi.ts';
import { encodeShortString } from '../crypto/index.ts';
import { Matcher, REASONS, type Fill, type MatchContext, type OrderRecord } from './orderbook/index.ts';
import { MinHeap } from './orderbook/heap.ts';
import { ACC, orderKey, POS, positionBase } from '../../contracts-ts/layout.ts';
import type { BlockSession, Producer } from './producer.ts';
import { RejectedError } from './producer.ts';
import type { Db, DbOp } from '../state/index.ts';
import { accountOrderRange, Meta, Tables } from '../storage/schema.ts';
import type { Receipt } from '../chain/block.ts';

export interface SubmitResult {
  record: OrderRecord;
  fills: { fill: Fill; txHash: bigint }[];
  /** When the order stopped with reason settle_failed: the contract rule its own fill broke. */
  settleFailure?: { rule: string; message: string };
}

const OPEN = new Set(['OPEN', 'UNTRIGGERED', 'PARTIALLY_FILLED']);
/** Book levels an impact price may walk (a side deeper than this counts as unable to fill). */
const IMPACT_LEVELS = 500;
/** Order records a seal prunes at most (the rest wait for the next block). */
const PRUNE_PER_BLOCK = 10_000;

/** A closed order whose on-chain record (if any) PRUNE_ORDERS deletes once it expired. */
interface PruneEntry {
  expiry: bigint;
  account: bigint;
  hash: bigint;
}

/** The prune-queue entry of a closed order (none for open, rejected or never-expiring ones). */
function pruneEntry(r: OrderRecord): PruneEntry | undefined {
  if (OPEN.has(r.status) || r.status === 'REJECTED') return undefined;
  const o = r.signed.order;
  if (o.expiry >= EXPIRY_UNKNOWN) return undefined; // never expires
  return { expiry: o.expiry, account: o.account, hash: r.signed.hash };
}

/** The part of the producer the exchange uses: sessions in the open block, seal hooks, reads. */
export type BlockPort = Pick<Producer, 'inOpenBlock' | 'precheck' | 'addSealHooks' | 'readState' | 'prefetch'>;

export class ExchangeService {
  private constructor(
    private readonly blocks: BlockPort,
    readonly cfg: ExchangeConfig,
    readonly db: Db,
    public matcher: Matcher,
  ) {}

  /** Restores the book from table O and registers the exchange's seal hooks on `blocks`. */
  static async create(blocks: BlockPort, cfg: ExchangeConfig, db: Db): Promise<ExchangeService> {
    const open: OrderRecord[] = [];
    // Closed orders may still hold an on-chain record until their expiry (table O lists them all).
    const closed: PruneEntry[] = [];
    for await (const r of Tables.order.values(db)) {
      if (OPEN.has(r.status)) open.push(r);
      else {
        const e = pruneEntry(r);
        if (e) closed.push(e);
      }
    }
    const storedSeq = await Meta.orderSeq.get(db);
    const nextSeq = storedSeq ?? 1n;
    const matcher = open.length || storedSeq !== undefined ? Matcher.restore(marketSpecs(cfg), open, nextSeq) : new Matcher(marketSpecs(cfg));
    const svc = new ExchangeService(blocks, cfg, db, matcher);
    for (const e of closed) svc.pruneQueue.push(e);
    blocks.addSealHooks({ beforeSeal: (s) => (svc.expire(s), svc.unwindVault(s), svc.pruneExpired(s)), persistOps: () => svc.persistOps(), impactPrices: () => svc.impactPrices() });
    return svc;
  }

  /** Records changed since the last sealed block (readable before they are persisted). */
  private unsealed = new Map<bigint, OrderRecord>();
  /**
   * The records of the block being sealed: handed to its batch by persistOps, and still read
   * from here until the next block's persistOps (by then that batch is durable), so a read
   * between the hand-over and the write never falls back to the older stored record.
   */
  private sealing = new Map<bigint, OrderRecord>();

  private collect(): void {
    for (const r of this.matcher.takeDirty()) {
      this.unsealed.set(r.signed.hash, r);
      this.queuePrune(r);
    }
  }

  /**
   * Closed orders by expiry: once an order expired nothing can execute it again, so its on-chain
   * record (a fill, trigger or cancel word in its account) is deleted by PRUNE_ORDERS at a seal.
   * Each order closes once; an entry whose slot is empty by then (never touched, already pruned,
   * a rolled-back branch) is dropped.
   */
  private readonly pruneQueue = new MinHeap<PruneEntry>((x, y) => x.expiry < y.expiry || (x.expiry === y.expiry && x.hash < y.hash));
  /** Hashes whose record only the order can prove expired (a CANCEL wrote it), loaded from table O. */
  private proveQueue: PruneEntry[] = [];
  private proving = false;

  private queuePrune(r: OrderRecord): void {
    const e = pruneEntry(r);
    if (e) this.pruneQueue.push(e);
  }

  /**
   * Runs under the lock at seal time: PRUNE_ORDERS of the records of closed orders that expired
   * by this block's timestamp. A record whose expiry the chain learnt (a fill or trigger) goes by
   * its slot; one written by a CANCEL alone needs the signed order as proof (loaded from table O
   * and pruned in a later block).
   */
  pruneExpired(s: BlockSession): { slots: number; proven: number } {
    const now = s.ctx.block.timestamp;
    const st = s.state;
    const slots: { account: bigint; orderHash: bigint }[] = [];
    const seen = new Set<bigint>();
    for (let top = this.pruneQueue.peek(); top && top.expiry <= now && slots.length + this.proveQueue.length < PRUNE_PER_BLOCK; top = this.pruneQueue.peek()) {
      this.pruneQueue.pop();
      if (seen.has(top.hash)) continue;
      seen.add(top.hash);
      const w = readOrderState(st, top.account, top.hash);
      if (w.expiry === 0n) continue; // no record
      if (w.expiry === EXPIRY_UNKNOWN) this.proveQueue.push(top);
      else if (w.expiry <= now) slots.push({ account: top.account, orderHash: top.hash });
    }
    const batch = this.cfg.limits.maxSystemCancelOrders;
    for (let i = 0; i < slots.length; i += batch) {
      const part = slots.slice(i, i + batch);
      try {
        s.execute({ type: 'PRUNE_ORDERS', slots: part, orders: [] });
      } catch (e) {
        if (!(e instanceof TxRevert || e instanceof RejectedError)) throw e;
        // HALTED refuses it: the records wait for a later block.
        for (const x of slots.slice(i)) this.pruneQueue.push({ expiry: now, account: x.account, hash: x.orderHash });
        break;
      }
    }
    if (this.proveQueue.length && !this.proving) void this.pruneProven().catch(() => undefined);
    return { slots: slots.length, proven: this.proveQueue.length };
  }

  /**
   * True while closed orders' records are due for PRUNE_ORDERS at a block of timestamp `now`
   * and not pruned yet (queued, waiting for proof, or being proven).
   */
  pruneDue(now: bigint): boolean {
    const top = this.pruneQueue.peek();
    return (top !== undefined && top.expiry <= now) || this.proveQueue.length > 0 || this.proving;
  }

  /** PRUNE_ORDERS with the signed orders of expired records a CANCEL wrote (outside the seal: table O is read asynchronously). */
  private async pruneProven(): Promise<void> {
    this.proving = true;
    try {
      while (this.proveQueue.length) {
        const part = this.proveQueue.splice(0, this.cfg.limits.maxSystemCancelOrders);
        const orders: SignedOrder[] = [];
        for (const e of part) {
          const r = await this.getOrder(e.hash);
          if (r) orders.push(r.signed);
        }
        if (!orders.length) continue;
        await this.blocks.inOpenBlock((s) => {
          const seen = new Set<bigint>();
          const live = orders.filter((o) => !seen.has(o.hash) && seen.add(o.hash) && readOrderState(s.state, o.order.account, o.hash).expiry === EXPIRY_UNKNOWN && o.order.expiry <= s.ctx.block.timestamp);
          if (live.length) s.execute({ type: 'PRUNE_ORDERS', slots: [], orders: live });
        });
      }
    } catch (e) {
      // Not fatal: the records stay (a halted or maintenance chain); they are queued again after a restart.
      if (!(e instanceof TxRevert || e instanceof RejectedError)) throw e;
    } finally {
      this.proving = false;
    }
  }

  /** Replaces the book (after a rollback); unsealed changes belonged to a discarded block. */
  resetBook(matcher: Matcher): void {
    this.matcher = matcher;
    this.unsealed.clear();
    this.sealing.clear();
  }

  /** State as the next transaction would see it (the open block's, else the head's). */
  readState(): StateAccess {
    return this.blocks.readState();
  }

  /** Order-record ops for the block batch (the producer calls this while sealing). */
  private persistOps(): DbOp[] {
    this.collect();
    const ops: DbOp[] = [];
    for (const r of this.unsealed.values()) {
      ops.push(Tables.order.put(r.signed.hash, r));
      ops.push(Tables.accountOrder.put({ account: r.signed.order.account, order: r.signed.hash }, null));
    }
    this.sealing = this.unsealed;
    this.unsealed = new Map();
    ops.push(Meta.orderSeq.put(this.matcher.nextSeq));
    return ops;
  }

  private market(symbol: string): MarketConfig | undefined {
    return this.cfg.marketBySymbol.get(symbol);
  }

  /** The matcher's view of the chain: the open block's state, read synchronously. */
  private matchContext(sess: BlockSession, fills: { fill: Fill; txHash: bigint }[], onSettleFailure?: (party: 'maker' | 'taker', e: TxRevert) => void): MatchContext {
    const ctx: ExecContext = sess.ctx;
    const st = () => sess.state;
    return {
      now: ctx.block.timestamp,
      markPrice: (symbol) => {
        const m = this.market(symbol);
        if (!m) return undefined;
        const mark = markPriceOf(st(), this.cfg, m);
        return mark > 0n ? mark : undefined;
      },
      priceBandBps: (symbol) => this.market(symbol)?.priceBandBps ?? 0n,
      positionOf: (account, symbol) => {
        const m = this.market(symbol);
        return m ? positionOf(st(), account, m).size : 0n;
      },
      onTrigger: (s) => this.ensureTriggered(sess, s),
      trySettle: (list) => {
        // A dry run on a scratch overlay of the open block: nothing of it is kept.
        const scratch = new OverlayState(st());
        for (let index = 0; index < list.length; index++) {
          const f = list[index]!;
          try {
            for (const s of [f.maker, f.taker]) {
              const t = s.order.orderType;
              if (t !== 'LIMIT' && t !== 'MARKET' && !readOrderState(scratch, s.order.account, s.hash).triggered) executeTransaction({ type: 'TRIGGER', order: s }, scratch, ctx, this.cfg);
            }
            executeTransaction({ type: 'TRADE', maker: f.maker, taker: f.taker, size: f.size, price: f.price }, scratch, ctx, this.cfg);
          } catch (e) {
            if (e instanceof TxRevert) return { index, party: e.party ?? 'taker' };
            throw e;
          }
        }
        return 'ok';
      },
      settle: (fill) => {
        for (const [party, s] of [['maker', fill.maker], ['taker', fill.taker]] as const) {
          if (!this.ensureTriggered(sess, s)) return party === 'maker' ? 'maker_failed' : 'taker_failed';
        }
        try {
          const { hash } = sess.execute({ type: 'TRADE', maker: fill.maker, taker: fill.taker, size: fill.size, price: fill.price });
          fills.push({ fill, txHash: hash });
          return 'ok';
        } catch (e) {
          if (e instanceof TxRevert) {
            const party = e.party === 'maker' ? 'maker' : 'taker';
            onSettleFailure?.(party, e);
            return party === 'maker' ? 'maker_failed' : 'taker_failed';
          }
          throw e;
        }
      },
      postOnlyBand: (symbol) => {
        if (getMode(st(), this.cfg) !== 'POST_ONLY') return undefined;
        const m = this.market(symbol);
        if (!m) return undefined;
        const mark = markPriceOf(st(), this.cfg, m);
        const w = (mark * this.cfg.postOnlyBandBps) / 10_000n;
        return { min: mark - w, max: mark + w };
      },
    };
  }

  /** A conditional order must be recorded as triggered on-chain before it can trade. */
  private ensureTriggered(sess: BlockSession, s: SignedOrder): boolean {
    const t = s.order.orderType;
    if (t === 'LIMIT' || t === 'MARKET') return true;
    const os = readOrderState(sess.state, s.order.account, s.hash);
    if (os.triggered) return true;
    try {
      sess.execute({ type: 'TRIGGER', order: s });
      return true;
    } catch (e) {
      if (e instanceof TxRevert || e instanceof RejectedError) return false;
      throw e;
    }
  }

  /** perp_submitOrder: validate against the open block's state, match, settle fills on-chain. */
  async submitOrder(signed: SignedOrder): Promise<SubmitResult> {
    // The account's state is read on LevelDB's threads while the order waits (at a million
    // accounts most takers are not cached). Not awaited: orders enter the lock in the order they
    // arrived, and one whose read is not back by its turn reads synchronously as before.
    this.blocks.prefetch(this.accountSlots(signed.order.account, signed.hash), [signed.order.account]).catch(() => undefined);
    await this.blocks.precheck({ type: 'TRIGGER', order: signed }); // the order's signature, on the pool
    try {
      return await this.place(signed);
    } catch (e) {
      // Refused because a CANCEL of it is on chain: keep its proof if the node never knew it
      // (looked up only now, after the lock: nothing before the lock may reorder arrivals).
      if (e instanceof TxRevert && e.code === 'ORDER_CANCELLED' && (await this.getOrder(signed.hash)) === undefined)
        await this.blocks.inOpenBlock((s) => this.keepCancelProof(signed, s)).catch(() => undefined);
      throw e;
    }
  }

  private place(signed: SignedOrder): Promise<SubmitResult> {
    return this.blocks.inOpenBlock((s) => {
      s.assertOpenable();
      const st = s.state;
      validateOrderForBook(signed, st, this.cfg, s.ctx);
      checkOrderBacking(st, this.cfg, signed.order, this.matcher.openOf(signed.order.account));
      const fills: { fill: Fill; txHash: bigint }[] = [];
      let settleFailure: SubmitResult['settleFailure'];
      const { record } = this.matcher.submit(signed, this.matchContext(s, fills, (party, e) => party === 'taker' && (settleFailure = { rule: e.code, message: e.message })));
      this.collect();
      s.noteActivity();
      return { record: { ...record }, fills, ...(record.reason === 'settle_failed' && settleFailure ? { settleFailure } : {}) };
    });
  }

  /** The slots executing an order of `account` reads in its own storage: key, collateral, every position, the order's word. */
  private accountSlots(account: bigint, orderHash: bigint): { address: bigint; key: bigint }[] {
    const out = [
      { address: account, key: ACC.publicKey },
      { address: account, key: ACC.collateral },
      { address: account, key: orderKey(orderHash) },
    ];
    for (const m of this.cfg.markets) {
      const base = positionBase(m.id);
      for (const off of [POS.size, POS.cost, POS.fundingSnapshot]) out.push({ address: account, key: base + off });
    }
    return out;
  }

  /**
   * An order refused because a CANCEL of its hash reached the chain before the order reached
   * the node (a wallet's pre-cancel, or a cancel that overtook its order): that cancel-only word
   * does not know the expiry, and nothing else would ever prove it. The signed order in hand is
   * that proof: it is recorded (CANCELLED, table O) so PRUNE_ORDERS deletes the word after the
   * expiry like any other closed order's.
   */
  private keepCancelProof(signed: SignedOrder, s: BlockSession): void {
    const h = signed.hash;
    if (readOrderState(s.state, signed.order.account, h).expiry !== EXPIRY_UNKNOWN || this.unsealed.has(h) || this.sealing.has(h)) return;
    const r: OrderRecord = { signed, seq: 0n, remaining: 0n, filled: 0n, status: 'CANCELLED', reason: REASONS.CANCELLED_BEFORE_ENTRY };
    this.unsealed.set(h, r);
    this.queuePrune(r);
    s.noteActivity();
  }

  /**
   * The owner rule of cancels, sequencer-side (the chain keeps no owner index): a cancel acts
   * only on orders of its signer. The node's order table knows every order's account (the book,
   * the records of unsealed blocks, then table O); another account's order is refused with
   * NOT_OWNER before anything executes. An order the node has never seen passes: its CANCEL can
   * only mark the signer's own account storage, never another account's order.
   */
  private async checkCancelOwner(hashes: readonly bigint[], signer: bigint): Promise<void> {
    for (const h of hashes) {
      const r = await this.getOrder(h);
      if (r && !cancelOwnerOk(r.signed.order.account, signer)) revert('NOT_OWNER', `order of 0x${r.signed.order.account.toString(16)}, cancel signed by 0x${signer.toString(16)}`);
    }
  }

  /**
   * perp_cancelOrder: the signed CANCEL goes on-chain, then leaves the book. Only the signer's
   * own order: the node's order table names the owner (NOT_OWNER, nothing executed); on chain
   * the CANCEL marks only the signer's own account storage.
   */
  async cancel(tx: CancelTx): Promise<{ hash: bigint; receipt: Receipt; record?: OrderRecord }> {
    await this.blocks.precheck(tx);
    await this.checkCancelOwner([tx.orderHash], tx.account);
    return this.blocks.inOpenBlock((s) => {
      const r = s.execute(tx);
      const record = this.matcher.cancel(tx.orderHash, undefined, tx.account);
      this.collect();
      return { ...r, record };
    });
  }

  /**
   * perp_cancelAll: the node lists the account's open orders in the transaction it executes.
   * Beyond the contract's per-transaction limit, the rest are cancelled on-chain by the
   * sequencer in the same block (SYSTEM_CANCEL, reason "cancel_all"), after the signed
   * CANCEL_ALL proved the account asked for it.
   */
  async cancelAll(tx: Omit<CancelAllTx, 'orderHashes'>): Promise<{ hash: bigint; receipt: Receipt; cancelled: OrderRecord[] }> {
    return this.blocks.inOpenBlock((s) => {
      const hashes = this.matcher
        .ordersOf(tx.account)
        .filter((r) => tx.market === 'ALL' || r.signed.order.market === tx.market)
        .map((r) => r.signed.hash);
      const limit = this.cfg.limits.maxCancelAllHashes;
      const r = s.execute({ ...tx, orderHashes: hashes.slice(0, limit) } as CancelAllTx);
      const batch = this.cfg.limits.maxSystemCancelOrders;
      for (let i = limit; i < hashes.length; i += batch)
        s.execute({ type: 'SYSTEM_CANCEL', reason: 'cancel_all', orders: hashes.slice(i, i + batch).map((orderHash) => ({ account: tx.account, orderHash })) } as PerpTx);
      const cancelled = this.matcher.cancelAll(tx.account, tx.market as string); // only the signer's orders
      this.collect();
      return { ...r, cancelled };
    });
  }

  /**
   * starknet_addInvokeTransaction: an account's multicall. Its cancel_all calls get the
   * account's open order hashes (as perp_cancelAll does, up to the contract's limit); after it
   * executed, orders it cancelled leave the book.
   */
  async invoke(tx: InvokeTx): Promise<{ hash: bigint; receipt: Receipt }> {
    await this.blocks.precheck(tx);
    const calls = this.exchangeCalls(tx);
    await this.checkCancelOwner(calls.filter((c) => c.name === 'cancel_order').map((c) => c.arg), tx.sender); // as perp_cancelOrder
    return this.blocks.inOpenBlock((s) => {
      const r = s.execute({ ...tx, cancelAllHashes: this.cancelAllHints(tx) });
      for (const c of calls) {
        if (c.name === 'cancel_order') this.matcher.cancel(c.arg, undefined, tx.sender);
        else if (c.market) this.matcher.cancelAll(tx.sender, c.market);
      }
      this.collect();
      return r;
    });
  }

  /** For each cancel_all call of an INVOKE: the account's open orders it cancels (the contract's limit at most). */
  cancelAllHints(tx: InvokeTx): bigint[][] {
    return this.exchangeCalls(tx)
      .filter((c) => c.name === 'cancel_all')
      .map((c) =>
        this.matcher
          .ordersOf(tx.sender)
          .filter((r) => c.market === 'ALL' || r.signed.order.market === c.market)
          .map((r) => r.signed.hash)
          .slice(0, this.cfg.limits.maxCancelAllHashes),
      );
  }

  /** The well-formed cancel_order / cancel_all calls of an INVOKE to the exchange (execution rejects the rest). */
  private exchangeCalls(tx: InvokeTx): { name: 'cancel_order' | 'cancel_all'; arg: bigint; market?: string }[] {
    let calls: ReturnType<typeof decodeMulticall>;
    try {
      calls = decodeMulticall(tx.calldata);
    } catch {
      return [];
    }
    const out: { name: 'cancel_order' | 'cancel_all'; arg: bigint; market?: string }[] = [];
    for (const c of calls) {
      if (c.to !== this.cfg.exchangeAddress || c.calldata.length !== 1) continue;
      const arg = c.calldata[0]!;
      if (c.selector === selectorOf('cancel_order')) out.push({ name: 'cancel_order', arg });
      else if (c.selector === selectorOf('cancel_all')) out.push({ name: 'cancel_all', arg, market: arg === encodeShortString('ALL') ? 'ALL' : this.cfg.marketById.get(arg)?.symbol });
    }
    return out;
  }

  /** An oracle update: on-chain, then conditional orders whose trigger the new mark crosses fire. */
  async oracleUpdate(tx: OracleUpdateTx): Promise<{ hash: bigint; receipt: Receipt; fills: { fill: Fill; txHash: bigint }[] }> {
    await this.blocks.precheck(tx);
    return this.blocks.inOpenBlock((s) => {
      const r = s.execute(tx);
      const fills = this.afterMarkChange(s, tx.prices.map((p) => p.market));
      return { ...r, fills };
    });
  }

  /** Runs under the lock: triggers conditional orders at the open block's marks. */
  private afterMarkChange(s: BlockSession, markets: string[]): { fill: Fill; txHash: bigint }[] {
    const fills: { fill: Fill; txHash: bigint }[] = [];
    const mc = this.matchContext(s, fills);
    if (getMode(s.state, this.cfg) !== 'NORMAL') return fills; // triggers pause in maintenance modes
    // Each order that fires is recorded on chain (TRIGGER) by mc.onTrigger as it fires.
    for (const market of new Set(markets)) this.matcher.onMarkPrice(market, mc);
    this.collect();
    return fills;
  }

  /**
   * Impact prices for the funding samples: the average price to fill the market's
   * impact_notional against each side of the book (0 when a side cannot fill it, within the
   * best IMPACT_LEVELS levels). A dust order is a sliver of that notional and moves nothing.
   */
  private impactPrices(): Map<string, { bid: bigint; ask: bigint }> {
    const out = new Map<string, { bid: bigint; ask: bigint }>();
    for (const m of this.cfg.markets) {
      const d = this.matcher.depth(m.symbol, IMPACT_LEVELS);
      out.set(m.symbol, { bid: impactPrice(d.bids, m.impactNotional, 'bid'), ask: impactPrice(d.asks, m.impactNotional, 'ask') });
    }
    return out;
  }

  /** Runs under the lock at seal time: drops expired orders from the book. */
  private expire(s: BlockSession): OrderRecord[] {
    const out = this.matcher.expire(this.matchContext(s, []));
    this.collect();
    return out;
  }

  /**
   * Runs under the lock at seal time: the Liquidator Vault unwinds the positions it took over
   * against resting orders (VAULT_UNWIND, one per maker fill), best price first, within the
   * band and this block's allowance (vaultUnwindTargets). The contract re-checks each fill; a
   * fill refused for its maker's sake drops that order from the book, any other refusal stops
   * the market's walk until the next block.
   */
  unwindVault(s: BlockSession): { maker: SignedOrder; size: bigint; price: bigint; txHash: bigint }[] {
    const out: { maker: SignedOrder; size: bigint; price: bigint; txHash: bigint }[] = [];
    const vault = this.cfg.vaultAddress;
    for (const t of vaultUnwindTargets(s.state, this.cfg, { now: s.ctx.block.timestamp, block: s.number })) {
      const m = this.market(t.market)!;
      const ctx = { now: s.ctx.block.timestamp, positionOf: (a: bigint) => positionOf(s.state, a, m).size };
      const hashes: bigint[] = [];
      const fills = this.matcher.fillForVault(t.market, t.makerSide, t.allowance, ctx, (price) => withinBand(price, t.mark, t.bandBps), (maker, size, price) => {
        const positionBefore = positionOf(s.state, vault, m).size;
        try {
          hashes.push(s.execute({ type: 'VAULT_UNWIND', account: vault, market: t.market, maker, size, price, positionBefore, block: s.number }).hash);
          return 'ok';
        } catch (e) {
          if (e instanceof TxRevert) return e.party === 'maker' ? 'maker_failed' : 'stop';
          if (e instanceof RejectedError) return 'stop';
          throw e;
        }
      });
      fills.forEach((f, i) => out.push({ ...f, txHash: hashes[i]! }));
    }
    this.collect();
    return out;
  }

  /** An order's record: the book's if open, else the persisted history. */
  async getOrder(hash: bigint): Promise<OrderRecord | undefined> {
    const live = this.matcher.getOrder(hash) ?? this.unsealed.get(hash) ?? this.sealing.get(hash);
    if (live) return live;
    return Tables.order.get(this.db, hash);
  }

  /** An account's orders: open ones from the book, then closed ones from history (newest first). */
  async ordersOf(account: bigint, limit = 200): Promise<OrderRecord[]> {
    const open = this.matcher.ordersOf(account);
    const seen = new Set(open.map((r) => r.signed.hash));
    const closed: OrderRecord[] = [];
    for (const r of [...this.unsealed.values(), ...this.sealing.values()])
      if (r.signed.order.account === account && !seen.has(r.signed.hash) && !OPEN.has(r.status)) {
        closed.push(r);
        seen.add(r.signed.hash);
      }
    for await (const { order: hash } of Tables.accountOrder.keys(this.db, accountOrderRange(account))) {
      if (seen.has(hash)) continue;
      const r = await Tables.order.get(this.db, hash);
      if (!r) continue;
      if (!OPEN.has(r.status)) closed.push(r);
    }
    closed.sort((a, b) => (a.seq > b.seq ? -1 : 1));
    return [...open, ...closed].slice(0, limit);
  }
}

export function marketSpecs(cfg: ExchangeConfig) {
  return cfg.markets.map((m) => ({ symbol: m.symbol, tickSize: m.tickSize, stepSize: m.stepSize, minSize: m.minSize }));
}
