/**
 * A local STARK key. Signatures are RFC 6979 deterministic ECDSA over the SNIP-12 message hash,
 * exactly what starknet.js `ec.starkCurve.sign(typedData.getMessageHash(td, account), key)`
 * produces; the node checks them against the account's x-only stark key.
 */
import { getStarkKey, parseFelt, sign, toHex } from '../crypto/index.ts';
import { accountAddress } from '../../contracts-ts/index.ts';

export interface Signer {
  /** The x-only public key ("stark key"). */
  readonly publicKey: bigint;
  /** The account address this key deploys to (and trades as). */
  readonly address: bigint;
  /** Signs a message hash: [r, s]. */
  signHash(msgHash: bigint): [bigint, bigint];
  toJSON(): { public_key: string; address: string };
}

/** A signer from a private key (hex or decimal string, or bigint). */
export function createSigner(privateKey: bigint | string): Signer {
  const key = typeof privateKey === 'bigint' ? privateKey : parseFelt(privateKey.trim(), 'private key');
  const publicKey = getStarkKey(key);
  const address = accountAddress(publicKey);
  return {
    publicKey,
    address,
    signHash(msgHash) {
      const s = sign(msgHash, key);
      return [s.r, s.s];
    },
    // Never serialise the private key by accident.
    toJSON: () => ({ public_key: toHex(publicKey), address: toHex(address) }),
  };
}
