/** FUNDING (system): a funding tick, each market's figures re-derived by the contract from the samples. */
import { execFunding } from '../exchange/funding.ts';
import { CODEC_LIMITS, F } from './codec.ts';
import { defineTx } from './define.ts';

export interface FundingTx {
  type: 'FUNDING';
  /** Must equal the block timestamp. */
  timestamp: bigint;
  /**
   * Per market, what a follower needs to re-derive the tick from the chain, each recomputed by
   * the contract from the on-chain samples: the averaged premium (1e-9), the live seconds it
   * accrues (at most funding_interval_seconds), the clamped rate (premium + baseline) and the new index.
   */
  markets: { market: string; premium: bigint; seconds: bigint; rate: bigint; index: bigint }[];
}

export const FUNDING = defineTx<FundingTx>('FUNDING', {
  fields: {
    timestamp: F.u128,
    markets: F.list(CODEC_LIMITS.fundingMarkets, F.record({ market: F.market, premium: F.signed, seconds: F.u128, rate: F.signed, index: F.signed })),
  },
  system: true,
  refusedIn: ['HALTED', 'CANCEL_ONLY', 'POST_ONLY'],
  execute: (tx, st, ctx, cfg) => execFunding(tx, st, ctx, cfg),
});
