/**
 * Executing a refund plan: REFUND transactions paid from the Liquidator Vault, each keyed on-chain
 * by (incident id, account) so a refund is never paid twice. The whole plan is refused up front
 * when the vault cannot cover what is still unpaid.
 */
import { getVaultView, type RefundTx } from '../../contracts-ts/index.ts';
import { refundPaid } from '../../contracts-ts/exchange/collateral.ts';
import { parseFelt, toHex } from '../crypto/index.ts';
import type { Producer } from '../sequencer/producer.ts';
import type { ExchangeConfig } from '../../contracts-ts/config.ts';
import type { RefundPlan } from './audit.ts';

export interface ParsedPlan {
  incidentId: bigint;
  entries: { account: bigint; amount: bigint }[];
}

export function parsePlan(j: unknown): ParsedPlan {
  const o = j as Record<string, unknown>;
  if (!o || typeof o !== 'object') throw new Error('a refund plan is a JSON object');
  const plan = (o.refund_plan ?? o) as Partial<RefundPlan>;
  const incidentId = parseFelt(plan.incident_id, 'incident_id');
  if (!Array.isArray(plan.entries)) throw new Error('refund plan: entries must be an array');
  const seen = new Set<bigint>();
  const entries = plan.entries.map((e, i) => {
    const account = parseFelt(e?.account, `entries[${i}].account`);
    if (typeof e.amount !== 'string' || !/^[0-9]{1,38}$/.test(e.amount)) throw new Error(`entries[${i}].amount must be a decimal string of base units`);
    const amount = BigInt(e.amount);
    if (amount <= 0n) throw new Error(`entries[${i}].amount must be positive`);
    if (seen.has(account)) throw new Error(`entries[${i}]: account ${toHex(account)} appears twice`);
    seen.add(account);
    return { account, amount };
  });
  return { incidentId, entries };
}

export interface RefundResult {
  paid: { account: bigint; amount: bigint; tx: bigint }[];
  skipped: { account: bigint; reason: string }[];
  total: bigint;
}

/** Runs a plan through the producer (online, or offline with a producer that is not started). */
export async function executeRefunds(producer: Producer, cfg: ExchangeConfig, plan: ParsedPlan): Promise<RefundResult> {
  const result = await producer.inOpenBlock((blk) => {
    blk.assertOpenable();
    const st = blk.state;
    const todo = plan.entries.filter((e) => refundPaid(st, cfg, plan.incidentId, e.account) === 0n);
    const skipped = plan.entries.filter((e) => !todo.includes(e)).map((e) => ({ account: e.account, reason: 'already refunded for this incident' }));
    const need = todo.reduce((s, e) => s + e.amount, 0n);
    const vault = getVaultView(st, cfg).balance;
    if (need > vault) throw new Error(`the Liquidator Vault holds ${vault} but the plan needs ${need}: nothing was paid`);
    const paid: RefundResult['paid'] = [];
    for (const e of todo) {
      const tx: RefundTx = { type: 'REFUND', incidentId: plan.incidentId, account: e.account, amount: e.amount };
      const r = blk.execute(tx);
      paid.push({ account: e.account, amount: e.amount, tx: r.hash });
    }
    return { paid, skipped, total: paid.reduce((s, p) => s + p.amount, 0n) };
  });
  await producer.sealNow();
  return result;
}
