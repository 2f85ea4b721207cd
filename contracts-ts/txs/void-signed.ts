/**
 * VOID_SIGNED (system), after a rollback (exchange/replay.ts): signed-message hashes of the
 * orphaned branch, refused from now on, and account nonces raised past the nonces the orphaned
 * branch used.
 */
import { execVoidSigned } from '../exchange/replay.ts';
import { CODEC_LIMITS, F } from './codec.ts';
import { defineTx } from './define.ts';

export interface VoidSignedTx {
  type: 'VOID_SIGNED';
  hashes: bigint[];
  nonces: { account: bigint; nonce: bigint }[];
}

export const VOID_SIGNED = defineTx<VoidSignedTx>('VOID_SIGNED', {
  fields: { hashes: F.list(CODEC_LIMITS.systemCancel, F.felt), nonces: F.list(CODEC_LIMITS.systemCancel, F.record({ account: F.felt, nonce: F.felt })) },
  system: true,
  execute: (tx, st, ctx, cfg) => execVoidSigned(tx, st, ctx, cfg),
});
