/**
 * The client SDK's pieces that need no node: the signer (same signatures and addresses as
 * starknet.js), typed data (same hashes as starknet.js), exact unit conversion, and how the RPC
 * maps what execution throws to JSON-RPC errors.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ec, hash as snHash, typedData } from 'starknet';
import {
  ACCOUNT_CLASS,
  TxParseError,
  TxRevert,
} from '../../contracts-ts/index.ts';
import {
  accountAddress,
  cancelHash,
  cancelTypedData,
  createSigner,
  deployAccountHash,
  deployAccountTypedData,
  formatUnits,
  orderHash,
  orderTypedData,
  parsePrice,
  parseSize,
  parseUsdc,
  withdrawHash,
  withdrawTypedData,
  type Order,
} from '../../node/client/index.ts';
import { encodeShortString, randomPrivateKey } from '../../node/crypto/index.ts';
import { toRpcError } from '../../node/rpc/perp.ts';
import { RejectedError } from '../../node/sequencer/producer.ts';
import { RpcError } from '../../node/rpc/errors.ts';

const CHAIN = 'PERPNODE_DEVNET';
const CHAIN_ID = encodeShortString(CHAIN);
const hex = (x: bigint) => '0x' + x.toString(16);
const felt = fc.bigInt({ min: 1n, max: 2n ** 250n });

describe('client SDK', () => {
  it('signs exactly as starknet.js and derives the Starknet account address', () => {
    fc.assert(
      fc.property(felt, fc.bigInt({ min: 1n, max: 2n ** 251n - 1n }), (k, msg) => {
        const s = createSigner(k);
        const [r, sig] = s.signHash(msg);
        const ref = ec.starkCurve.sign(hex(msg), hex(k));
        expect([r, sig]).to.deep.equal([ref.r, ref.s]);
        expect(s.publicKey).to.equal(BigInt(ec.starkCurve.getStarkKey(hex(k))));
        expect(s.address).to.equal(BigInt(snHash.calculateContractAddressFromHash(hex(s.publicKey), hex(ACCOUNT_CLASS.classHash), [hex(s.publicKey)], 0)));
      }),
      { numRuns: 5, seed: 4 },
    );
  });

  it('never serialises the private key', () => {
    const k = randomPrivateKey();
    const text = JSON.stringify({ signer: createSigner(k) });
    expect(text).to.not.contain(k.toString(16));
    expect(text).to.contain('address');
  });

  it('typed data builders hash as starknet.js typedData.getMessageHash', () => {
    fc.assert(
      fc.property(felt, felt, fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), fc.boolean(), (account, salt, size, reduceOnly) => {
        const o: Order = { account, market: 'BTC-USD-PERP', side: 'SELL', orderType: 'STOP_LIMIT', timeInForce: 'GTC', size, price: 123n, triggerPrice: 7n, reduceOnly, expiry: 1_900_000_000n, salt };
        expect(BigInt(typedData.getMessageHash(orderTypedData(o, CHAIN), hex(account)))).to.equal(orderHash(o, CHAIN_ID));
        const c = { account, orderHash: salt };
        expect(BigInt(typedData.getMessageHash(cancelTypedData(c, CHAIN), hex(account)))).to.equal(cancelHash(c, CHAIN_ID));
        const w = { account, amount: size, recipient: salt, nonce: 3n };
        expect(BigInt(typedData.getMessageHash(withdrawTypedData(w, CHAIN), hex(account)))).to.equal(withdrawHash(w, CHAIN_ID));
        const pk = account;
        expect(BigInt(typedData.getMessageHash(deployAccountTypedData(pk, CHAIN), hex(accountAddress(pk))))).to.equal(deployAccountHash(pk, CHAIN_ID));
      }),
      { numRuns: 10, seed: 11 },
    );
  });

  it('converts units exactly', () => {
    expect(parseSize('0.01')).to.equal(1_000_000n);
    expect(parseSize(1)).to.equal(100_000_000n);
    expect(parsePrice('65000.5')).to.equal(6_500_050_000_000n);
    expect(parseUsdc('100.25')).to.equal(100_250_000n);
    expect(parseSize(5n)).to.equal(5n); // a bigint is already chain units
    expect(() => parseUsdc('0.0000001')).to.throw(/decimal places/);
    expect(() => parseSize(1e-9)).to.throw();
    expect(() => parsePrice('-1')).to.throw();
    expect(formatUnits('6500050000000', 8)).to.equal('65000.5');
    expect(formatUnits(-1_500_000n, 6)).to.equal('-1.5');
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), (x) => parseUsdc(formatUnits(x, 6)) === x));
  });
});

describe('RPC error mapping', () => {
  const map = (e: unknown) => toRpcError(e) as RpcError;
  it('contract reverts: spec codes where the meaning matches, else perpnode codes, rule named in data', () => {
    expect(map(new TxRevert('BAD_SIGNATURE', 'signature does not verify: Order'))).to.deep.include({ code: 55, message: 'Account validation failed', data: { reason: 'BAD_SIGNATURE', message: 'signature does not verify: Order' } });
    expect(map(new TxRevert('INVALID_NONCE', 'x')).code).to.equal(52);
    expect(map(new TxRevert('DUPLICATE', 'x')).code).to.equal(59);
    const m = map(new TxRevert('INSUFFICIENT_COLLATERAL', 'at most 5 may leave'));
    expect(m.code).to.equal(10017);
    expect(m.message).to.equal('not enough free collateral');
    expect((m.data as any).reason).to.equal('INSUFFICIENT_COLLATERAL');
    expect(map(new TxRevert('SOMETHING_NEW', 'x')).code).to.equal(10000);
  });
  it('node refusals and parse errors', () => {
    expect(map(new RejectedError('DUPLICATE_TX', 'already in a block')).code).to.equal(59);
    expect(map(new RejectedError('HALTED', 'guard')).code).to.equal(11003);
    expect(map(new RejectedError('MEMPOOL_FULL', 'busy')).code).to.equal(11010);
    expect(map(new TxParseError('order.size must be ...'))).to.deep.include({ code: -32602 });
    const other = new Error('boom');
    expect(toRpcError(other)).to.equal(other); // left to the dispatcher: -32603 without details
  });
});
