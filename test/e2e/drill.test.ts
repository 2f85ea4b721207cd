import { expect } from 'chai';
import { runCli } from '../helpers/proc.ts';

describe('incident drill (e2e, perpnode drill)', function () {
  this.timeout(300_000);
  it('200 accounts: corrupted index refused, wrongful liquidations rolled back, TP/SL kept, harmed accounts refunded exactly', async () => {
    const r = await runCli(['drill', '--accounts', '200', '--log-level', 'warn'], { timeoutMs: 280_000 });
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout);
    expect(out.accounts).to.equal(200);
    expect(out.corruptedIndexRefusal).to.contain('funding index of BTC-USD-PERP');
    expect(out.liquidatedOnOrphan).to.be.greaterThan(0);
    expect(out.rollback.root_matches_checkpoint).to.equal(true);
    expect(out.rollback.kept_tp_sl).to.equal(200);
    expect(out.rollback.cancelled_orders).to.equal(200);
    expect(out.audit.harmed).to.equal(out.liquidatedOnOrphan);
    expect(out.audit.refunds).to.be.greaterThan(0);
    expect(out.vaultDebit).to.equal(out.audit.total);
    // every harmed account without a refund is accounted for, and the drill says why
    expect(out.audit.harmed_without_refund).to.equal(out.audit.harmed - out.audit.refunds);
    if (out.audit.harmed_without_refund > 0) expect(out.audit.why_no_refund).to.contain(`${out.audit.harmed_without_refund} harmed account(s) get no refund because the rollback already restored them`);
    expect(Number(out.audit.total_usdc) * 1e6).to.be.closeTo(Number(out.audit.total), 1);
  });
});
