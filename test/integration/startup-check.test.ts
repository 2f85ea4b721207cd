/**
 * The start-up check of the stored state while the node serves (--state-check while-serving,
 * node/node.ts and Producer.runStartupCheck): reads are answered at once; until the digest over
 * every flat entry has passed, transactions are refused with 11012 over JSON-RPC, /ready says
 * why, and nothing is sealed; a failed check halts production and stops the node with the same
 * "refusing to start" message as before, with nothing signed; stopping during the check ends it.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { createSigner, PerpClient, PerpRpcError } from '../../node/client/index.ts';
import { bigIntToBytes32, storageKey } from '../../node/storage/schema.ts';
import { readSignerRecord } from '../../node/chain/signer-record.ts';
import { startTestSequencer } from '../helpers/sequencer.ts';
import { tempDir } from '../helpers/tmp.ts';
import { runCli } from '../helpers/proc.ts';

/** A check that runs until the test lets it finish (pass or fail), or the node stops it. */
function heldCheck() {
  let release!: (fail?: string) => void;
  const outcome = new Promise<string | undefined>((r) => (release = r));
  const started: { signal?: AbortSignal } = {};
  const check = (signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      started.signal = signal;
      void outcome.then((fail) => (fail ? reject(new Error(fail)) : resolve()));
      signal.addEventListener('abort', () => reject(signal.reason));
    });
  return { check, release, started };
}

const ready = async (url: string) => {
  const r = await fetch(`${url}/ready`);
  return { status: r.status, body: (await r.json()) as { starting: string | null; reasons: string[] } };
};

async function refusedCode(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (e instanceof PerpRpcError) return e.code;
    throw e;
  }
}

describe('start-up check while serving', function () {
  this.timeout(120_000);

  it('while the check runs: reads answer, orders are refused with 11012, /ready is 503 naming it, nothing is sealed; then trading starts', async () => {
    const t = tempDir();
    const node = await startTestSequencer(t.path, { verifyWorkers: 0 });
    try {
      const dev = node.chain.genesis.exchange.devAccounts[0]!;
      const client = new PerpClient(node.rpcUrl);
      const wallet = createSigner(dev.privateKey!);
      const before = await ready(node.rpcUrl);
      expect(before.status, JSON.stringify(before.body)).to.equal(200);
      expect(before.body.starting).to.equal(null);

      const held = heldCheck();
      const done = node.producer.runStartupCheck('checking the stored state (test)', held.check);
      const head = node.producer.head.number;
      expect((await client.getAccount(dev.address)).deployed).to.equal(true);
      const order = { market: node.chain.genesis.exchange.markets[0]!.symbol, side: 'BUY' as const, size: '0.01', price: '1000' };
      expect(await refusedCode(client.submitOrder(wallet, order))).to.equal(11012);
      const during = await ready(node.rpcUrl);
      expect(during.status).to.equal(503);
      expect(during.body.starting).to.contain('checking the stored state (test)');
      expect(during.body.reasons.join('; ')).to.contain('starting:');
      const sealing = node.producer.sealNow(true); // waits for the check: nothing is sealed on unproven state
      expect(node.producer.head.number).to.equal(head);

      held.release();
      expect(await done).to.equal(true);
      expect(await sealing, 'the heartbeat waited for the check, then sealed').to.not.equal(null);
      expect(node.producer.head.number).to.equal(head + 1n);
      const placed = await client.submitOrder(wallet, order);
      expect(placed.status).to.equal('OPEN');
      expect((await ready(node.rpcUrl)).status).to.equal(200);
    } finally {
      await node.stop();
      t.cleanup();
    }
  });

  it('a failed check halts production for good: orders get 11003 and nothing more is signed', async () => {
    const t = tempDir();
    const node = await startTestSequencer(t.path, { verifyWorkers: 0 });
    try {
      const signed = readSignerRecord(node.chain.dir.dataDir)!;
      const held = heldCheck();
      const done = node.producer.runStartupCheck('checking the stored state (test)', held.check);
      held.release('the stored state was altered (test)');
      let err: Error | undefined;
      await done.catch((e) => (err = e));
      expect(err?.message).to.contain('altered (test)');
      expect(node.producer.halted).to.contain('the start-up check failed');
      const dev = node.chain.genesis.exchange.devAccounts[0]!;
      const order = { market: node.chain.genesis.exchange.markets[0]!.symbol, side: 'BUY' as const, size: '0.01', price: '1000' };
      expect(await refusedCode(new PerpClient(node.rpcUrl).submitOrder(createSigner(dev.privateKey!), order))).to.equal(11003);
      expect(await node.producer.sealNow(true)).to.equal(null);
      expect(readSignerRecord(node.chain.dir.dataDir)).to.deep.equal(signed);
    } finally {
      await node.stop();
      t.cleanup();
    }
  });

  it('stopping the node during the check cancels it: stop completes and the check reports it did not pass', async () => {
    const t = tempDir();
    const node = await startTestSequencer(t.path, { verifyWorkers: 0 });
    const held = heldCheck();
    const done = node.producer.runStartupCheck('checking the stored state (test)', held.check);
    await node.stop();
    expect(held.started.signal?.aborted).to.equal(true);
    expect(await done).to.equal(false);
    expect(node.producer.halted).to.equal(null);
    t.cleanup();
  });

  it('an altered flat value found while serving: stateChecked rejects with "refusing to start", the node stops itself, nothing is signed; `start` exits 1', async () => {
    const t = tempDir();
    let node = await startTestSequencer(t.path, { verifyWorkers: 0 });
    const acct = node.chain.genesis.exchange.devAccounts[0]!.address;
    await node.producer.sealNow(true);
    const dataDir = node.chain.dir.dataDir;
    await node.stop();
    const signed = readSignerRecord(dataDir)!;
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dataDir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    await db.put(storageKey(acct, 0x777n), bigIntToBytes32(5n));
    await db.close();
    try {
      node = await startTestSequencer(t.path, { verifyWorkers: 0, stateCheck: 'while-serving' });
      let err: Error | undefined;
      await node.stateChecked.catch((e) => (err = e));
      expect(err?.message).to.contain('refusing to start');
      expect(err?.message).to.contain('0x777');
      expect(node.producer.halted).to.contain('the start-up check failed');
      expect(await fetch(node.rpcUrl).then(() => 'answered', () => 'closed')).to.equal('closed');
      expect(readSignerRecord(dataDir)).to.deep.equal(signed);

      const r = await runCli(['start', '--data-dir', dataDir, '--rpc-port', '0', '--admin-port', 'off', '--p2p-port', 'off', '--feeder', 'off']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('refusing to start');
      expect(r.stderr).to.contain('0x777');
      expect(readSignerRecord(dataDir)).to.deep.equal(signed);
    } finally {
      t.cleanup();
    }
  });

  it('--state-check before-serving: the same altered value refuses the start before anything is served', async () => {
    const t = tempDir();
    const node = await startTestSequencer(t.path, { verifyWorkers: 0 });
    const acct = node.chain.genesis.exchange.devAccounts[0]!.address;
    const dataDir = node.chain.dir.dataDir;
    await node.stop();
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dataDir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    await db.put(storageKey(acct, 0x778n), bigIntToBytes32(6n));
    await db.close();
    try {
      const r = await runCli(['start', '--data-dir', dataDir, '--rpc-port', '0', '--admin-port', 'off', '--p2p-port', 'off', '--feeder', 'off', '--state-check', 'before-serving']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('refusing to start');
      expect(r.stderr).to.contain('0x778');
      expect(r.stderr).to.not.contain('JSON-RPC on');
      const bad = await runCli(['start', '--data-dir', dataDir, '--state-check', 'later']);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.contain('--state-check must be while-serving or before-serving');
    } finally {
      t.cleanup();
    }
  });
});
