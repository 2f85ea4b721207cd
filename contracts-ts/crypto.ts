// TEMPORARY (replaced in the crypto step): the contracts' hash functions.
export { encodeShortString, decodeShortString, P, poseidonHash, poseidonHashMany, pedersenArray, starknetKeccak, toHex, verify, getStarkKey, parseFelt } from '../node/crypto/index.ts';
