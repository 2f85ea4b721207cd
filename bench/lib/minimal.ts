/**
 * The minimal hash count per trade of a run's workload under the chain's commitment rules
 * (Starknet's: binary Merkle-Patricia tries of height 251 for contracts and storage, height-64
 * commitment tries for transactions, events and receipts, Poseidon sponge commitments), with
 * the most compact storage layout those rules allow. Counted in Poseidon permutations; a
 * rate-2 sponge over n felts costs floor(n/2) + 1 (what bench/lib/counting.ts counts).
 * bench/README.md ("The real floor") explains each term; this file is the formula.
 *
 * Measured from the run (so the floor is the floor of *this* workload): trades, transactions,
 * blocks, the distinct contracts each block touched (`touched`) and the contracts in the state
 * (`contracts`, ~ the account count). Everything else is a layout assumption, named below.
 */

/** Permutations of a Poseidon sponge over n felts. */
export const sponge = (n: number): number => Math.floor(n / 2) + 1;

/**
 * Hashes to update u leaves of a Patricia trie holding s leaves: the union of u root-to-leaf
 * paths (a shared top of ~u-1 binary nodes, then ~log2(s/u) binary nodes per leaf below it)
 * plus one edge node per leaf (a sparse height-251 trie ends every path in an edge).
 */
export function trieUpdate(u: number, s: number): number {
  if (u <= 0) return 0;
  const below = s > u ? Math.log2(s / u) : 0;
  return u - 1 + u * below + u;
}

/** Layout assumptions (the compact layout of issue 14). */
export const COMPACT = {
  /** TRADE tx hash over (tag, chain id, maker order hash, taker order hash, size, price). */
  txHashFelts: 6,
  /** One event per transaction: from, tx hash, 2 keys (the accounts), 3 data (market, size, price), 2 lengths. */
  eventFelts: 9,
  /** Storage slots a trade writes per account: collateral, position (size|cost packed, funding snapshot). */
  slotsPerAccount: 3,
  /** The maker's fill record (resting orders only; deleted when done, so every trade writes one). */
  fillSlots: 1,
  /** Slots in an account's storage trie: public key, collateral, 2 per market held, a few live fill records. */
  accountTrieSlots: 8,
  /** SNIP-12 order message hash: struct hash over 11 fields + the message hash over 4 felts. */
  orderHashPermutations: sponge(12) + sponge(4),
  /** Per block: exchange storage (~4 slots per market of ~40), global root, block hash, commitment roots. */
  perBlockFixed: (markets: number) => trieUpdate(4 * markets, 40 * markets) + 4 * markets + sponge(3) + sponge(16) + 3,
} as const;

export interface MinimalInput {
  trades: number;
  /** Every transaction in the run's blocks (trades, cancels, oracle, funding, liquidations). */
  txs: number;
  blocks: number;
  /** Mean distinct contracts whose state a block changed. */
  touchedPerBlock: number;
  /** Contracts in the state (leaves of the contracts trie). */
  contracts: number;
  markets: number;
}

export interface MinimalHashes {
  /** Main-thread permutations per trade, by term. */
  terms: Record<string, number>;
  /** Sum of `terms`: what the sequencer must hash itself, per trade. */
  mainThread: number;
  /** Order message hashes, computed where the signature is verified (any core). */
  offThread: number;
  total: number;
}

export function minimalHashes(x: MinimalInput): MinimalHashes {
  const t = Math.max(1, x.trades);
  const txPerTrade = x.txs / t;
  const tradesPerBlock = t / Math.max(1, x.blocks);
  const k = Math.max(1, x.touchedPerBlock);
  const terms: Record<string, number> = {
    // Every transaction: its hash, its transaction-commitment leaf (hash, 0), its receipt leaf
    // (5 felts), one node in each of the transaction and receipt commitment tries.
    transactions: txPerTrade * (sponge(COMPACT.txHashFelts) + sponge(2) + sponge(5) + 2),
    // One event per transaction, and its node in the event commitment trie.
    events: txPerTrade * (sponge(COMPACT.eventFelts) + 1),
    // State-diff commitment: a (key, value) pair per slot, (address, count) per contract.
    state_diff: (2 * COMPACT.slotsPerAccount + COMPACT.fillSlots) + 2,
    // The two account storage tries (the maker's also holds the fill record).
    storage_tries: trieUpdate(COMPACT.slotsPerAccount, COMPACT.accountTrieSlots) + trieUpdate(COMPACT.slotsPerAccount + COMPACT.fillSlots, COMPACT.accountTrieSlots),
    // Contracts trie: each touched contract's leaf H(H(H(class, root), nonce), 0) and the union
    // of the block's paths, spread over the block's trades.
    contracts_trie: (3 * k + trieUpdate(k, Math.max(k, x.contracts))) / tradesPerBlock,
    per_block: COMPACT.perBlockFixed(x.markets) / tradesPerBlock,
  };
  const mainThread = Object.values(terms).reduce((a, b) => a + b, 0);
  const offThread = 2 * COMPACT.orderHashPermutations;
  return { terms, mainThread, offThread, total: mainThread + offThread };
}

export interface MinimalFloor {
  /** Seconds of crypto per trade: 2 verifications + every minimal hash, one core. */
  cryptoSecondsPerTrade: number;
  tradesPerSec1Core: number;
  /** Everything spread over every core (independent subtrees hashed in parallel). */
  tradesPerSecAllCores: number;
}

export function minimalFloor(h: MinimalHashes, verifyPerSec: number, poseidonPerSec: number, cores: number): MinimalFloor {
  const c = 2 / verifyPerSec + h.total / poseidonPerSec;
  return { cryptoSecondsPerTrade: c, tradesPerSec1Core: 1 / c, tradesPerSecAllCores: cores / c };
}
