import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { ec } from 'starknet';
import * as C from '../../node/crypto/index.ts';
import { vectorsPath } from '../helpers/vectors.ts';

const V = JSON.parse(readFileSync(vectorsPath(), 'utf8'));

describe('crypto (shared vectors)', () => {
  it('pedersen', () => {
    for (const v of V.pedersen) expect(C.pedersen(BigInt(v.a), BigInt(v.b))).to.equal(BigInt(v.out));
  });
  it('poseidon_hash', () => {
    for (const v of V.poseidon_hash) expect(C.poseidonHash(BigInt(v.a), BigInt(v.b))).to.equal(BigInt(v.out));
  });
  it('poseidon_hash_many', () => {
    for (const v of V.poseidon_hash_many) expect(C.poseidonHashMany(v.in.map(BigInt))).to.equal(BigInt(v.out));
  });
  it('short strings', () => {
    for (const [s, hex] of Object.entries(V.short_strings)) {
      expect(C.encodeShortString(s)).to.equal(BigInt(hex as string));
      expect(C.decodeShortString(BigInt(hex as string))).to.equal(s);
    }
  });
  it('rejects non-felts at the boundary', () => {
    expect(() => C.pedersen(C.P, 0n)).to.throw(/field element/);
    expect(() => C.poseidonHash(-1n, 0n)).to.throw(/field element/);
    expect(() => C.parseFelt('0xzz')).to.throw(/hex/);
    expect(() => C.parseFelt('0x' + 'f'.repeat(64))).to.throw(/field element/);
  });
});

describe('felt bytes', () => {
  it('bigIntToBytes32 / bytesToBigInt round-trip and agree with a byte-by-byte reference', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }), (x) => {
        const b = C.bigIntToBytes32(x);
        let ref = 0n;
        for (const byte of b) ref = (ref << 8n) | BigInt(byte);
        return b.length === 32 && ref === x && C.bytesToBigInt(b) === x;
      }),
    );
    expect(C.bytesToBigInt(Uint8Array.of(1, 0))).to.equal(256n);
  });
});

describe('crypto (signatures)', () => {
  it('verifies starknet.js signatures against the x-only key, for either y', () => {
    let sawOdd = false;
    let sawEven = false;
    for (let i = 1n; i < 12n; i++) {
      const priv = 0x1234567n * i + 99n;
      const starkKey = C.getStarkKey(priv);
      const full = ec.starkCurve.getPublicKey('0x' + priv.toString(16), true);
      if (full[0] === 3) sawOdd = true;
      else sawEven = true;
      const msg = C.poseidonHash(i, 7n);
      const sig = ec.starkCurve.sign('0x' + msg.toString(16), '0x' + priv.toString(16));
      expect(C.verify(msg, starkKey, { r: sig.r, s: sig.s })).to.equal(true);
      expect(C.verify(msg + 1n, starkKey, { r: sig.r, s: sig.s })).to.equal(false);
      expect(C.verify(msg, starkKey, { r: sig.r, s: sig.s + 1n })).to.equal(false);
    }
    expect(sawOdd && sawEven).to.equal(true);
  });
  it('sign/verify round trip and malformed input is false, not a throw', () => {
    const priv = C.randomPrivateKey();
    const key = C.getStarkKey(priv);
    const sig = C.sign(123n, priv);
    expect(C.verify(123n, key, sig)).to.equal(true);
    expect(C.verify(123n, key, [0n, sig.s])).to.equal(false);
    expect(C.verify(123n, 2n ** 252n, sig)).to.equal(false);
    expect(C.verify(123n, 5n, sig)).to.equal(false); // 5 may not even be on the curve
    expect(C.verifyBatch([{ msgHash: 123n, starkKey: key, ...sig }, { msgHash: 124n, starkKey: key, ...sig }])).to.deep.equal([true, false]);
  });
});
