/**
 * The one interface every crypto backend implements. The JS reference backend wraps
 * @scure/starknet; a native backend must be bit-exact with it (see test/unit/crypto*.test.ts).
 * All values are field elements as bigint; inputs are assumed already validated as felts
 * (0 <= x < P) by the public wrappers in index.ts.
 */
export interface Signature {
  r: bigint;
  s: bigint;
}

export interface VerifyItem {
  msgHash: bigint;
  /** x-only STARK public key ("stark key"), as accounts store it. */
  starkKey: bigint;
  r: bigint;
  s: bigint;
}

export interface CryptoBackend {
  readonly name: 'js' | 'native';
  pedersen(a: bigint, b: bigint): bigint;
  poseidonHash(a: bigint, b: bigint): bigint;
  poseidonHashMany(xs: readonly bigint[]): bigint;
  /**
   * ECDSA verification against an x-only key: true when the signature verifies for either
   * point with that x coordinate (the key does not say which y the signer had).
   */
  verify(msgHash: bigint, starkKey: bigint, r: bigint, s: bigint): boolean;
  /** Batch forms, so a native backend pays the JS<->native crossing once per batch. */
  pedersenBatch(as: readonly bigint[], bs: readonly bigint[]): bigint[];
  poseidonBatch(as: readonly bigint[], bs: readonly bigint[]): bigint[];
  verifyBatch(items: readonly VerifyItem[]): boolean[];
}
