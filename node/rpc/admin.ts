/**
 * admin_* methods, served on a separate port (127.0.0.1:5055 by default) behind the bearer
 * token in <data-dir>/admin.token. Without the token every request gets 401 and nothing else.
 */
import { MODES, type Mode } from '../../contracts-ts/exchange/modes.ts';
import { encodeShortString, toHex } from '../crypto/index.ts';
import { listCheckpoints, resolveTarget } from '../chain/checkpoints.ts';
import { certificateToJson } from '../chain/rollback.ts';
import { executeRefunds, parsePlan } from '../incident/refund.ts';
import type { Maintenance } from '../sequencer/maintenance.ts';
import type { Methods } from './jsonrpc.ts';
import type { CallContext } from './http.ts';
import type { RpcModules } from './context.ts';
import { E } from './errors.ts';
import { felt, str } from './params.ts';

export interface AdminModules extends RpcModules {
  maintenance?: Maintenance;
  /** p2p status (peers, head, lag), when p2p runs. */
  peers?: () => unknown;
  /** The devnet oracle feeder's next update (admin_postPrices), when a feeder runs. */
  postPrices?: () => Promise<{ market: string; price: bigint }[]>;
  startedAt: number;
}

function needSequencer(a: AdminModules): Maintenance {
  if (!a.maintenance) throw E.notOnThisRole('this admin call needs the sequencer');
  return a.maintenance;
}

export function adminMethods(a: AdminModules): Methods<CallContext> {
  return {
    admin_status: {
      params: [],
      handler: async () => {
        const head = await a.chain.head();
        return {
          chain_id: a.genesis.chainIdName,
          role: a.producer ? 'sequencer' : 'follower',
          head_number: head ? Number(head.number) : null,
          head_hash: head ? toHex(head.hash) : null,
          state_root: toHex(a.world.root),
          mode: a.maintenance?.mode() ?? null,
          halted: a.producer?.halted ?? null,
          starting: a.producer?.checking ?? null,
          pipeline: a.producer ? a.producer.opts.pipeline === true : null,
          open_block_txs: a.producer?.openBlock?.txs.length ?? 0,
          uptime_s: Math.floor((Date.now() - a.startedAt) / 1000),
          peers: a.peers?.() ?? null,
        };
      },
    },
    admin_setMode: {
      params: ['mode', 'reason?'],
      handler: async (p) => {
        const mode = p.mode as Mode;
        if (!MODES.includes(mode)) throw E.invalidParams(`mode must be one of ${MODES.join(', ')}`);
        const reason = p.reason === undefined ? 'operator' : str(p.reason, 'reason', 31);
        if (!/^[\x20-\x7e]+$/.test(reason)) throw E.invalidParams('reason must be printable ASCII');
        const r = await needSequencer(a).setMode(mode, reason);
        return { mode, tx_hash: toHex(r.tx_hash), block_number: Number(r.block_number) };
      },
    },
    admin_checkpoint: {
      params: ['label'],
      handler: async (p) => {
        try {
          const c = await needSequencer(a).checkpoint(str(p.label, 'label', 64));
          return { height: Number(c.height), label: c.label, time: c.time, block_hash: toHex(c.block_hash), state_root: toHex(c.state_root) };
        } catch (e) {
          if ((e as Error).message.includes('label')) throw E.invalidParams((e as Error).message);
          throw e;
        }
      },
    },
    admin_checkpoints: {
      params: [],
      handler: async () => (await listCheckpoints(a.chain.db)).map((c) => ({ height: Number(c.height), label: c.label, time: c.time, block_hash: toHex(c.block_hash), state_root: toHex(c.state_root) })),
    },
    admin_rollback: {
      params: ['to', 'reason?', 'incident_id?'],
      handler: async (p) => {
        const m = needSequencer(a);
        const to = typeof p.to === 'number' ? String(p.to) : str(p.to, 'to', 64);
        let target: bigint;
        try {
          target = await resolveTarget(a.chain.db, to);
        } catch (e) {
          throw E.invalidParams((e as Error).message);
        }
        const reason = p.reason === undefined ? 'operator rollback' : str(p.reason, 'reason', 256);
        const incident = p.incident_id === undefined ? 0n : typeof p.incident_id === 'string' && !/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(p.incident_id) ? encodeShortString(str(p.incident_id, 'incident_id', 31)) : felt(p.incident_id, 'incident_id');
        const head = await a.chain.head();
        if (target >= head!.number) throw E.invalidParams(`target ${target} must be below the head ${head!.number}`);
        const r = await m.rollback(target, reason, incident);
        return { certificate: certificateToJson(r.certificate), cancelled_orders: r.cancelled.map((x) => toHex(x.signed.hash)), kept_tp_sl_orders: r.kept.map((x) => toHex(x.signed.hash)), mode: 'CANCEL_ONLY' };
      },
    },
    admin_refund: {
      params: ['plan'],
      handler: async (p) => {
        const m = needSequencer(a);
        let plan;
        try {
          plan = parsePlan(p.plan);
        } catch (e) {
          throw E.invalidParams(`plan: ${(e as Error).message}`);
        }
        let r;
        try {
          r = await executeRefunds(m.m.producer, a.genesis.exchange, plan);
        } catch (e) {
          if ((e as Error).message.includes('Liquidator Vault')) throw E.rejected('VAULT_INSUFFICIENT', (e as Error).message);
          throw e;
        }
        return { paid: r.paid.map((x) => ({ account: toHex(x.account), amount: x.amount.toString(), tx_hash: toHex(x.tx) })), skipped: r.skipped.map((x) => ({ account: toHex(x.account), reason: x.reason })), total: r.total.toString() };
      },
    },
    admin_postPrices: {
      params: [],
      handler: async () => {
        if (!a.postPrices) throw E.notOnThisRole('no oracle feeder runs on this node (a devnet sequencer started without --feeder off)');
        const prices = await a.postPrices();
        if (!prices.length) return { posted: false, reason: 'nothing due: oracle timestamps must increase, so at most one update a second (and a replay file may have no entry due yet)', prices: [] };
        return { posted: true, prices: prices.map((x) => ({ market: x.market, price: x.price.toString() })) };
      },
    },
    admin_peers: {
      params: [],
      handler: () => {
        if (!a.peers) throw E.notOnThisRole('p2p is not running on this node');
        return a.peers();
      },
    },
  };
}
