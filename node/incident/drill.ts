/**
 * The incident drill: the whole story of ARCHITECTURE.md, end to end, on a throwaway devnet.
 *
 *  1. A devnet with N accounts holding positions, resting orders and TP/SL orders.
 *  2. Checkpoint `pre-maintenance`; legitimate trading continues; stop the node; alter a
 *     funding index in storage while it is stopped (the race's effect): the restart is refused
 *     and names the index. The value is put back (a restored backup) and the node starts.
 *  3. The fault: bogus but correctly signed oracle prices; the sequencer liquidates healthy longs.
 *  4. Roll back to `pre-maintenance`: open orders cancelled except TP/SL, state root equal to the
 *     checkpoint's, CANCEL_ONLY mode.
 *  5. Audit and refund: every harmed account listed; after the refunds each harmed account's
 *     collateral is what the fault-free reference run gives it; other accounts are untouched; the
 *     vault's debit is the sum of the refunds.
 * Every check throws DrillFailure when it does not hold; `runDrill` returns the evidence.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import {
  accountAddress,
  deployAccountHash,
  depositHash,
  getAccountView,
  getVaultView,
  oracleUpdateHash,
  orderHash,
  type Order,
  type SignedOrder,
} from '../../contracts-ts/index.ts';
import { MKT, marketBase } from '../../contracts-ts/layout.ts';
import { getStarkKey, sign, toHex } from '../crypto/index.ts';
import { startSequencer, type RunningNode } from '../node.ts';
import { progress, type Logger } from '../log.ts';
import { formatUnits } from '../client/units.ts';
import { Tables } from '../storage/schema.ts';
import { writeBatch } from '../storage/db.ts';
import { audit, reportToJson } from './audit.ts';
import { executeRefunds, parsePlan } from './refund.ts';

export class DrillFailure extends Error {
  constructor(step: string, message: string) {
    super(`drill step ${step}: ${message}`);
    this.name = 'DrillFailure';
  }
}

function check(cond: unknown, step: string, message: string): asserts cond {
  if (!cond) throw new DrillFailure(step, message);
}

export interface DrillOptions {
  accounts: number;
  genesisPath: string;
  dataDir?: string;
  keep?: boolean;
  log: Logger;
}

export interface DrillResult {
  dataDir: string;
  accounts: number;
  checkpoint: { height: number; state_root: string };
  corruptedIndexRefusal: string;
  liquidatedOnOrphan: number;
  rollback: { target_height: number; root_matches_checkpoint: boolean; cancelled_orders: number; kept_tp_sl: number };
  audit: { harmed: number; refunds: number; total: string; total_usdc: string; harmed_without_refund: number; why_no_refund: string | null; report: unknown };
  vaultDebit: string;
}

const E8 = 10n ** 8n;
const USDC = 10n ** 6n;

export async function runDrill(o: DrillOptions): Promise<DrillResult> {
  check(o.accounts >= 4 && o.accounts % 2 === 0, '1', '--accounts must be an even number >= 4');
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'perpnode-drill-'));
  const log = o.log;
  const start = () => startSequencer({ dataDir, genesisPath: o.genesisPath, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log: log.child('node') });
  let node: RunningNode = await start();
  try {
    const g = node.chain.genesis;
    const cfg = g.exchange;
    const chainId = g.chainId;
    const btc = cfg.markets[0]!;
    const operator = cfg.bridgeOperator;
    const oracle = cfg.oracles.find((k) => k.privateKey !== undefined);
    check(operator.privateKey !== undefined && oracle, '1', 'the drill needs a devnet genesis (bridge operator and oracle private keys)');
    let oracleTs = BigInt(Math.floor(Date.now() / 1000));
    const setPrice = async (price: bigint) => {
      const nowS = BigInt(Math.floor(Date.now() / 1000));
      oracleTs = oracleTs + 1n > nowS ? oracleTs + 1n : nowS; // increasing, and fresh (oracle_max_age_seconds)
      const prices = [{ market: btc.symbol, price }];
      const s = sign(oracleUpdateHash({ timestamp: oracleTs, prices }, oracle!.publicKey, chainId), oracle!.privateKey!);
      return node.exchange.oracleUpdate({ type: 'ORACLE_UPDATE', signer: oracle!.publicKey, timestamp: oracleTs, prices, signature: [s.r, s.s] });
    };

    // ---- 1. accounts, positions, resting orders, TP/SL --------------------------------------
    log.info(`step 1: ${o.accounts} accounts with positions, resting and TP/SL orders`);
    const keys = Array.from({ length: o.accounts }, (_, i) => 0x5eed0000n + BigInt(i) * 7919n);
    const addrs = keys.map((k) => accountAddress(getStarkKey(k)));
    const funded = progress(log, 'step 1: accounts deployed and funded', keys.length);
    for (let i = 0; i < keys.length; i++) {
      funded.update(i);
      const pk = getStarkKey(keys[i]!);
      const ds = sign(deployAccountHash(pk, chainId), keys[i]!);
      await node.producer.submit({ type: 'DEPLOY_ACCOUNT', publicKey: pk, signature: [ds.r, ds.s] });
      const dep = { depositId: 0xd0000n + BigInt(i), recipient: addrs[i]!, amount: 10_000n * USDC };
      const s = sign(depositHash(dep, operator.publicKey, chainId), operator.privateKey!);
      await node.producer.submit({ type: 'DEPOSIT', ...dep, signature: [s.r, s.s] });
    }
    funded.finish(`${keys.length} accounts deployed and funded`);
    let salt = 1n;
    const expiry = BigInt(Math.floor(Date.now() / 1000)) + 30n * 86400n;
    const order = (i: number, f: Partial<Order>): SignedOrder => {
      const ord: Order = { account: addrs[i]!, market: btc.symbol, side: 'BUY', orderType: 'LIMIT', timeInForce: 'GTC', size: 0n, price: 0n, triggerPrice: 0n, reduceOnly: false, expiry, salt: salt++, ...f };
      const hash = orderHash(ord, chainId);
      const s = sign(hash, keys[i]!);
      return { order: ord, hash, signature: [s.r, s.s] };
    };
    const half = o.accounts / 2; // accounts [0, half) go long, [half, N) short
    const P0 = btc.initialPrice;
    const size = (3n * E8) / 2n; // 1.5 BTC
    const paired = progress(log, 'step 1: long/short pairs traded', half);
    for (let i = 0; i < half; i++) {
      paired.update(i);
      await node.exchange.submitOrder(order(half + i, { side: 'SELL', size, price: P0 }));
      const r = await node.exchange.submitOrder(order(i, { side: 'BUY', size, price: P0, timeInForce: 'IOC' }));
      check(r.fills.length === 1 && r.record.status === 'FILLED', '1', `pair ${i} did not trade (${r.record.status} ${r.record.reason ?? ''})`);
    }
    paired.finish(`${half} pairs traded`);
    const resting: bigint[] = [];
    const tpsl: bigint[] = [];
    const placed = progress(log, 'step 1: resting and TP/SL orders placed', o.accounts);
    for (let i = 0; i < o.accounts; i++) {
      placed.update(i);
      const long = i < half;
      const r = await node.exchange.submitOrder(order(i, long ? { side: 'BUY', size: E8 / 100n, price: (P0 * 70n) / 100n } : { side: 'SELL', size: E8 / 100n, price: (P0 * 130n) / 100n }));
      check(r.record.status === 'OPEN', '1', `resting order of account ${i}: ${r.record.status} ${r.record.reason ?? ''}`);
      resting.push(r.record.signed.hash);
      const t = await node.exchange.submitOrder(
        order(i, long ? { side: 'SELL', orderType: 'STOP_MARKET', size, price: (P0 * 50n) / 100n, triggerPrice: (P0 * 60n) / 100n, reduceOnly: true, timeInForce: 'IOC' } : { side: 'BUY', orderType: 'TAKE_PROFIT_MARKET', size: E8 / 2n, price: (P0 * 110n) / 100n, triggerPrice: (P0 * 85n) / 100n, reduceOnly: true, timeInForce: 'IOC' }),
      );
      check(t.record.status === 'UNTRIGGERED', '1', `TP/SL of account ${i}: ${t.record.status} ${t.record.reason ?? ''}`);
      tpsl.push(t.record.signed.hash);
    }
    placed.finish(`${o.accounts * 2} orders placed`);
    await node.producer.sealNow();

    // ---- 2. checkpoint, legit trading, corrupted funding index while stopped ----------------
    const cp = await node.maintenance.checkpoint('pre-maintenance');
    log.info(`step 2: checkpoint pre-maintenance at block ${cp.height}`);
    const P1 = (P0 * 102n) / 100n;
    await setPrice(P1);
    const profitable = Math.min(20, half);
    for (let i = 0; i < profitable; i++) {
      await node.exchange.submitOrder(order(i, { side: 'SELL', size: E8 / 2n, price: P1, reduceOnly: true }));
      const r = await node.exchange.submitOrder(order(half + i, { side: 'BUY', size: E8 / 2n, price: P1, timeInForce: 'IOC', reduceOnly: true }));
      check(r.fills.length === 1, '2', `legit trade ${i} did not fill (${r.record.status} ${r.record.reason ?? ''})`);
    }
    await node.producer.sealNow();
    await node.stop();
    const fundingKey = { address: cfg.exchangeAddress, key: marketBase(btc.id) + MKT.fundingIndex };
    const original = await rawGet(dataDir, fundingKey);
    await rawSet(dataDir, fundingKey, 0n === original ? 1n : 0n); // "reset" the index
    let refusal = '';
    try {
      node = await start();
    } catch (e) {
      refusal = (e as Error).message;
    }
    check(refusal.includes(`funding index of ${btc.symbol}`), '2', `restart on a corrupted funding index was not refused by name (got: ${refusal || 'it started'})`);
    log.info(`step 2: restart refused: ${refusal.split(':').slice(0, 2).join(':')}`);
    await rawSet(dataDir, fundingKey, original);
    node = await start();

    // ---- 3. the fault: bogus but correctly signed prices -----------------------------------
    log.info('step 3: bogus oracle prices; the sequencer liquidates healthy longs');
    const faultTxs: bigint[] = [];
    let p = P1;
    for (let k = 0; k < 3; k++) {
      p = (p * 91n) / 100n;
      faultTxs.push((await setPrice(p - (p % btc.tickSize))).hash);
      await node.producer.sealNow();
    }
    for (let k = 0; k < 6; k++) await node.producer.sealNow(true);
    const orphanState = node.producer.m.world;
    const before = new Map<bigint, bigint>();
    let liquidated = 0;
    for (let i = 0; i < half; i++) {
      const v = getAccountView(orphanState.newBlock(), cfg, addrs[i]!);
      const pos = v.positions.find((x) => x.market === btc.symbol)?.size ?? 0n;
      const expected = i < profitable ? size - E8 / 2n : size;
      if (pos < expected) liquidated++;
      before.set(addrs[i]!, pos);
    }
    check(liquidated > 0, '3', 'the bogus prices liquidated nobody');

    // ---- 4. rollback to pre-maintenance -----------------------------------------------------
    log.info(`step 4: ${liquidated} longs liquidated; rolling back to pre-maintenance`);
    const incident = 0x1ec1den;
    const rb = await node.maintenance.rollback(cp.height, 'bogus oracle prices', incident);
    check(rb.rootAfterRollback === cp.state_root, '4', `state root after rollback ${toHex(rb.rootAfterRollback)} is not the checkpoint's ${toHex(cp.state_root)}`);
    for (const h of resting) check((await node.exchange.getOrder(h))?.status === 'CANCELLED', '4', `resting order ${toHex(h)} was not cancelled`);
    for (const h of tpsl) check((await node.exchange.getOrder(h))?.status === 'UNTRIGGERED', '4', `TP/SL order ${toHex(h)} is not active after the rollback`);
    check(node.maintenance.mode() === 'CANCEL_ONLY', '4', `mode after rollback is ${node.maintenance.mode()}`);

    // ---- 5. audit and refunds ---------------------------------------------------------------
    log.info('step 5: audit and refunds');
    const report = await audit(node.chain.db, node.chain.chain, node.chain.world, g, incident, { txs: faultTxs });
    const harmed = report.accounts.filter((a) => a.harmed);
    const harmedSet = new Set(harmed.map((a) => a.address));
    for (let i = 0; i < half; i++) {
      const expected = i < profitable ? size - E8 / 2n : size;
      const wasLiquidated = (before.get(addrs[i]!) ?? 0n) < expected;
      check(wasLiquidated === harmedSet.has(addrs[i]!), '5', `account ${i} liquidated=${wasLiquidated} but audit harmed=${harmedSet.has(addrs[i]!)}`);
    }
    for (let i = half; i < o.accounts; i++) check(!harmedSet.has(addrs[i]!), '5', `short account ${i} listed as harmed`);
    const st0 = node.producer.m.world.newBlock();
    const vaultBefore = getVaultView(st0, cfg).balance;
    const colBefore = new Map(addrs.map((a) => [a, getAccountView(st0, cfg, a).collateral]));
    const plan = parsePlan(reportToJson(report));
    const paid = await executeRefunds(node.producer, cfg, plan);
    const st1 = node.producer.m.world.newBlock();
    const vaultDebit = vaultBefore - getVaultView(st1, cfg).balance;
    check(vaultDebit === paid.total, '5', `vault debit ${vaultDebit} differs from the refunds ${paid.total}`);
    for (const a of report.accounts) {
      const now = getAccountView(st1, cfg, a.address).collateral;
      if (a.harmed && a.refund > 0n) check(now === a.collateral.reference, '5', `harmed ${toHex(a.address)}: collateral ${now} after refund, reference run gives ${a.collateral.reference}`);
    }
    for (const a of addrs)
      if (!harmedSet.has(a)) check(getAccountView(st1, cfg, a).collateral === colBefore.get(a), '5', `unaffected account ${toHex(a)} changed`);
    const again = await executeRefunds(node.producer, cfg, plan);
    check(again.total === 0n, '5', 'a second run of the same plan paid again');
    check(plan.entries.length > 0, '5', 'the plan has no refunds (the legit profits were not found)');
    // A harmed account's refund is max(0, reference − canonical): the rollback itself gave back
    // what the fault took whenever the canonical chain already holds at least the fault-free
    // outcome; only gains made legitimately on the rolled-back branch are owed.
    const restored = harmed.filter((a) => a.refund === 0n && a.alreadyRefunded === 0n).length;
    const paidBefore = harmed.filter((a) => a.alreadyRefunded > 0n).length;
    const whyNone =
      restored + paidBefore === 0
        ? null
        : [
            restored ? `${restored} harmed account(s) get no refund because the rollback already restored them: their collateral on the canonical chain is at least what the fault-free reference run gives them (refund = max(0, reference - canonical)); only accounts whose legitimate gains on the rolled-back branch were lost are owed the difference` : '',
            paidBefore ? `${paidBefore} were refunded earlier for this incident` : '',
          ]
            .filter(Boolean)
            .join('; ');
    const totalUsdc = formatUnits(paid.total, 6);
    log.info(`drill passed: ${harmed.length} harmed accounts, ${plan.entries.length} refunds totalling ${totalUsdc} USDC (${paid.total} base units)`);
    if (whyNone) log.info(whyNone);
    return {
      dataDir,
      accounts: o.accounts,
      checkpoint: { height: Number(cp.height), state_root: toHex(cp.state_root) },
      corruptedIndexRefusal: refusal,
      liquidatedOnOrphan: liquidated,
      rollback: { target_height: Number(cp.height), root_matches_checkpoint: true, cancelled_orders: rb.cancelled.length, kept_tp_sl: rb.kept.length },
      audit: { harmed: harmed.length, refunds: plan.entries.length, total: paid.total.toString(), total_usdc: totalUsdc, harmed_without_refund: restored + paidBefore, why_no_refund: whyNone, report: reportToJson(report) },
      vaultDebit: vaultDebit.toString(),
    };
  } finally {
    await node.stop().catch(() => undefined);
    if (!o.keep && !o.dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

async function withDb<T>(dataDir: string, fn: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dataDir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** A storage slot read and written behind the node's back (the node is stopped). */
type Slot = { address: bigint; key: bigint };

async function rawGet(dataDir: string, slot: Slot): Promise<bigint> {
  return withDb(dataDir, async (db) => (await Tables.storage.get(db, slot)) ?? 0n);
}

async function rawSet(dataDir: string, slot: Slot, value: bigint): Promise<void> {
  await withDb(dataDir, (db) => writeBatch(db, [value === 0n ? Tables.storage.del(slot) : Tables.storage.put(slot, value)]));
}
