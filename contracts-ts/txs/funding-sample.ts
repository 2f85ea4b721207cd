/** FUNDING_SAMPLE (system): the book's impact prices, integrated by the contract into the premium. */
import { execFundingSample } from '../exchange/funding.ts';
import { CODEC_LIMITS, F } from './codec.ts';
import { defineTx } from './define.ts';

export interface FundingSampleTx {
  type: 'FUNDING_SAMPLE';
  /**
   * The book's impact prices (1e-8 USD; 0 = the side cannot fill impact_notional), for the
   * markets whose impact prices changed since the last sample. The sequencer samples at every
   * block and records only changes; the contract integrates the premium over time.
   */
  markets: { market: string; impactBid: bigint; impactAsk: bigint }[];
}

export const FUNDING_SAMPLE = defineTx<FundingSampleTx>('FUNDING_SAMPLE', {
  fields: { markets: F.list(CODEC_LIMITS.fundingMarkets, F.record({ market: F.market, impactBid: F.u128, impactAsk: F.u128 })) },
  system: true,
  execute: (tx, st, ctx, cfg) => execFundingSample(tx, st, ctx, cfg),
});
