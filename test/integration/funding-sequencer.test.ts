/**
 * Funding through the in-process sequencer: the matcher's book feeds the FUNDING_SAMPLE
 * transactions (impact prices for genesis impact_notional), the sealed blocks carry them and the
 * FUNDING ticks the contract recomputes from them. The producer runs on a test clock, so "a
 * minute later" is a clock step, never a sleep.
 */
import { expect } from 'chai';
import type { RunningNode } from '../../node/node.ts';
import { startTestSequencer } from '../helpers/sequencer.ts';
import { oracleUpdateHash, orderHash, parseTx, type FundingSampleTx, type FundingTx, type Order, type SignedOrder } from '../../contracts-ts/index.ts';
import { premiumRate } from '../../contracts-ts/exchange/funding.ts';
import { mGet } from '../../contracts-ts/exchange/ledger.ts';
import { MKT } from '../../contracts-ts/layout.ts';
import type { Block } from '../../node/chain/block.ts';
import { sign } from '../../node/crypto/index.ts';
import { tempDir } from '../helpers/tmp.ts';

const E8 = 10n ** 8n;

describe('funding on the sequencer: the book feeds the samples (defect 7)', function () {
  this.timeout(60_000);
  let t: ReturnType<typeof tempDir>;
  let node: RunningNode;
  let clockMs = Date.now();
  before(async () => {
    t = tempDir();
    node = await startTestSequencer(t.path, { clock: () => clockMs });
  });
  after(async () => {
    await node.stop();
    t.cleanup();
  });

  it('a dust bid moves nothing; a bid deep enough for impact_notional sets the premium; each tick covers one interval', async () => {
    const g = node.chain.genesis;
    const cfg = g.exchange;
    const btc = cfg.markets[0]!;
    const [a, b] = cfg.devAccounts;
    const oracle = cfg.oracles[0]!;
    const st = () => node.producer.m.world.newBlock();
    const mark = btc.initialPrice;
    let salt = 1n;
    const order = (who: typeof a, f: Partial<Order>): SignedOrder => {
      const o: Order = { account: who!.address, market: btc.symbol, side: 'BUY', orderType: 'LIMIT', timeInForce: 'GTC', size: E8, price: mark, triggerPrice: 0n, reduceOnly: false, expiry: 4_000_000_000n, salt: salt++, ...f };
      const hash = orderHash(o, g.chainId);
      const s = sign(hash, who!.privateKey!);
      return { order: o, hash, signature: [s.r, s.s] };
    };
    const price = async () => {
      const ts = BigInt(Math.floor(clockMs / 1000));
      const prices = [{ market: btc.symbol, price: mark }];
      const s = sign(oracleUpdateHash({ timestamp: ts, prices }, oracle.publicKey, g.chainId), oracle.privateKey!);
      await node.exchange.oracleUpdate({ type: 'ORACLE_UPDATE', signer: oracle.publicKey, timestamp: ts, prices, signature: [s.r, s.s] });
    };
    const seal = async (): Promise<Block> => (await node.producer.sealNow(true))!;
    const txsOf = (blk: Block) => blk.transactions.map((x) => parseTx(x.body));
    const funding = (blk: Block) => txsOf(blk).find((x): x is FundingTx => x.type === 'FUNDING')?.markets.find((m) => m.market === btc.symbol);
    const sample = (blk: Block) => txsOf(blk).find((x): x is FundingSampleTx => x.type === 'FUNDING_SAMPLE')?.markets.find((m) => m.market === btc.symbol);
    /** A minute of live time in two oracle refreshes; returns the block of the second. */
    const minute = async (): Promise<Block> => {
      clockMs += 30_000;
      await price();
      await seal();
      clockMs += 31_000;
      await price();
      return seal();
    };

    await price(); // starts the funding clock
    await seal();
    // Old failure: one 0.001 BTC bid 0.5 % above the mark pinned the rate at the clamp.
    const dustPrice = (((mark * 1005n) / 1000n) / btc.tickSize) * btc.tickSize;
    await node.exchange.submitOrder(order(a, { size: btc.minSize, price: dustPrice }));
    const afterDust = await seal();
    expect(sample(afterDust)?.impactBid ?? 0n, 'the dust bid cannot fill 10,000 USDC').to.equal(0n);
    expect(mGet(st(), cfg, btc, MKT.impactBid)).to.equal(0n);
    const tick1 = funding(await minute());
    expect(tick1, 'a tick after a minute of live time').to.not.equal(undefined);
    expect(tick1).to.deep.include({ premium: 0n, seconds: btc.fundingInterval, rate: btc.fundingBaselineRate });

    // 0.2 BTC at +0.3 %: 13,039 USDC, enough for the impact notional on its own.
    const deepPrice = (((mark * 1003n) / 1000n) / btc.tickSize) * btc.tickSize;
    await node.exchange.submitOrder(order(b, { size: 20_000_000n, price: deepPrice }));
    const afterDeep = await seal();
    const s = sample(afterDeep);
    expect(s, 'the new impact bid is sampled on chain').to.not.equal(undefined);
    // the average fill of 10,000 USDC: the dust's 65 USDC at +0.5 %, the rest at +0.3 %
    expect(s!.impactBid >= deepPrice && s!.impactBid < dustPrice, `impact bid ${s!.impactBid}`).to.equal(true);
    const expected = premiumRate(btc, mark, { bid: s!.impactBid });
    expect(expected >= 3_000_000n && expected < 3_020_000n, `premium ${expected}`).to.equal(true);
    const tick2 = funding(await minute());
    expect(tick2).to.deep.include({ premium: expected, seconds: btc.fundingInterval, rate: expected + btc.fundingBaselineRate });
    expect(mGet(st(), cfg, btc, MKT.fundingPremium)).to.equal(expected);

    // Two days without a block: the next tick still covers at most one interval.
    clockMs += 2 * 86_400_000;
    await price();
    const late = await seal();
    const tick3 = funding(late) ?? funding(await minute());
    expect(tick3!.seconds <= btc.fundingInterval).to.equal(true);
    expect(node.producer.halted).to.equal(null);
  });
});
