/**
 * The benchmark's helper thread: key derivation, account set-up signatures, and signing the
 * workload (orders, cancels, oracle updates). Nothing here runs inside the measured sequencer;
 * it only prepares inputs (cached in bench/.cache), so the run measures the node, not the client.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getStarkKey, sign, useBackend } from '../../node/crypto/index.ts';
import { Point } from '@scure/starknet';
import { accountAddresses } from '../../contracts-ts/classes.ts';
import { accountAddress, cancelHash, deployAccountHash, depositHash, oracleUpdateHash, orderHash, type Order } from '../../contracts-ts/index.ts';

export type Task =
  | { kind: 'keys'; sks: bigint[] }
  /** Keys sk0, sk0 + 1, …: one point addition each instead of a scalar multiplication. */
  | { kind: 'keyRange'; sk0: bigint; count: number }
  | { kind: 'setup'; chainId: bigint; operatorSk: bigint; operatorPk: bigint; accounts: { sk: bigint; pk: bigint; addr: bigint; depositId: bigint; amount: bigint }[] }
  | { kind: 'orders'; chainId: bigint; items: { order: Order; sk: bigint }[] }
  | { kind: 'cancels'; chainId: bigint; items: { account: bigint; orderHash: bigint; sk: bigint }[] }
  | { kind: 'oracles'; chainId: bigint; signerPk: bigint; signerSk: bigint; items: { timestamp: bigint; prices: { market: string; price: bigint }[] }[] };

export type TaskResult =
  | { kind: 'keys'; pks: bigint[]; addrs: bigint[] }
  | { kind: 'setup'; deploySigs: [bigint, bigint][]; depositSigs: [bigint, bigint][] }
  | { kind: 'signed'; hashes: bigint[]; sigs: [bigint, bigint][] };

function sig(h: bigint, sk: bigint): [bigint, bigint] {
  const s = sign(h, sk);
  return [s.r, s.s];
}

function runTask(t: Task): TaskResult {
  switch (t.kind) {
    case 'keys': {
      const pks = t.sks.map((k) => getStarkKey(k));
      return { kind: 'keys', pks, addrs: pks.map((pk) => accountAddress(pk)) };
    }
    case 'keyRange': {
      const pks: bigint[] = [];
      let p = Point.BASE.multiply(t.sk0);
      for (let i = 0; i < t.count; i++) {
        if (i > 0) p = p.add(Point.BASE);
        pks.push(p.toAffine().x);
      }
      return { kind: 'keys', pks, addrs: accountAddresses(pks) };
    }
    case 'setup':
      return {
        kind: 'setup',
        deploySigs: t.accounts.map((a) => sig(deployAccountHash(a.pk, t.chainId), a.sk)),
        depositSigs: t.accounts.map((a) => sig(depositHash({ depositId: a.depositId, recipient: a.addr, amount: a.amount }, t.operatorPk, t.chainId), t.operatorSk)),
      };
    case 'orders': {
      const hashes = t.items.map((i) => orderHash(i.order, t.chainId));
      return { kind: 'signed', hashes, sigs: t.items.map((i, k) => sig(hashes[k]!, i.sk)) };
    }
    case 'cancels': {
      const hashes = t.items.map((i) => cancelHash({ account: i.account, orderHash: i.orderHash }, t.chainId));
      return { kind: 'signed', hashes, sigs: t.items.map((i, k) => sig(hashes[k]!, i.sk)) };
    }
    case 'oracles': {
      const hashes = t.items.map((i) => oracleUpdateHash(i, t.signerPk, t.chainId));
      return { kind: 'signed', hashes, sigs: hashes.map((h) => sig(h, t.signerSk)) };
    }
  }
}

const port = parentPort!;
try {
  await useBackend((workerData as { backend: 'js' | 'native' }).backend);
  port.on('message', (m: { id: number; task: Task }) => {
    try {
      port.postMessage({ id: m.id, result: runTask(m.task) });
    } catch (e) {
      port.postMessage({ id: m.id, error: (e as Error).stack ?? String(e) });
    }
  });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ error: (e as Error).stack ?? String(e) });
}
