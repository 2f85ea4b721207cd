/**
 * perpnode transactions: one discriminated union, a strict JSON codec (untrusted network input:
 * exact keys, exact types, 0x-hex bigints, bounded arrays), a felt encoding (calldata) and the
 * transaction hash:
 *
 *   calldata(tx) = [prefix(type), ...fields]          prefix = short string "PERP_<TYPE>"
 *   txHash(tx)   = poseidon_many([...calldata(tx), chainId])
 *
 * Signatures are not part of the hash (as in Starknet). Signed integers (funding rates and
 * indices, position sizes) are encoded as felts the Cairo way (negative x -> p + x).
 *
 * Each type is one module in txs/ (its fields, hash, signers, mode gate and execution); this
 * file is the type-independent surface over that registry. User transactions carry their
 * signer's signature; system transactions (FUNDING, FUNDING_SAMPLE, LIQUIDATE, ADL,
 * VAULT_UNWIND, SET_MODE, REFUND, SYSTEM_CANCEL, TRIGGER, VOID_SIGNED) come from the sequencer
 * and are covered by the block signature.
 */
import { TX_DESCRIPTORS, txDescriptor, type PerpTx, type TxType } from './txs/index.ts';
import { object, oneOf } from './txs/codec.ts';

export type * from './txs/index.ts';
export type { DeployAccountV3Tx, InvokeTx } from './starknet/tx.ts';
export { CODEC_LIMITS, TxParseError, orderToJson, parseOrderMessage, parseSignature, signedOrderToJson, type Sig } from './txs/codec.ts';
export { txDescriptor, TX_DESCRIPTORS } from './txs/index.ts';

export const TX_TYPES = TX_DESCRIPTORS.map((d) => d.type) as readonly TxType[];

export const SYSTEM_TX_TYPES: readonly TxType[] = TX_DESCRIPTORS.filter((d) => d.system).map((d) => d.type);

export function isSystemTx(tx: PerpTx): boolean {
  return txDescriptor(tx.type).system;
}

export const TX_PREFIX: Record<TxType, bigint> = Object.fromEntries(TX_DESCRIPTORS.map((d) => [d.type, d.prefix])) as Record<TxType, bigint>;

/** Parses a transaction from its JSON form (as txToJson writes it). Strict; throws TxParseError. */
export function parseTx(json: unknown): PerpTx {
  const o = object(json, 'transaction');
  const type = oneOf(o.type, TX_TYPES, 'transaction.type');
  return txDescriptor(type).parse(o);
}

/** The JSON form of a transaction (bigints as 0x-hex strings); parseTx(txToJson(tx)) equals tx. */
export function txToJson(tx: PerpTx): Record<string, unknown> {
  return txDescriptor(tx.type).toJson(tx);
}

/**
 * Felt encoding of a transaction's content (no signatures): [prefix, ...fields]. Starknet v3
 * transactions: their own calldata (INVOKE) or constructor calldata (DEPLOY_ACCOUNT_V3).
 */
export function txCalldata(tx: PerpTx): bigint[] {
  return txDescriptor(tx.type).calldata(tx);
}

/**
 * poseidon_many([...txCalldata(tx), chainId]); Starknet's v3 hash for INVOKE and DEPLOY_ACCOUNT_V3;
 * a TRADE over its two order hashes and the fill (txs/trade.ts).
 */
export function txHash(tx: PerpTx, chainId: bigint): bigint {
  return txDescriptor(tx.type).hash(tx, chainId);
}

/**
 * Who sent it, as an address: the account for wallet transactions (the derived address for
 * DEPLOY_ACCOUNT, the recipient for DEPOSIT, the taker for TRADE), the oracle key for
 * ORACLE_UPDATE, and `sequencerAddress` for system transactions.
 */
export function txSender(tx: PerpTx, sequencerAddress = 0n): bigint {
  return txDescriptor(tx.type).sender(tx, sequencerAddress);
}

/** The transaction's own signature ([] for system transactions; TRADE: maker r, s then taker r, s). */
export function txSignature(tx: PerpTx): bigint[] {
  return txDescriptor(tx.type).signature(tx);
}

/** The account nonce the transaction uses (0 for DEPLOY_ACCOUNT), or undefined. */
export function txNonce(tx: PerpTx): bigint | undefined {
  return txDescriptor(tx.type).nonce(tx);
}
