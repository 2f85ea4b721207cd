/**
 * Unmodified starknet.js against a real perpnode process, the way a wallet uses a Starknet
 * node: Account.deployAccount, Account.execute of exchange calls (transfer + withdraw in one
 * multicall), waitForTransaction, a Contract built from getClassAt's ABI, callContract,
 * estimateInvokeFee, simulateTransaction, verifyMessageInStarknet of a signed order, traces,
 * the served classes' hashes, and bad input answered with the spec's errors, changing nothing.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Account, CallData, Contract, ec, hash as snHash, RpcProvider, stark, typedData, type TypedData } from 'starknet';
import { ROOT, startNodeProc, type NodeProc } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

const BTC = 'BTC-USD-PERP';
const hex = (x: bigint) => '0x' + x.toString(16);
const big = (rb: any) => Object.fromEntries(Object.entries(rb).map(([k, v]: [string, any]) => [k, { max_amount: BigInt(v.max_amount), max_price_per_unit: BigInt(v.max_price_per_unit) }]));
let nextId = 1;
async function raw(url: string, method: string, params?: unknown): Promise<{ result?: any; error?: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }) });
  return (await res.json()) as any;
}
async function rpc(url: string, method: string, params?: unknown): Promise<any> {
  const j = await raw(url, method, params);
  if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result;
}

describe('starknet.js Account + Contract against a perpnode process (e2e)', function () {
  this.timeout(180_000);
  let tmp: ReturnType<typeof tempDir>;
  let node: NodeProc;
  let provider: RpcProvider;
  let cfg: any;
  let dev: { address: string; private_key: string }[];
  let account: Account;
  let priv: string;
  let address: string;
  let exchange: Contract;

  before(async () => {
    tmp = tempDir();
    const genesis = JSON.parse(readFileSync(join(ROOT, 'genesis/devnet.json'), 'utf8'));
    genesis.block_time_ms = 100;
    genesis.heartbeat_ms = 300;
    const g = join(tmp.path, 'genesis.json');
    writeFileSync(g, JSON.stringify(genesis));
    node = await startNodeProc(['--data-dir', join(tmp.path, 'data'), '--genesis', g, '--feeder', 'off', '--p2p-port', 'off']);
    provider = new RpcProvider({ nodeUrl: node.url });
    cfg = await rpc(node.url, 'perp_getConfig');
    dev = genesis.exchange.dev_accounts;
    priv = stark.randomAddress();
    const pub = ec.starkCurve.getStarkKey(priv);
    address = snHash.calculateContractAddressFromHash(pub, cfg.class_hashes.account, [pub], 0);
    account = new Account({ provider, address, signer: priv });
  });
  after(async () => {
    await node?.stop();
    tmp?.cleanup();
  });

  it('every served class hashes (starknet.js computeSierraContractClassHash) to its class hash', async () => {
    for (const h of Object.values(cfg.class_hashes) as string[]) {
      const c: any = await provider.getClassByHash(h);
      expect(c.contract_class_version).to.equal('0.1.0');
      expect(BigInt(snHash.computeSierraContractClassHash(c))).to.equal(BigInt(h));
      expect(await provider.isClassDeclared({ classHash: h })).to.equal(true);
    }
    expect(BigInt(snHash.computeSierraContractClassHash((await provider.getClassAt(cfg.exchange_address)) as any))).to.equal(BigInt(cfg.class_hashes.exchange));
    expect(await provider.isClassDeclared({ classHash: '0x1234' })).to.equal(false);
    const casm = await raw(node.url, 'starknet_getCompiledCasm', { class_hash: cfg.class_hashes.account });
    expect(casm.error.code).to.equal(100);
    expect((await raw(node.url, 'starknet_getCompiledCasm', { class_hash: '0x1234' })).error.code).to.equal(28);
  });

  it('Account.deployAccount deploys at the address the node derives; waitForTransaction', async () => {
    const pub = ec.starkCurve.getStarkKey(priv);
    const r = await account.deployAccount({ classHash: cfg.class_hashes.account, constructorCalldata: [pub], addressSalt: pub, contractAddress: address });
    expect(BigInt(r.contract_address)).to.equal(BigInt(address));
    const receipt: any = await provider.waitForTransaction(r.transaction_hash, { retryInterval: 100 });
    expect(receipt.isSuccess()).to.equal(true);
    expect(await provider.getClassHashAt(address)).to.equal(cfg.class_hashes.account);
    expect(await provider.getNonceForAddress(address)).to.equal('0x1');
    const tx: any = await provider.getTransactionByHash(r.transaction_hash);
    expect(tx.type).to.equal('DEPLOY_ACCOUNT');
    expect(tx.class_hash).to.equal(cfg.class_hashes.account);
    await provider.waitForTransaction((await rpc(node.url, 'devnet_mint', { address, amount: '1000000000' })).transaction_hash, { retryInterval: 100 });
  });

  it('a Contract from getClassAt\'s ABI reads balances; Account.execute runs a transfer and a withdraw in one transaction', async () => {
    const { abi } = await provider.getClassAt(cfg.exchange_address);
    exchange = new Contract({ abi, address: cfg.exchange_address, providerOrAccount: account });
    expect(await exchange.get_collateral(address)).to.equal(1_000_000_000n);
    const before = BigInt(await exchange.get_collateral(dev[0]!.address));
    const nonce = await provider.getNonceForAddress(address);
    const calls = [exchange.populate('transfer', [dev[0]!.address, 5_000_000n]), exchange.populate('withdraw', [1_000_000n, '0xabc'])];
    const r = await account.execute(calls);
    const receipt: any = await provider.waitForTransaction(r.transaction_hash, { retryInterval: 100 });
    expect(receipt.isSuccess()).to.equal(true);
    expect(receipt.events.map((e: any) => e.keys[0])).to.deep.equal([snHash.getSelectorFromName('Transfer'), snHash.getSelectorFromName('Withdraw')].map((x) => hex(BigInt(x))));
    expect(await exchange.get_collateral(address)).to.equal(1_000_000_000n - 6_000_000n);
    expect(await exchange.get_collateral(dev[0]!.address)).to.equal(before + 5_000_000n);
    expect(BigInt(await provider.getNonceForAddress(address))).to.equal(BigInt(nonce) + 1n);
    // the same transaction, as the node stores and serves it: Starknet's v3 hash of its fields
    const tx: any = await provider.getTransactionByHash(r.transaction_hash);
    expect(tx.type).to.equal('INVOKE');
    expect(BigInt(tx.sender_address)).to.equal(BigInt(address));
    const rebuilt = snHash.calculateInvokeTransactionHash({
      senderAddress: tx.sender_address,
      version: tx.version,
      compiledCalldata: tx.calldata,
      chainId: cfg.chain_id,
      nonce: tx.nonce,
      accountDeploymentData: tx.account_deployment_data,
      nonceDataAvailabilityMode: 0,
      feeDataAvailabilityMode: 0,
      resourceBounds: big(tx.resource_bounds),
      tip: tx.tip,
      paymasterData: tx.paymaster_data,
    } as any);
    expect(BigInt(rebuilt)).to.equal(BigInt(r.transaction_hash));
    // its trace: __validate__, then __execute__ with one nested call per multicall entry
    const trace: any = await provider.getTransactionTrace(r.transaction_hash);
    expect(trace.type).to.equal('INVOKE');
    expect(trace.execute_invocation.calls.map((c: any) => c.entry_point_selector)).to.deep.equal(['transfer', 'withdraw'].map((n) => hex(BigInt(snHash.getSelectorFromName(n)))));
    expect(trace.execute_invocation.calls[1].events[0].keys[0]).to.equal(hex(BigInt(snHash.getSelectorFromName('Withdraw'))));
    expect(trace.state_diff.nonces).to.deep.include({ contract_address: hex(BigInt(address)), nonce: hex(BigInt(nonce) + 1n) });
    const block: any = await rpc(node.url, 'starknet_traceBlockTransactions', { block_id: { block_number: receipt.block_number } });
    expect(block.map((x: any) => x.transaction_hash)).to.include(r.transaction_hash);
  });

  it('callContract, estimateInvokeFee and simulateTransaction', async () => {
    const mode = await provider.callContract({ contractAddress: cfg.exchange_address, entrypoint: 'get_mode', calldata: [] });
    expect(mode).to.deep.equal([hex(BigInt('0x' + Buffer.from('NORMAL').toString('hex')))]);
    const pos = await exchange.get_position(address, '0x' + Buffer.from(BTC).toString('hex'));
    expect(Object.values(pos as any)).to.deep.equal([0n, 0n, 0n]);
    expect((await exchange.get_mark_price('0x' + Buffer.from(BTC).toString('hex'))) > 0n).to.equal(true);
    const call = exchange.populate('withdraw', [1_000_000n, '0xabc']);
    const est: any = await account.estimateInvokeFee(call);
    expect(BigInt(est.overall_fee)).to.equal(0n);
    expect(est.unit).to.equal('FRI');
    const collateral = await exchange.get_collateral(address);
    const simulated: any = await account.simulateTransaction([{ type: 'INVOKE', payload: [call] } as any]);
    const sim = simulated.simulated_transactions;
    expect(sim).to.have.length(1);
    expect(sim[0].transaction_trace.execute_invocation.calls[0].entry_point_selector).to.equal(hex(BigInt(snHash.getSelectorFromName('withdraw'))));
    expect(await exchange.get_collateral(address)).to.equal(collateral); // a simulation changes nothing
    // an estimate of a call the rules refuse answers TRANSACTION_EXECUTION_ERROR
    const tooMuch = exchange.populate('withdraw', [10n ** 15n, '0xabc']);
    const err: any = await account.estimateInvokeFee(tooMuch).catch((e) => e);
    expect(String(err.message)).to.match(/41|Transaction execution error/);
  });

  it('verifyMessageInStarknet checks a signed order through is_valid_signature (SNIP-6)', async () => {
    const td: TypedData = {
      types: { StarknetDomain: [{ name: 'name', type: 'shortstring' }, { name: 'version', type: 'shortstring' }, { name: 'chainId', type: 'shortstring' }, { name: 'revision', type: 'shortstring' }], Order: cfg.typed_data_types.Order },
      primaryType: 'Order',
      domain: cfg.typed_data_domain,
      message: { account: address, market: BTC, side: 'BUY', orderType: 'LIMIT', timeInForce: 'GTC', size: '1000000', price: '6000000000000', triggerPrice: '0', reduceOnly: false, expiry: String(Math.floor(Date.now() / 1000) + 3600), salt: '0x77' },
    } as TypedData;
    const sig = await account.signMessage(td);
    expect(await provider.verifyMessageInStarknet(td, sig, address)).to.equal(true);
    const other = ec.starkCurve.sign(typedData.getMessageHash(td, address), dev[1]!.private_key);
    expect(await provider.verifyMessageInStarknet(td, [hex(other.r), hex(other.s)], address)).to.equal(false);
    // the same signature places the order through perp_submitOrder
    const s = Array.isArray(sig) ? sig.map((x: any) => hex(BigInt(x))) : [hex((sig as any).r), hex((sig as any).s)];
    const placed = await rpc(node.url, 'perp_submitOrder', { order: td.message, signature: s });
    expect(placed.order_hash).to.equal(hex(BigInt(typedData.getMessageHash(td, address))));
  });

  it('bad input to every new method gets the spec\'s error and changes nothing', async () => {
    const nonce = await provider.getNonceForAddress(address);
    const collateral = await exchange.get_collateral(address);
    const call = exchange.populate('withdraw', [1_000_000n, '0xabc']);
    const bounds = { l1_gas: { max_amount: '0x0', max_price_per_unit: '0x0' }, l1_data_gas: { max_amount: '0x0', max_price_per_unit: '0x0' }, l2_gas: { max_amount: '0x0', max_price_per_unit: '0x0' } };
    const invoke = (calldata: string[], n: string, signer = priv, over: Record<string, unknown> = {}) => {
      const t: any = { type: 'INVOKE', sender_address: address, calldata, version: '0x3', signature: [], nonce: n, resource_bounds: bounds, tip: '0x0', paymaster_data: [], account_deployment_data: [], nonce_data_availability_mode: 'L1', fee_data_availability_mode: 'L1', ...over };
      const h = snHash.calculateInvokeTransactionHash({ senderAddress: address, version: '0x3', compiledCalldata: calldata, chainId: cfg.chain_id, nonce: n, accountDeploymentData: [], nonceDataAvailabilityMode: 0, feeDataAvailabilityMode: 0, resourceBounds: big(bounds), tip: 0, paymasterData: [] } as any);
      const s = ec.starkCurve.sign(h, signer);
      t.signature = [hex(s.r), hex(s.s)];
      return t;
    };
    const cd = (calls: any[]) => CallData.toHex(CallData.compile({ calls: calls.map((c) => ({ to: c.contractAddress, selector: snHash.getSelectorFromName(c.entrypoint), calldata: c.calldata })) }));
    const good = cd([call]);
    const code = async (method: string, params: unknown) => (await raw(node.url, method, params)).error?.code;
    expect(await code('starknet_addInvokeTransaction', { invoke_transaction: invoke(good, hex(BigInt(nonce) + 1n)) })).to.equal(52);
    expect(await code('starknet_addInvokeTransaction', { invoke_transaction: invoke(good, nonce, dev[1]!.private_key) })).to.equal(55);
    expect(await code('starknet_addInvokeTransaction', { invoke_transaction: invoke(cd([{ ...call, entrypoint: 'steal' }]), nonce) })).to.equal(63);
    expect(await code('starknet_addInvokeTransaction', { invoke_transaction: invoke(good.slice(0, -1), nonce) })).to.equal(63);
    expect(await code('starknet_addInvokeTransaction', { invoke_transaction: { type: 'INVOKE', version: '0x1', sender_address: address, calldata: good, max_fee: '0x0', signature: [], nonce } })).to.equal(61);
    expect(await code('starknet_addInvokeTransaction', { invoke_transaction: { ...invoke(good, nonce), tip: 5 } })).to.equal(-32602);
    expect(await code('starknet_addInvokeTransaction', { invoke_transaction: invoke(good, nonce, priv, { proof: 'AAAA' }) })).to.equal(69);
    expect(await code('starknet_addInvokeTransaction', { invoke_transaction: { ...invoke(good, nonce), sender_address: '0x1234' } })).to.equal(58);
    expect(await code('starknet_addDeployAccountTransaction', { deploy_account_transaction: { type: 'DEPLOY_ACCOUNT', version: '0x3', signature: ['0x1', '0x2'], nonce: '0x0', contract_address_salt: '0x5', constructor_calldata: ['0x5'], class_hash: cfg.class_hashes.account, resource_bounds: bounds, tip: '0x0', paymaster_data: [], nonce_data_availability_mode: 'L1', fee_data_availability_mode: 'L1' } })).to.equal(55);
    expect(await code('starknet_addDeployAccountTransaction', { deploy_account_transaction: { type: 'DEPLOY_ACCOUNT', version: '0x3', signature: ['0x1', '0x2'], nonce: '0x0', contract_address_salt: '0x5', constructor_calldata: ['0x5'], class_hash: '0x1234', resource_bounds: bounds, tip: '0x0', paymaster_data: [], nonce_data_availability_mode: 'L1', fee_data_availability_mode: 'L1' } })).to.equal(28);
    expect(await code('starknet_addDeployAccountTransaction', { deploy_account_transaction: { type: 'DEPLOY_ACCOUNT', version: '0x1', max_fee: '0x0', signature: [], nonce: '0x0', contract_address_salt: '0x5', constructor_calldata: ['0x5'], class_hash: '0x1234' } })).to.equal(61);
    expect(await code('starknet_addDeclareTransaction', { declare_transaction: { type: 'DECLARE', version: '0x3' } })).to.equal(62);
    expect(await code('starknet_addDeclareTransaction', { declare_transaction: { type: 'DECLARE', version: '0x2' } })).to.equal(61);
    // starknet_call
    const req = (o: Record<string, unknown>) => ({ request: { contract_address: cfg.exchange_address, entry_point_selector: snHash.getSelectorFromName('get_collateral'), calldata: [address], ...o }, block_id: 'latest' });
    expect(await code('starknet_call', req({ contract_address: '0x1234' }))).to.equal(20);
    expect(await code('starknet_call', req({ entry_point_selector: snHash.getSelectorFromName('steal') }))).to.equal(21);
    expect(await code('starknet_call', req({ calldata: [] }))).to.equal(40);
    expect(await code('starknet_call', req({ entry_point_selector: snHash.getSelectorFromName('withdraw'), calldata: ['0x1', '0x2'] }))).to.equal(40);
    expect(await code('starknet_call', { ...req({}), block_id: { block_number: 10 ** 9 } })).to.equal(24);
    expect(await code('starknet_call', req({ calldata: 'x' }))).to.equal(-32602);
    // estimates and simulations
    expect(await code('starknet_estimateFee', { request: [invoke(good, hex(BigInt(nonce) + 5n))], simulation_flags: [], block_id: 'latest' })).to.equal(41);
    expect(await code('starknet_estimateFee', { request: [{ type: 'INVOKE', version: '0x1', max_fee: '0x0' }], simulation_flags: [], block_id: 'latest' })).to.equal(-32602);
    expect(await code('starknet_simulateTransactions', { block_id: 'latest', transactions: [invoke(good, nonce, dev[1]!.private_key)], simulation_flags: [] })).to.equal(41);
    expect(await code('starknet_simulateTransactions', { block_id: 'latest', transactions: [invoke(good, nonce, dev[1]!.private_key)], simulation_flags: ['SKIP_VALIDATE'] })).to.equal(undefined);
    expect(await code('starknet_traceTransaction', { transaction_hash: '0x1234' })).to.equal(29);
    expect(await code('starknet_estimateMessageFee', { message: { from_address: '0x1', to_address: cfg.exchange_address, entry_point_selector: '0x1', payload: [] }, block_id: 'latest' })).to.equal(40);
    expect(await code('starknet_estimateMessageFee', { message: { from_address: '0x1', to_address: '0x1234', entry_point_selector: '0x1', payload: [] }, block_id: 'latest' })).to.equal(20);
    expect(await code('starknet_getMessagesStatus', { transaction_hash: '0x1234' })).to.equal(29);
    // nothing changed
    expect(await provider.getNonceForAddress(address)).to.equal(nonce);
    expect(await exchange.get_collateral(address)).to.equal(collateral);
  });
});
