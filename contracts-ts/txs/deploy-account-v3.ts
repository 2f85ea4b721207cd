/** DEPLOY_ACCOUNT_V3: a Starknet v3 DEPLOY_ACCOUNT (contracts-ts/starknet/); its hash is Starknet's. */
import { deployAccountAddress, execDeployAccountV3 } from '../starknet/entrypoints.ts';
import { deployAccountTxHash, v3FromStoredJson, v3ToStoredJson, type DeployAccountV3Tx } from '../starknet/tx.ts';
import { fail } from './codec.ts';
import { defineTx } from './define.ts';

export const DEPLOY_ACCOUNT_V3 = defineTx<DeployAccountV3Tx>('DEPLOY_ACCOUNT_V3', {
  parse(o) {
    try {
      return v3FromStoredJson(o) as DeployAccountV3Tx;
    } catch (e) {
      fail(`DEPLOY_ACCOUNT_V3: ${(e as Error).message}`);
    }
  },
  toJson: (tx) => v3ToStoredJson(tx),
  calldata: (tx) => tx.constructorCalldata.slice(),
  hash: (tx, chainId) => deployAccountTxHash(tx, deployAccountAddress(tx), chainId),
  sender: (tx) => deployAccountAddress(tx),
  signature: (tx) => tx.signature.slice(),
  nonce: (tx) => tx.nonce,
  execute: (tx, st, ctx, cfg) => execDeployAccountV3(tx, st, ctx, cfg),
});
