import { expect } from 'chai';
import type { RunningNode } from '../../node/node.ts';
import { startTestSequencer } from '../helpers/sequencer.ts';
import { executeRefunds, parsePlan } from '../../node/incident/refund.ts';
import { getAccountView, getVaultView } from '../../contracts-ts/index.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('refund plans', function () {
  this.timeout(60_000);
  let t: ReturnType<typeof tempDir>;
  let node: RunningNode;
  before(async () => {
    t = tempDir();
    node = await startTestSequencer(t.path);
  });
  after(async () => {
    await node.stop();
    t.cleanup();
  });

  it('pays each (incident, account) once, debits the vault by the total, refuses a plan the vault cannot cover', async () => {
    const cfg = node.chain.genesis.exchange;
    const [a, b] = cfg.devAccounts.map((x) => x.address);
    const view = () => node.producer.m.world.newBlock();
    const vault0 = getVaultView(view(), cfg).balance;
    const col = (x: bigint) => getAccountView(view(), cfg, x).collateral;
    const a0 = col(a!);
    const b0 = col(b!);
    const tooBig = parsePlan({ incident_id: '0x1', entries: [{ account: '0x' + a!.toString(16), amount: (vault0 + 1n).toString() }] });
    let err: Error | undefined;
    try {
      await executeRefunds(node.producer, cfg, tooBig);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/Liquidator Vault holds .* nothing was paid/);
    expect(getVaultView(view(), cfg).balance).to.equal(vault0);
    const plan = parsePlan({ incident_id: '0x1', entries: [{ account: '0x' + a!.toString(16), amount: '1500000' }, { account: '0x' + b!.toString(16), amount: '2500000' }] });
    const r = await executeRefunds(node.producer, cfg, plan);
    expect(r.total).to.equal(4_000_000n);
    expect(col(a!) - a0).to.equal(1_500_000n);
    expect(col(b!) - b0).to.equal(2_500_000n);
    expect(vault0 - getVaultView(view(), cfg).balance).to.equal(4_000_000n);
    const again = await executeRefunds(node.producer, cfg, plan);
    expect(again.total).to.equal(0n);
    expect(again.skipped).to.have.length(2);
    expect(() => parsePlan({ incident_id: '0x1', entries: [{ account: '0x1', amount: '-5' }] })).to.throw(/decimal string/);
    expect(() => parsePlan({ incident_id: '0x1', entries: [{ account: '0x1', amount: '5' }, { account: '0x1', amount: '6' }] })).to.throw(/twice/);
  });
});
