/**
 * Operator actions on a running sequencer: maintenance modes, checkpoints and the online
 * rollback (stop production, roll back, resume in CANCEL_ONLY with every open order cancelled
 * except take-profit and stop-loss orders).
 */
import type { Mode } from '../../contracts-ts/exchange/modes.ts';
import { getMode } from '../../contracts-ts/exchange/modes.ts';
import { makeSetModeTx } from '../../contracts-ts/exchange/admin.ts';
import { readOrderState } from '../../contracts-ts/exchange/orders.ts';
import { isTpSl } from '../../contracts-ts/exchange/order.ts';
import { isVoided, nonceAfter, signedMessages } from '../../contracts-ts/exchange/replay.ts';
import { parseTx, type PerpTx } from '../../contracts-ts/tx.ts';
import { rollback, type RollbackCertificate } from '../chain/rollback.ts';
import { rollbackAnnounced } from '../chain/events.ts';
import { makeCheckpoint, type Checkpoint } from '../chain/checkpoints.ts';
import type { ChainStore } from '../chain/store.ts';
import type { Genesis } from '../chain/genesis.ts';
import type { WorldState, Db } from '../state/index.ts';
import type { Logger } from '../log.ts';
import { Meta, Tables } from '../storage/schema.ts';
import { Matcher, type OrderRecord } from './orderbook/index.ts';
import { marketSpecs, type ExchangeService } from './exchange.ts';
import type { Producer } from './producer.ts';

export interface MaintenanceModules {
  db: Db;
  chain: ChainStore;
  world: WorldState;
  genesis: Genesis;
  producer: Producer;
  exchange: ExchangeService;
  log: Logger;
  /**
   * Called with the certificate of an online rollback, under the producer lock, before any block
   * of the new branch is sealed (p2p publishes it to followers ahead of that block).
   */
  onRollback?: (certificate: RollbackCertificate) => void;
}

export class Maintenance {
  constructor(readonly m: MaintenanceModules) {}

  mode(): Mode {
    return getMode(this.m.producer.readState(), this.m.genesis.exchange);
  }

  /** Records a mode change on-chain (a SET_MODE system transaction) and seals it. */
  async setMode(mode: Mode, reason: string): Promise<{ tx_hash: bigint; block_number: bigint }> {
    const { producer } = this.m;
    const r = await producer.inOpenBlock((blk) => blk.execute(makeSetModeTx(blk.state, this.m.genesis.exchange, mode, reason)));
    const block = await producer.sealNow();
    this.m.log.warn(`mode set to ${mode}: ${reason}`);
    return { tx_hash: r.hash, block_number: block?.header.block_number ?? producer.head.number };
  }

  async checkpoint(label: string): Promise<Checkpoint> {
    return this.m.producer.lock.run(() => makeCheckpoint(this.m.db, this.m.chain, label));
  }

  /**
   * Online rollback: under the producer lock (nothing else runs), discard the open block, roll
   * the chain back, rebuild the book, then in the first new block: SET_MODE CANCEL_ONLY and
   * SYSTEM_CANCEL of every open order except TP/SL.
   */
  async rollback(target: bigint, reason: string, incidentId: bigint): Promise<{ certificate: RollbackCertificate; rootAfterRollback: bigint; cancelled: OrderRecord[]; kept: OrderRecord[]; voided: number }> {
    const { producer, db, chain, world, genesis } = this.m;
    const res = await producer.lock.run(async () => {
      producer.discardOpen();
      const certificate = await rollbackAnnounced(chain, target, () => rollback(db, chain, world, genesis, target, { reason, incidentId }));
      await producer.reloadHead();
      try {
        this.m.onRollback?.(certificate);
      } catch (e) {
        this.m.log.error(`publishing the rollback certificate failed: ${(e as Error).message}`);
      }
      return { certificate, rootAfterRollback: world.root };
    });
    const after = await this.afterRollback(reason);
    await producer.sealNow();
    return { ...res, ...after };
  }

  /**
   * After any rollback (online, or offline then restart): rebuild the book for the rolled-back
   * chain and cancel everything but TP/SL on-chain, in CANCEL_ONLY mode. TP/SL orders that
   * triggered or filled only on the orphaned branch come back as untriggered with the size the
   * canonical chain says is left.
   */
  async afterRollback(reason = 'rollback'): Promise<{ cancelled: OrderRecord[]; kept: OrderRecord[]; voided: number }> {
    const { producer, db, genesis, exchange } = this.m;
    return producer.inOpenBlock(async (blk) => {
      const st = blk.state;
      const cfg = genesis.exchange;
      const now = blk.ctx.block.timestamp;
      // Every transaction of every orphaned branch (all rollbacks: a later rollback may unwind
      // an earlier one's VOID_SIGNED). Orders an orphaned CANCEL / CANCEL_ALL named stay
      // cancelled: the owner's last word on them is not revived.
      const orphaned: PerpTx[] = [];
      for await (const { block } of Tables.orphan.values(db)) {
        for (const t of block.transactions) {
          try {
            orphaned.push(parseTx(t.body));
          } catch {
            // an archived body this version cannot parse carries nothing to void
          }
        }
      }
      const ownerCancelled = new Set<bigint>();
      for (const tx of orphaned) {
        if (tx.type === 'CANCEL') ownerCancelled.add(tx.orderHash);
        if (tx.type === 'CANCEL_ALL') for (const h of tx.orderHashes) ownerCancelled.add(h);
      }
      const all = new Map<bigint, OrderRecord>();
      for await (const r of Tables.order.values(db)) all.set(r.signed.hash, r);
      for (const r of exchange.matcher.openOrders()) all.set(r.signed.hash, r);
      const kept: OrderRecord[] = [];
      const cancelled: OrderRecord[] = [];
      for (const r of all.values()) {
        const o = r.signed.order;
        const deployed = st.getClassHash(o.account) !== 0n;
        const os = deployed ? readOrderState(st, o.account, r.signed.hash) : { filled: 0n, cancelled: true, triggered: false };
        const live = !os.cancelled && os.filled < o.size && o.expiry > now && deployed;
        if (isTpSl(o.orderType) && live && !os.triggered && !ownerCancelled.has(r.signed.hash)) kept.push({ ...r, status: 'UNTRIGGERED', filled: os.filled, remaining: o.size - os.filled, reason: undefined });
        else if (r.status === 'OPEN' || r.status === 'PARTIALLY_FILLED' || r.status === 'UNTRIGGERED') cancelled.push({ ...r, status: 'CANCELLED', reason });
      }
      if (getMode(st, cfg) !== 'CANCEL_ONLY') blk.execute(makeSetModeTx(st, cfg, 'CANCEL_ONLY', reason.slice(0, 31)));
      const onChain = cancelled.filter((r) => st.getClassHash(r.signed.order.account) !== 0n && !readOrderState(st, r.signed.order.account, r.signed.hash).cancelled);
      const batch = cfg.limits.maxSystemCancelOrders;
      for (let i = 0; i < onChain.length; i += batch)
        blk.execute({ type: 'SYSTEM_CANCEL', reason: reason.slice(0, 31), orders: onChain.slice(i, i + batch).map((r) => ({ account: r.signed.order.account, orderHash: r.signed.hash })) });
      // Replay protection (contracts-ts/exchange/replay.ts): the orphaned branch's signed
      // messages are voided on the new branch, except the kept TP/SL orders.
      const keptHashes = new Set(kept.map((r) => r.signed.hash));
      const voidList = [...new Set(orphaned.flatMap((tx) => signedMessages(tx, genesis.chainId)))].filter((h) => !keptHashes.has(h) && !isVoided(st, cfg, h));
      const floor = new Map<bigint, bigint>();
      for (const tx of orphaned) {
        const n = nonceAfter(tx);
        if (n && n.nonce > (floor.get(n.account) ?? 0n)) floor.set(n.account, n.nonce);
      }
      const nonces = [...floor].filter(([a, n]) => st.getClassHash(a) !== 0n && st.getNonce(a) < n).map(([account, nonce]) => ({ account, nonce }));
      for (let i = 0; i < Math.max(voidList.length, nonces.length); i += batch)
        blk.execute({ type: 'VOID_SIGNED', hashes: voidList.slice(i, i + batch), nonces: nonces.slice(i, i + batch) });
      exchange.resetBook(Matcher.restore(marketSpecs(cfg), kept, exchange.matcher.nextSeq));
      const ops = [...cancelled, ...kept].flatMap((r) => [
        Tables.order.put(r.signed.hash, r),
        Tables.accountOrder.put({ account: r.signed.order.account, order: r.signed.hash }, null),
      ]);
      ops.push(Meta.afterRollback.put(null));
      blk.persistWithBlock(ops);
      this.m.log.warn(`after rollback: ${cancelled.length} orders cancelled, ${kept.length} take-profit/stop-loss orders kept, ${voidList.length} orphaned signed messages voided; mode CANCEL_ONLY`);
      for (const r of cancelled) producer.emit('order', r);
      return { cancelled, kept, voided: voidList.length };
    });
  }

  /** True when a rollback happened (offline) and its order clean-up has not run yet. */
  async pendingAfterRollback(): Promise<boolean> {
    const v = await Meta.afterRollback.get(this.m.db);
    return v !== undefined && v !== null;
  }
}
