/**
 * Remembers signature checks already done (at ingress, or by a worker pool), so re-checking
 * inside a transaction is a map lookup. The answer is crypto.verify's, so caching cannot
 * change execution results.
 */
import { verify } from '../crypto/index.ts';

export class SignatureCache {
  private ok = new Map<string, true>();
  constructor(private readonly max = 200_000) {}

  private key(msgHash: bigint, starkKey: bigint, sig: readonly [bigint, bigint]): string {
    return `${msgHash.toString(36)}:${starkKey.toString(36)}:${sig[0].toString(36)}:${sig[1].toString(36)}`;
  }

  verify(msgHash: bigint, starkKey: bigint, sig: readonly [bigint, bigint]): boolean {
    const k = this.key(msgHash, starkKey, sig);
    if (this.ok.has(k)) return true;
    const good = verify(msgHash, starkKey, sig);
    if (good) this.remember(k);
    return good;
  }

  /** Records a positive result computed elsewhere (e.g. a worker thread). */
  add(msgHash: bigint, starkKey: bigint, sig: readonly [bigint, bigint]): void {
    this.remember(this.key(msgHash, starkKey, sig));
  }

  private remember(k: string): void {
    if (this.ok.size >= this.max) this.ok.clear();
    this.ok.set(k, true);
  }
}
