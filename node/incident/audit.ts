/**
 * The incident audit: what the orphaned branch did to each account, against a reference run of
 * the same branch without the fault, and the refund plan that makes harmed accounts whole.
 *
 * Three states of every account are compared:
 *   orphaned   — the rollback target plus every orphaned block, as it was signed;
 *   reference  — the rollback target plus the orphaned blocks' transactions without the fault
 *                (excluded transactions: the operator's list and/or every oracle update from a
 *                height on), with funding and liquidations re-proposed by the sequencer's own
 *                rules, exactly as a fault-free sequencer would have run;
 *   canonical  — the chain as it is now (after the rollback).
 * An account is harmed when it was liquidated (or deleveraged) on the orphaned branch more than
 * in the reference run. Its refund is max(0, reference collateral − canonical collateral),
 * paid from the Liquidator Vault by REFUND transactions keyed by (incident, account).
 */
import { executeTransaction, findLiquidations, getAccountView, getVaultView, parseTx, proposeFunding, type ExchangeConfig, type PerpTx } from '../../contracts-ts/index.ts';
import { accountList } from '../../contracts-ts/account/account.ts';
import { refundPaid } from '../../contracts-ts/exchange/collateral.ts';
import type { StateAccess } from '../../contracts-ts/state.ts';
import { toHex } from '../crypto/index.ts';
import type { Block } from '../chain/block.ts';
import { execContext, type Genesis } from '../chain/genesis.ts';
import { listCertificates, type RollbackCertificate, certificateToJson } from '../chain/rollback.ts';
import type { ChainStore } from '../chain/store.ts';
import type { Db, WorldState } from '../state/index.ts';
import { Tables } from '../storage/schema.ts';
import { atomically, ScratchState } from './scratch.ts';

export interface FaultSpec {
  /** Transaction hashes on the orphaned branch that were the fault. */
  txs?: bigint[];
  /** Every ORACLE_UPDATE at or above this height on the orphaned branch is part of the fault. */
  oracleFrom?: bigint;
}

export interface AccountOutcome {
  address: bigint;
  harmed: boolean;
  liquidations: { orphaned: number; reference: number };
  collateral: { target: bigint; orphaned: bigint; reference: bigint; canonical: bigint };
  positions: { orphaned: Record<string, bigint>; reference: Record<string, bigint>; canonical: Record<string, bigint> };
  /** Markets where the orphaned branch closed a position the reference run kept. */
  positionsClosed: string[];
  refund: bigint;
  alreadyRefunded: bigint;
}

export interface RefundPlan {
  incident_id: string;
  entries: { account: string; amount: string }[];
  total: string;
}

export interface AuditReport {
  incidentId: bigint;
  certificate: RollbackCertificate;
  orphanedBlocks: bigint[];
  faultTxs: bigint[];
  accounts: AccountOutcome[];
  vaultBalance: bigint;
  plan: RefundPlan;
}

/** The orphaned blocks of a rollback, oldest first, from the archive (table X). */
export async function orphanedBranch(db: Db, cert: RollbackCertificate): Promise<Block[]> {
  const out: Block[] = [];
  let hash = cert.orphaned_head_hash;
  while (hash !== cert.target_hash) {
    const o = await Tables.orphan.get(db, hash);
    if (!o) throw new Error(`orphaned block ${toHex(hash)} is not in the archive`);
    const b = o.block;
    out.push(b);
    hash = b.header.parent_hash;
    if (out.length > 1_000_000) throw new Error('orphaned branch does not reach the rollback target');
  }
  return out.reverse();
}

const SYSTEM_REPROPOSED = new Set(['FUNDING', 'LIQUIDATE', 'ADL']);

function liquidated(tx: PerpTx): bigint | undefined {
  return tx.type === 'LIQUIDATE' || tx.type === 'ADL' ? tx.account : undefined;
}

function positions(st: StateAccess, cfg: ExchangeConfig, a: bigint): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const p of getAccountView(st, cfg, a).positions) out[p.market] = p.side === 'SHORT' ? -p.size : p.size;
  return out;
}

export async function audit(db: Db, chain: ChainStore, world: WorldState, g: Genesis, incidentId: bigint, fault: FaultSpec = {}): Promise<AuditReport> {
  const certs = (await listCertificates(db)).filter((c) => c.incident_id === incidentId);
  if (!certs.length) throw new Error(`no rollback certificate for incident ${toHex(incidentId)}`);
  const cert = certs[certs.length - 1]!;
  const cfg = g.exchange;
  const blocks = await orphanedBranch(db, cert);
  const base = await ScratchState.at(world, chain, cert.target_height);
  const orphaned = base.clone();
  const reference = base.clone();
  const liqOrphan = new Map<bigint, number>();
  const liqRef = new Map<bigint, number>();
  const bump = (m: Map<bigint, number>, a: bigint) => m.set(a, (m.get(a) ?? 0) + 1);
  const faultSet = new Set(fault.txs ?? []);
  const faultTxs: bigint[] = [];

  for (const b of blocks) {
    const ctx = execContext(g, b.header.block_number, b.header.timestamp);
    for (const ct of b.transactions) {
      const tx = parseTx(ct.body);
      const r = atomically(orphaned, (st) => executeTransaction(tx, st, ctx, cfg));
      if (!r.ok) throw new Error(`orphaned block ${b.header.block_number} does not re-execute: ${r.error.message}`);
      const victim = liquidated(tx);
      if (victim !== undefined) bump(liqOrphan, victim);
      const isFault = faultSet.has(ct.hash) || (tx.type === 'ORACLE_UPDATE' && fault.oracleFrom !== undefined && b.header.block_number >= fault.oracleFrom);
      if (isFault) {
        faultTxs.push(ct.hash);
        continue;
      }
      if (SYSTEM_REPROPOSED.has(tx.type)) continue;
      atomically(reference, (st) => executeTransaction(tx, st, ctx, cfg));
    }
    // What a fault-free sequencer would have proposed when sealing this block.
    const f = proposeFunding(reference, cfg, ctx);
    if (f) atomically(reference, (st) => executeTransaction(f, st, ctx, cfg));
    for (let round = 0; round < 8; round++) {
      const liqs = findLiquidations(reference, cfg, { now: b.header.timestamp, block: b.header.block_number });
      let applied = 0;
      for (const tx of liqs) {
        if (atomically(reference, (st) => executeTransaction(tx, st, ctx, cfg)).ok) {
          applied++;
          bump(liqRef, liquidated(tx)!);
        }
      }
      if (!applied) break;
    }
  }

  const canonical = await ScratchState.fromWorld(world);
  const addresses = new Set<bigint>([...accountList(orphaned, cfg), ...accountList(canonical, cfg)]);
  const accounts: AccountOutcome[] = [];
  for (const a of [...addresses].sort((x, y) => (x < y ? -1 : 1))) {
    const col = (st: StateAccess) => (st.getClassHash(a) === 0n ? 0n : getAccountView(st, cfg, a).collateral);
    const pos = (st: StateAccess) => (st.getClassHash(a) === 0n ? {} : positions(st, cfg, a));
    const o = { orphaned: liqOrphan.get(a) ?? 0, reference: liqRef.get(a) ?? 0 };
    const harmed = o.orphaned > o.reference;
    const collateral = { target: col(base), orphaned: col(orphaned), reference: col(reference), canonical: col(canonical) };
    const p = { orphaned: pos(orphaned), reference: pos(reference), canonical: pos(canonical) };
    const positionsClosed = Object.keys(p.reference).filter((m) => (p.orphaned[m] ?? 0n) === 0n && p.reference[m] !== 0n);
    const alreadyRefunded = canonical.getClassHash(a) === 0n ? 0n : refundPaid(canonical, cfg, incidentId, a);
    const owed = collateral.reference - collateral.canonical;
    const refund = harmed && owed > 0n ? owed : 0n;
    if (harmed || o.orphaned || collateral.orphaned !== collateral.reference || collateral.canonical !== collateral.target)
      accounts.push({ address: a, harmed, liquidations: o, collateral, positions: p, positionsClosed, refund, alreadyRefunded });
  }
  const entries = accounts.filter((x) => x.refund > 0n && x.alreadyRefunded === 0n).map((x) => ({ account: toHex(x.address), amount: x.refund.toString() }));
  const total = entries.reduce((s, e) => s + BigInt(e.amount), 0n);
  return {
    incidentId,
    certificate: cert,
    orphanedBlocks: blocks.map((b) => b.header.block_number),
    faultTxs,
    accounts,
    vaultBalance: getVaultView(canonical, cfg).balance,
    plan: { incident_id: toHex(incidentId), entries, total: total.toString() },
  };
}

export function reportToJson(r: AuditReport) {
  const rec = (o: Record<string, bigint>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.toString()]));
  return {
    incident_id: toHex(r.incidentId),
    rollback: certificateToJson(r.certificate),
    orphaned_blocks: r.orphanedBlocks.map(Number),
    fault_transactions: r.faultTxs.map(toHex),
    vault_balance: r.vaultBalance.toString(),
    harmed_accounts: r.accounts.filter((a) => a.harmed).length,
    accounts: r.accounts.map((a) => ({
      address: toHex(a.address),
      harmed: a.harmed,
      liquidations: a.liquidations,
      collateral: { target: a.collateral.target.toString(), orphaned: a.collateral.orphaned.toString(), reference: a.collateral.reference.toString(), canonical: a.collateral.canonical.toString() },
      positions: { orphaned: rec(a.positions.orphaned), reference: rec(a.positions.reference), canonical: rec(a.positions.canonical) },
      positions_closed: a.positionsClosed,
      refund: a.refund.toString(),
      already_refunded: a.alreadyRefunded.toString(),
    })),
    refund_plan: r.plan,
  };
}

/** A readable table of the report (collateral in USDC base units). */
export function reportTable(r: AuditReport): string {
  const lines = [
    `incident ${toHex(r.incidentId)}: rollback from block ${r.certificate.orphaned_head_height} to ${r.certificate.target_height}; ${r.orphanedBlocks.length} orphaned blocks; ${r.faultTxs.length} fault transactions`,
    `${'account'.padEnd(68)} ${'harmed'.padEnd(6)} ${'liq o/r'.padEnd(8)} ${'orphaned'.padStart(14)} ${'reference'.padStart(14)} ${'canonical'.padStart(14)} ${'refund'.padStart(12)}`,
  ];
  for (const a of r.accounts)
    lines.push(
      `${toHex(a.address).padEnd(68)} ${(a.harmed ? 'yes' : '').padEnd(6)} ${`${a.liquidations.orphaned}/${a.liquidations.reference}`.padEnd(8)} ${a.collateral.orphaned.toString().padStart(14)} ${a.collateral.reference.toString().padStart(14)} ${a.collateral.canonical.toString().padStart(14)} ${a.refund.toString().padStart(12)}`,
    );
  lines.push(`refund plan: ${r.plan.entries.length} refunds, total ${r.plan.total}; vault balance ${r.vaultBalance}`);
  return lines.join('\n');
}
