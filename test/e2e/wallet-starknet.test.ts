/**
 * `perpnode wallet call` and `perpnode wallet invoke` against a devnet node: a view through
 * starknet_call, a withdrawal through the account as an INVOKE v3, and bad arguments refused
 * before anything is sent.
 */
import { expect } from 'chai';
import { runCli } from '../helpers/proc.ts';
import { startTestNode, type TestNode } from '../integration/rpc.fixtures.ts';
import { fromFelt } from '../../contracts-ts/math.ts';

const hex = (x: bigint) => '0x' + x.toString(16);

describe('perpnode wallet call / invoke (e2e)', function () {
  this.timeout(120_000);
  let t: TestNode;
  before(async () => (t = await startTestNode({ blockTimeMs: 50 })));
  after(async () => t?.stop());

  it('call reads a view; invoke withdraws through the account in one INVOKE; the balance moves by exactly that', async () => {
    const a = t.node.chain.genesis.exchange.devAccounts[0]!;
    const w = ['--rpc', t.url];
    const collateral = async () => {
      const r = await runCli(['wallet', 'call', '--contract', 'exchange', '--function', 'get_collateral', '--calldata', hex(a.address), ...w]);
      expect(r.code, r.stderr).to.equal(0);
      return fromFelt(BigInt(JSON.parse(r.stdout).result[0]));
    };
    const before = await collateral();
    expect(before).to.equal(a.balance);
    const nonce = BigInt(await t.call('starknet_getNonce', { block_id: 'latest', contract_address: hex(a.address) }));
    const inv = await runCli(['wallet', 'invoke', '--key', hex(a.privateKey!), '--contract', 'exchange', '--function', 'withdraw', '--calldata', '2500000,0xab', '--wait', ...w]);
    expect(inv.code, inv.stderr).to.equal(0);
    const out = JSON.parse(inv.stdout);
    expect(out.finality_status).to.equal('ACCEPTED_ON_L2');
    const tx = await t.call('starknet_getTransactionByHash', { transaction_hash: out.transaction_hash });
    expect(tx).to.include({ type: 'INVOKE', version: '0x3', sender_address: hex(a.address), nonce: hex(nonce) });
    expect(await collateral()).to.equal(before - 2_500_000n);
    // at an older block the view answers the old value
    const old = await runCli(['wallet', 'call', '--contract', 'exchange', '--function', 'get_collateral', '--calldata', hex(a.address), '--block', '0', ...w]);
    expect(fromFelt(BigInt(JSON.parse(old.stdout).result[0]))).to.equal(before);
    // a rule the chain enforces: named, nothing changed
    const tooMuch = await runCli(['wallet', 'invoke', '--key', hex(a.privateKey!), '--contract', 'exchange', '--function', 'withdraw', '--calldata', (10n ** 15n).toString() + ',0xab', ...w]);
    expect(tooMuch.code).to.equal(1);
    expect(tooMuch.stderr).to.contain('INSUFFICIENT_COLLATERAL');
    const unknown = await runCli(['wallet', 'call', '--contract', 'exchange', '--function', 'steal', ...w]);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.match(/entry point/i);
    expect(await collateral()).to.equal(before - 2_500_000n);
    // usage errors (exit 2) before anything is sent
    for (const args of [['call', '--function', 'get_mode'], ['call', '--contract', 'nowhere', '--function', 'get_mode'], ['call', '--contract', 'exchange', '--function', 'get_mode', '--calldata', '1.5'], ['call', '--contract', 'exchange', '--function', 'get_mode', '--block', 'soon']]) {
      const r = await runCli(['wallet', ...args, '--rpc', 'http://127.0.0.1:1']);
      expect(r.code, args.join(' ')).to.equal(2);
    }
  });
});
