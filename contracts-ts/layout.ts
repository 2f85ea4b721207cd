/**
 * Storage layout of the perpnode contracts, Starknet style (documented in docs/exchange.md):
 * - a plain variable lives at sn_keccak(name);
 * - a mapping entry lives at poseidon(sn_keccak(name), key) mod (2^251 - 256)
 *   (Cairo uses Pedersen for `LegacyMap`; we use Poseidon, the cheaper hash of this chain),
 *   except where the key is already a hash: an order's fill slot is the order hash mod 2^251 - 256;
 * - a struct's members live at consecutive offsets from its base address (as Cairo lays them out).
 *
 * Margin accounts (user accounts and the Liquidator Vault) share one layout in their own
 * contract storage, so a trade touches two small account tries and a few exchange slots.
 */
import { poseidonHash, starknetKeccak } from './crypto.ts';
import { ADDR_BOUND } from './math.ts';

export function snKeccak(name: string): bigint {
  return starknetKeccak(name);
}

export function mapKey(base: bigint, key: bigint): bigint {
  return poseidonHash(base, key) % ADDR_BOUND;
}

// ---- margin account storage (account contract and vault contract) -----------------------------

export const ACC = {
  /** x-only STARK public key of the account (0 for the vault, which signs nothing). */
  publicKey: snKeccak('public_key'),
  /** Collateral, USDC base units, signed felt. */
  collateral: snKeccak('collateral'),
  /** positions: LegacyMap<market, Position{size, cost, funding_snapshot}> */
  positions: snKeccak('positions'),
} as const;

/** Offsets of Position members from the position's base address. */
export const POS = { size: 0n, cost: 1n, fundingSnapshot: 2n } as const;

export const ORDER_CANCELLED_BIT = 1n << 128n;
export const ORDER_TRIGGERED_BIT = 1n << 129n;
export const ORDER_FILLED_MASK = (1n << 128n) - 1n;

const positionBaseCache = new Map<bigint, bigint>();
/** Base address of an account's position in a market (same in every account: cached). */
export function positionBase(marketId: bigint): bigint {
  let b = positionBaseCache.get(marketId);
  if (b === undefined) {
    b = mapKey(ACC.positions, marketId);
    positionBaseCache.set(marketId, b);
  }
  return b;
}

/**
 * An order's fill slot in its owner's account: the order hash itself, reduced to the storage
 * address range. The key is already a Poseidon hash (the SNIP-12 message hash), so hashing it
 * again with the map's base adds nothing but a permutation. Collisions with the account's other
 * slots (sn_keccak names, Poseidon map bases) would need a preimage of one of them.
 */
export function orderKey(orderHash: bigint): bigint {
  return orderHash % ADDR_BOUND;
}

// ---- exchange contract storage ---------------------------------------------------------------

export const EX = {
  mode: snKeccak('mode'),
  modeSeq: snKeccak('mode_seq'),
  modeReason: snKeccak('mode_reason'),
  totalDeposits: snKeccak('total_deposits'),
  totalWithdrawals: snKeccak('total_withdrawals'),
  /** Sum of collateral over every margin account (users and the vault). */
  totalCollateral: snKeccak('total_collateral'),
  /** Sum of position cost over every position of every market. */
  totalCost: snKeccak('total_cost'),
  feeBalance: snKeccak('fee_balance'),
  /** Funding paid by accounts and not yet received by others (may dip below 0 transiently). */
  fundingPool: snKeccak('funding_pool'),
  /** Exact (unrounded) funding settled, size x index units: the pool's solvency reference. */
  fundingSettledExact: snKeccak('funding_settled_exact'),
  accountCount: snKeccak('account_count'),
  accounts: snKeccak('accounts'),
  deposits: snKeccak('deposits'),
  refunds: snKeccak('refunds'),
  refundTotal: snKeccak('refund_total'),
  /** Bad debt written off by the loss waterfall and not yet repaid by vault income (>= 0). */
  socializedLoss: snKeccak('socialized_loss'),
  /** Every amount ever written off (monotone; the audit trail of socialized losses). */
  socializedLossTotal: snKeccak('socialized_loss_total'),
  /** voided[message_hash] = 1: signed on a rolled-back branch, refused on this one (VOID_SIGNED). */
  voided: snKeccak('voided'),
  voidedCount: snKeccak('voided_count'),
  markets: snKeccak('markets'),
  holders: snKeccak('holders'),
  holderIndex: snKeccak('holder_index'),
  oracleTimestamp: snKeccak('oracle_timestamp'),
  /** oracle_reports: LegacyMap<(market, oracle key), Report{price, timestamp}>: each oracle's latest price. */
  oracleReports: snKeccak('oracle_reports'),
  /** Timestamp of the last accepted oracle update (any market); 0 before the first. */
  oracleLastUpdate: snKeccak('oracle_last_update'),
  /** Withdrawal gate: the last block in which an account was seen with negative equity / an outage ended (0 = never). */
  negativeEquityBlock: snKeccak('negative_equity_block'),
  outageBlock: snKeccak('outage_block'),
} as const;

/** Offsets of per-market members from the market's base address in exchange storage. */
export const MKT = {
  oraclePrice: 0n,
  oracleTimestamp: 1n,
  fundingIndex: 2n,
  fundingTime: 3n,
  fundingRate: 4n,
  fundingPrice: 5n,
  prevFundingIndex: 6n,
  prevFundingTime: 7n,
  longOi: 8n,
  shortOi: 9n,
  totalCost: 10n,
  holderCount: 11n,
  fundingUpdates: 12n,
  /** Sum over the market's positions of size x funding snapshot (the funding pool's cross-check). */
  snapshotSum: 13n,
  /** The Liquidator Vault's unwind (VAULT_UNWIND): block number + 1 of its last unwind, and what it may still unwind in that block. */
  vaultUnwindBlock: 14n,
  vaultUnwindLeft: 15n,
  // Genesis parameters, written once so the state root commits to them (read from config).
  tickSize: 16n,
  stepSize: 17n,
  minSize: 18n,
  initialMarginFraction: 19n,
  maintenanceMarginFraction: 20n,
  makerFee: 21n,
  takerFee: 22n,
  fundingPeriod: 23n,
  fundingRateClamp: 24n,
  priceBandBps: 25n,
  openInterestCap: 26n,
  liquidationPenalty: 27n,
  liquidationStepFraction: 28n,
  oracleMaxJump: 29n,
  // Funding premium samples (docs/exchange.md, "Funding"): the book's impact prices as last
  // sampled, and the premium integrated over live time since the last funding tick.
  impactBid: 30n,
  impactAsk: 31n,
  premiumTime: 32n,
  premiumAcc: 33n,
  premiumSecs: 34n,
  /** Seconds of accrual and the averaged premium of the last funding tick. */
  fundingSeconds: 35n,
  fundingPremium: 36n,
  /** Block number of the last mark price change (at most one per market per block). */
  oracleBlock: 37n,
  impactNotional: 38n,
  fundingBaselineRate: 39n,
} as const;

const marketBaseCache = new Map<bigint, bigint>();
export function marketBase(marketId: bigint): bigint {
  let b = marketBaseCache.get(marketId);
  if (b === undefined) {
    b = mapKey(EX.markets, marketId);
    marketBaseCache.set(marketId, b);
  }
  return b;
}

export function holderKey(marketId: bigint, index: bigint): bigint {
  return mapKey(EX.holders, poseidonHash(marketId, index));
}

/** Key derivations are pure; a bounded memo saves two Poseidon calls per repeated lookup. */
function memo(max: number, f: (a: bigint, b: bigint) => bigint): (a: bigint, b: bigint) => bigint {
  const cache = new Map<string, bigint>();
  return (a, b) => {
    const k = `${a}:${b}`;
    let v = cache.get(k);
    if (v === undefined) {
      v = f(a, b);
      if (cache.size >= max) cache.clear();
      cache.set(k, v);
    }
    return v;
  };
}

export const holderIndexKey: (marketId: bigint, address: bigint) => bigint = memo(200_000, (marketId, address) => mapKey(EX.holderIndex, poseidonHash(marketId, address)));

/** Base of an oracle's latest report for a market: +0 price, +1 timestamp. */
export function oracleReportKey(marketId: bigint, oracleKey: bigint): bigint {
  return mapKey(EX.oracleReports, poseidonHash(marketId, oracleKey));
}

export function refundKey(incidentId: bigint, account: bigint): bigint {
  return mapKey(EX.refunds, poseidonHash(incidentId, account));
}
