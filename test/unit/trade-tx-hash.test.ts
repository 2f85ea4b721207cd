/**
 * The TRADE transaction hash is taken over the two order hashes and the fill (6 felts), not over
 * the 26 felts of both orders: safe because each order hash commits to its order and the
 * contract refuses an order whose hash is not its own. Both halves are checked here.
 */
import { expect } from 'chai';
import { poseidonHashMany } from '../../node/crypto/index.ts';
import { TX_PREFIX, txCalldata, txHash, type PerpTx } from '../../contracts-ts/tx.ts';
import { CHAIN_ID, E8, Harness, USERS } from './exchange-fixtures.ts';

describe('TRADE transaction hash', () => {
  const [alice, bob] = USERS;
  const h = new Harness();
  const maker = h.order(bob!, { side: 'SELL', size: E8 / 10n, price: 65_000n * E8 });
  const taker = h.order(alice!, { side: 'BUY', size: E8 / 10n, price: 65_000n * E8, timeInForce: 'IOC' });
  const trade = h.trade(maker, taker, E8 / 10n, 65_000n * E8) as Extract<PerpTx, { type: 'TRADE' }>;

  it('is poseidon_many([PERP_TRADE, maker hash, taker hash, size, price, chain id])', () => {
    expect(txHash(trade, CHAIN_ID)).to.equal(poseidonHashMany([TX_PREFIX.TRADE, maker.hash, taker.hash, trade.size, trade.price, CHAIN_ID]));
    // The calldata Starknet tools see still carries both orders in full.
    expect(txCalldata(trade).length).to.equal(1 + 11 + 11 + 2);
  });

  it('changes with each order, the size, the price and the chain', () => {
    const base = txHash(trade, CHAIN_ID);
    const other = h.order(bob!, { side: 'SELL', size: E8 / 10n, price: 65_000n * E8 });
    const variants: PerpTx[] = [
      { ...trade, maker: other },
      { ...trade, taker: { ...taker, hash: other.hash } },
      { ...trade, size: trade.size + 1n },
      { ...trade, price: trade.price + 1n },
    ];
    const hashes = new Set([base, ...variants.map((v) => txHash(v, CHAIN_ID)), txHash(trade, CHAIN_ID + 1n)]);
    expect(hashes.size).to.equal(6);
  });

  it('an order altered under its old hash (same transaction hash) is refused: BAD_ORDER_HASH', () => {
    const forged = { ...trade, maker: { ...maker, order: { ...maker.order, price: maker.order.price - 10n * E8 } } };
    expect(txHash(forged, CHAIN_ID)).to.equal(txHash(trade, CHAIN_ID));
    h.expectRevert(forged, 'BAD_ORDER_HASH', 'maker');
    h.exec(trade); // the genuine one executes
  });
});
