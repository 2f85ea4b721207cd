/** DEPLOY_ACCOUNT: deploys the account contract of a stark key, signed by that key. */
import { accountAddress } from '../classes.ts';
import { execDeployAccount } from '../account/account.ts';
import { deployAccountHash } from '../typed-data.ts';
import { F, type Sig } from './codec.ts';
import { defineTx } from './define.ts';

export interface DeployAccountTx {
  type: 'DEPLOY_ACCOUNT';
  publicKey: bigint;
  signature: Sig;
}

export const DEPLOY_ACCOUNT = defineTx<DeployAccountTx>('DEPLOY_ACCOUNT', {
  fields: { publicKey: F.felt, signature: F.sig },
  sender: (tx) => accountAddress(tx.publicKey),
  nonce: () => 0n,
  // Not voidable: an address has one deploy message, and re-deploying must stay possible.
  own: { signer: (tx) => ({ key: tx.publicKey }), sig: (tx) => tx.signature, message: (tx, chainId) => deployAccountHash(tx.publicKey, chainId), voidable: false },
  execute: (tx, st, ctx, cfg) => execDeployAccount(tx, st, ctx, cfg),
});
