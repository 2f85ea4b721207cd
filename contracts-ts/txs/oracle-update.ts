/** ORACLE_UPDATE: index prices signed by one of the genesis oracle keys. */
import { execOracleUpdate } from '../exchange/oracle.ts';
import { oracleUpdateHash } from '../typed-data.ts';
import { CODEC_LIMITS, F, type Sig } from './codec.ts';
import { defineTx } from './define.ts';

export interface OracleUpdateTx {
  type: 'ORACLE_UPDATE';
  /** Oracle public key (one of the genesis oracle keys). */
  signer: bigint;
  timestamp: bigint;
  prices: { market: string; price: bigint }[];
  signature: Sig;
}

export const ORACLE_UPDATE = defineTx<OracleUpdateTx>('ORACLE_UPDATE', {
  fields: { signer: F.felt, timestamp: F.u128, prices: F.list(CODEC_LIMITS.prices, F.record({ market: F.market, price: F.u128 })), signature: F.sig },
  sender: (tx) => tx.signer,
  own: { signer: (tx) => ({ key: tx.signer }), sig: (tx) => tx.signature, message: (tx, chainId) => oracleUpdateHash(tx, tx.signer, chainId), voidable: true },
  execute: (tx, st, ctx, cfg) => execOracleUpdate(tx, st, ctx, cfg),
});
