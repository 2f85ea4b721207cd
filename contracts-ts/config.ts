/**
 * The exchange's chain parameters: the "exchange" object of a genesis file, validated strictly
 * (unknown keys, wrong types and inconsistent parameters are errors naming the field), turned
 * into bigint fixed point. Keys starting with "_" are comments and ignored.
 * The JSON format is documented in docs/exchange.md ("Genesis").
 */
import { encodeShortString, getStarkKey, parseFelt } from './crypto.ts';
import { accountAddress } from './classes.ts';
import { BPS, FRACTION_SCALE, NOTIONAL_DIVISOR, parseDecimal, U128_MAX } from './math.ts';
import { MODES, type Mode } from './exchange/modes.ts';

export interface MarketConfig {
  symbol: string;
  /** The symbol as a short-string felt: the market's key in storage and typed data. */
  id: bigint;
  /** Index in the genesis list: the deterministic iteration order everywhere. */
  index: number;
  initialPrice: bigint;
  tickSize: bigint;
  stepSize: bigint;
  minSize: bigint;
  initialMarginFraction: bigint;
  maintenanceMarginFraction: bigint;
  makerFee: bigint;
  takerFee: bigint;
  fundingPeriod: bigint;
  fundingInterval: bigint;
  fundingRateClamp: bigint;
  priceBandBps: bigint;
  openInterestCap: bigint;
  liquidationPenalty: bigint;
  liquidationStepFraction: bigint;
  oracleMaxJump: bigint;
  /** Funding: the notional (USDC base units) the impact prices fill on each side of the book. */
  impactNotional: bigint;
  /** Funding: a constant rate (1e-9 per funding period, signed) added to the averaged premium. */
  fundingBaselineRate: bigint;
}

export interface DevAccount {
  publicKey: bigint;
  address: bigint;
  balance: bigint;
  /** DEVNET ONLY: published so anyone can sign for these accounts. */
  privateKey?: bigint;
}

export interface KeyEntry {
  publicKey: bigint;
  privateKey?: bigint;
}

export interface ExchangeLimits {
  maxCancelAllHashes: number;
  maxSystemCancelOrders: number;
  maxOraclePrices: number;
  maxAdlCounterparties: number;
}

export interface ExchangeConfig {
  version: 1;
  exchangeAddress: bigint;
  vaultAddress: bigint;
  collateralSymbol: string;
  collateralDecimals: 6;
  bridgeOperator: KeyEntry;
  oracles: KeyEntry[];
  /** Oracle timestamps may be at most this far ahead of the block timestamp (seconds). */
  oracleMaxFutureSkew: bigint;
  /** Oracle prices older than this (seconds) are stale: refused, and no liquidation or funding on them; 0 = no limit. */
  oracleMaxAge: bigint;
  /** The mark is the median of the latest fresh prices of at least this many oracle keys. */
  oracleQuorum: number;
  /** Withdrawals and transfers are refused for this many blocks after a negative equity or an outage. */
  withdrawalGateBlocks: bigint;
  /** A gap of at least this many seconds between two oracle updates is an outage (gates withdrawals). */
  chainOutageSeconds: bigint;
  /** POST_ONLY maintenance mode: trades only within oracle ± this many bps. */
  postOnlyBandBps: bigint;
  /** Aggressive LIMIT orders are accepted only within mark ± this many bps (genesis limit_price_band_bps). */
  limitPriceBandBps: bigint;
  /** Open orders (resting or waiting for a trigger) per account per market (genesis max_open_orders). */
  maxOpenOrders: number;
  initialMode: Mode;
  vaultInitialBalance: bigint;
  /** Share of every trade's fees credited to the Liquidator Vault, basis points (0..10000). */
  vaultFeeShareBps: bigint;
  markets: MarketConfig[];
  marketById: Map<bigint, MarketConfig>;
  marketBySymbol: Map<string, MarketConfig>;
  devAccounts: DevAccount[];
  limits: ExchangeLimits;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${what} must be an object`);
  return v as Obj;
}

function keysOnly(o: Obj, allowed: readonly string[], required: readonly string[], what: string): void {
  for (const k of Object.keys(o)) if (!k.startsWith('_') && !allowed.includes(k)) throw new ConfigError(`${what}: unknown key "${k}"`);
  for (const k of required) if (o[k] === undefined) throw new ConfigError(`${what}: missing "${k}"`);
}

function wrap<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${what}: ${(e as Error).message}`);
  }
}

function feltField(v: unknown, what: string, nonzero = true): bigint {
  const x = wrap(what, () => parseFelt(v, what));
  if (nonzero && x === 0n) throw new ConfigError(`${what} must be nonzero`);
  return x;
}

function intField(v: unknown, what: string, lo: number, hi: number): bigint {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) throw new ConfigError(`${what} must be an integer in [${lo}, ${hi}]`);
  return BigInt(v);
}

function dec(v: unknown, decimals: number, what: string, allowNegative = false): bigint {
  return wrap(what, () => parseDecimal(v, decimals, what, allowNegative));
}

function fraction(v: unknown, what: string, allowNegative = false): bigint {
  return dec(v, 9, what, allowNegative);
}

/** Defaults of optional genesis fields (docs/exchange.md, "Genesis"). */
export const DEFAULT_IMPACT_NOTIONAL = 10_000n * 1_000_000n; // 10,000 USDC
export const DEFAULT_ORACLE_MAX_AGE = 60n;

const SYMBOL_RE = /^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$/;

function keyEntry(v: unknown, what: string, checkPrivate = true): KeyEntry {
  const o = obj(v, what);
  keysOnly(o, ['public_key', 'private_key'], ['public_key'], what);
  const publicKey = feltField(o.public_key, `${what}.public_key`);
  if (publicKey >= 2n ** 251n) throw new ConfigError(`${what}.public_key is not a stark key`);
  let privateKey: bigint | undefined;
  if (o.private_key !== undefined) {
    privateKey = feltField(o.private_key, `${what}.private_key`);
    if (checkPrivate && wrap(`${what}.private_key`, () => getStarkKey(privateKey!)) !== publicKey) throw new ConfigError(`${what}.private_key does not match its public_key`);
  }
  return { publicKey, privateKey };
}

const MARKET_KEYS = [
  'symbol',
  'initial_price',
  'tick_size',
  'step_size',
  'min_size',
  'initial_margin_fraction',
  'maintenance_margin_fraction',
  'maker_fee',
  'taker_fee',
  'funding_period_seconds',
  'funding_interval_seconds',
  'funding_rate_clamp',
  'price_band_bps',
  'open_interest_cap',
  'liquidation_penalty',
  'liquidation_step_fraction',
  'oracle_max_jump',
] as const;
const MARKET_OPTIONAL_KEYS = ['impact_notional', 'funding_baseline_rate'] as const;

function market(v: unknown, index: number): MarketConfig {
  const what = `markets[${index}]`;
  const o = obj(v, what);
  keysOnly(o, [...MARKET_KEYS, ...MARKET_OPTIONAL_KEYS], MARKET_KEYS, what);
  const symbol = o.symbol;
  if (typeof symbol !== 'string' || symbol.length > 31 || !SYMBOL_RE.test(symbol) || symbol === 'ALL') {
    throw new ConfigError(`${what}.symbol must be an upper-case symbol like BTC-USD-PERP (at most 31 characters, not "ALL")`);
  }
  const w = `${what} (${symbol})`;
  const m: MarketConfig = {
    symbol,
    id: encodeShortString(symbol),
    index,
    initialPrice: dec(o.initial_price, 8, `${w}.initial_price`),
    tickSize: dec(o.tick_size, 8, `${w}.tick_size`),
    stepSize: dec(o.step_size, 8, `${w}.step_size`),
    minSize: dec(o.min_size, 8, `${w}.min_size`),
    initialMarginFraction: fraction(o.initial_margin_fraction, `${w}.initial_margin_fraction`),
    maintenanceMarginFraction: fraction(o.maintenance_margin_fraction, `${w}.maintenance_margin_fraction`),
    makerFee: fraction(o.maker_fee, `${w}.maker_fee`, true),
    takerFee: fraction(o.taker_fee, `${w}.taker_fee`),
    fundingPeriod: intField(o.funding_period_seconds, `${w}.funding_period_seconds`, 1, 365 * 86400),
    fundingInterval: intField(o.funding_interval_seconds, `${w}.funding_interval_seconds`, 1, 365 * 86400),
    fundingRateClamp: fraction(o.funding_rate_clamp, `${w}.funding_rate_clamp`),
    priceBandBps: intField(o.price_band_bps, `${w}.price_band_bps`, 1, 9999),
    openInterestCap: dec(o.open_interest_cap, 8, `${w}.open_interest_cap`),
    liquidationPenalty: fraction(o.liquidation_penalty, `${w}.liquidation_penalty`),
    liquidationStepFraction: fraction(o.liquidation_step_fraction, `${w}.liquidation_step_fraction`),
    oracleMaxJump: fraction(o.oracle_max_jump, `${w}.oracle_max_jump`),
    impactNotional: o.impact_notional === undefined ? DEFAULT_IMPACT_NOTIONAL : dec(o.impact_notional, 6, `${w}.impact_notional`),
    fundingBaselineRate: o.funding_baseline_rate === undefined ? 0n : fraction(o.funding_baseline_rate, `${w}.funding_baseline_rate`, true),
  };
  const bad = (msg: string): never => {
    throw new ConfigError(`${w}: ${msg}`);
  };
  if (m.initialPrice <= 0n || m.initialPrice > U128_MAX) bad('initial_price must be positive');
  if (m.tickSize <= 0n) bad('tick_size must be positive');
  if (m.stepSize <= 0n) bad('step_size must be positive');
  if (m.initialPrice % m.tickSize !== 0n) bad('initial_price must be a multiple of tick_size');
  // Every trade's notional (size x price / 1e10) is then an exact number of USDC base units.
  if ((m.tickSize * m.stepSize) % NOTIONAL_DIVISOR !== 0n) bad(`tick_size x step_size must be a multiple of 1e-12 USD (so trade notionals are exact USDC base units)`);
  if (m.minSize <= 0n || m.minSize % m.stepSize !== 0n) bad('min_size must be a positive multiple of step_size');
  if (m.maintenanceMarginFraction <= 0n) bad('maintenance_margin_fraction must be positive');
  if (m.initialMarginFraction <= m.maintenanceMarginFraction) bad('initial_margin_fraction must exceed maintenance_margin_fraction');
  if (m.initialMarginFraction > FRACTION_SCALE) bad('initial_margin_fraction must be at most 1');
  if (m.takerFee >= FRACTION_SCALE / 10n) bad('taker_fee must be below 0.1');
  if (m.makerFee >= FRACTION_SCALE / 10n) bad('maker_fee must be below 0.1');
  if (m.makerFee < 0n && -m.makerFee > m.takerFee) bad('a maker rebate may not exceed the taker fee (the fee balance must never go negative)');
  if (m.fundingInterval > m.fundingPeriod) bad('funding_interval_seconds must not exceed funding_period_seconds');
  if (m.fundingRateClamp <= 0n || m.fundingRateClamp > FRACTION_SCALE) bad('funding_rate_clamp must be in (0, 1]');
  if (m.openInterestCap <= 0n || m.openInterestCap > U128_MAX) bad('open_interest_cap must be positive');
  if (m.liquidationPenalty >= m.maintenanceMarginFraction) bad('liquidation_penalty must be below maintenance_margin_fraction');
  if (m.liquidationStepFraction <= 0n || m.liquidationStepFraction > FRACTION_SCALE) bad('liquidation_step_fraction must be in (0, 1]');
  if (m.oracleMaxJump <= 0n || m.oracleMaxJump > FRACTION_SCALE) bad('oracle_max_jump must be in (0, 1]');
  if (m.impactNotional <= 0n || m.impactNotional > U128_MAX) bad('impact_notional must be positive');
  if (m.fundingBaselineRate > m.fundingRateClamp || -m.fundingBaselineRate > m.fundingRateClamp) bad('funding_baseline_rate must be within ±funding_rate_clamp');
  return m;
}

const TOP_KEYS = [
  'version',
  'exchange_address',
  'vault_address',
  'collateral',
  'bridge_operator',
  'oracles',
  'oracle_max_future_skew_seconds',
  'oracle_max_age_seconds',
  'post_only_band_bps',
  'limit_price_band_bps',
  'max_open_orders',
  'initial_mode',
  'vault_initial_balance',
  'vault_fee_share_bps',
  'markets',
  'dev_accounts',
  'limits',
  'oracle_quorum',
  'withdrawal_gate_blocks',
  'chain_outage_seconds',
] as const;
const TOP_REQUIRED = ['version', 'exchange_address', 'vault_address', 'collateral', 'bridge_operator', 'oracles', 'vault_initial_balance', 'markets'] as const;

export interface ParseExchangeOptions {
  /**
   * The file is byte for byte one that was fully validated when its chain was created (the data
   * directory's genesis digest matched): dev_accounts' written `address`es are taken as they are
   * and their private keys are not re-derived, so a start costs no Pedersen or EC work per dev
   * account. An entry without an `address` is still derived.
   */
  trustDevAccounts?: boolean;
}

/** Parses and validates the genesis "exchange" object. Throws ConfigError naming the field. */
export function parseExchangeGenesis(json: unknown, opts: ParseExchangeOptions = {}): ExchangeConfig {
  const o = obj(json, 'exchange');
  keysOnly(o, TOP_KEYS, TOP_REQUIRED, 'exchange');
  if (o.version !== 1) throw new ConfigError('exchange.version must be 1');
  const exchangeAddress = feltField(o.exchange_address, 'exchange_address');
  const vaultAddress = feltField(o.vault_address, 'vault_address');
  if (exchangeAddress >= 2n ** 251n - 256n || vaultAddress >= 2n ** 251n - 256n) throw new ConfigError('contract addresses must be below 2^251 - 256');
  if (exchangeAddress === vaultAddress) throw new ConfigError('exchange_address and vault_address must differ');
  const col = obj(o.collateral, 'collateral');
  keysOnly(col, ['symbol', 'decimals'], ['symbol', 'decimals'], 'collateral');
  if (col.decimals !== 6) throw new ConfigError('collateral.decimals must be 6 (USDC base units)');
  if (typeof col.symbol !== 'string' || !/^[A-Z]{1,16}$/.test(col.symbol)) throw new ConfigError('collateral.symbol must be upper-case letters');
  const bridgeOperator = keyEntry(o.bridge_operator, 'bridge_operator');
  if (!Array.isArray(o.oracles) || o.oracles.length === 0 || o.oracles.length > 16) throw new ConfigError('oracles must be a list of 1 to 16 keys');
  const oracles = o.oracles.map((k, i) => keyEntry(k, `oracles[${i}]`));
  if (new Set(oracles.map((k) => k.publicKey)).size !== oracles.length) throw new ConfigError('oracles: duplicate public key');
  if (!Array.isArray(o.markets) || o.markets.length === 0 || o.markets.length > 64) throw new ConfigError('markets must be a list of 1 to 64 markets');
  const markets = o.markets.map((m, i) => market(m, i));
  const marketById = new Map<bigint, MarketConfig>();
  const marketBySymbol = new Map<string, MarketConfig>();
  for (const m of markets) {
    if (marketBySymbol.has(m.symbol)) throw new ConfigError(`markets: duplicate symbol ${m.symbol}`);
    marketById.set(m.id, m);
    marketBySymbol.set(m.symbol, m);
  }
  const vaultInitialBalance = dec(o.vault_initial_balance, 6, 'vault_initial_balance');
  if (vaultInitialBalance > U128_MAX) throw new ConfigError('vault_initial_balance is too large');
  const initialMode = o.initial_mode === undefined ? 'NORMAL' : o.initial_mode;
  if (typeof initialMode !== 'string' || !(MODES as readonly string[]).includes(initialMode)) throw new ConfigError(`initial_mode must be one of ${MODES.join(', ')}`);
  const devAccounts: DevAccount[] = [];
  if (o.dev_accounts !== undefined) {
    if (!Array.isArray(o.dev_accounts)) throw new ConfigError('dev_accounts must be a list');
    const seen = new Set<bigint>();
    o.dev_accounts.forEach((v, i) => {
      const what = `dev_accounts[${i}]`;
      const a = obj(v, what);
      keysOnly(a, ['public_key', 'private_key', 'address', 'balance'], ['public_key', 'balance'], what);
      const k = keyEntry({ public_key: a.public_key, private_key: a.private_key }, what, !opts.trustDevAccounts);
      const written = a.address === undefined ? undefined : feltField(a.address, `${what}.address`);
      const address = opts.trustDevAccounts && written !== undefined ? written : accountAddress(k.publicKey);
      if (written !== undefined && written !== address) throw new ConfigError(`${what}.address is not the account address of its public_key (expected 0x${address.toString(16)})`);
      if (seen.has(address)) throw new ConfigError(`${what}: duplicate account`);
      seen.add(address);
      const balance = dec(a.balance, 6, `${what}.balance`);
      if (balance > U128_MAX) throw new ConfigError(`${what}.balance is too large`);
      devAccounts.push({ publicKey: k.publicKey, address, balance, privateKey: k.privateKey });
    });
    if (seen.has(exchangeAddress) || seen.has(vaultAddress)) throw new ConfigError('dev_accounts: an account collides with the exchange or vault address');
  }
  const oracleQuorum = o.oracle_quorum === undefined ? Math.floor(oracles.length / 2) + 1 : Number(intField(o.oracle_quorum, 'oracle_quorum', 1, oracles.length));
  const limits: ExchangeLimits = { maxCancelAllHashes: 1000, maxSystemCancelOrders: 10000, maxOraclePrices: 64, maxAdlCounterparties: 1000 };
  if (o.limits !== undefined) {
    const l = obj(o.limits, 'limits');
    keysOnly(l, ['max_cancel_all_hashes', 'max_system_cancel_orders', 'max_oracle_prices', 'max_adl_counterparties'], [], 'limits');
    if (l.max_cancel_all_hashes !== undefined) limits.maxCancelAllHashes = Number(intField(l.max_cancel_all_hashes, 'limits.max_cancel_all_hashes', 0, 100000));
    if (l.max_system_cancel_orders !== undefined) limits.maxSystemCancelOrders = Number(intField(l.max_system_cancel_orders, 'limits.max_system_cancel_orders', 1, 1000000));
    if (l.max_oracle_prices !== undefined) limits.maxOraclePrices = Number(intField(l.max_oracle_prices, 'limits.max_oracle_prices', 1, 1000));
    if (l.max_adl_counterparties !== undefined) limits.maxAdlCounterparties = Number(intField(l.max_adl_counterparties, 'limits.max_adl_counterparties', 1, 100000));
  }
  return {
    version: 1,
    exchangeAddress,
    vaultAddress,
    collateralSymbol: col.symbol,
    collateralDecimals: 6,
    bridgeOperator,
    oracles,
    oracleMaxFutureSkew: o.oracle_max_future_skew_seconds === undefined ? 10n : intField(o.oracle_max_future_skew_seconds, 'oracle_max_future_skew_seconds', 0, 86400),
    oracleMaxAge: o.oracle_max_age_seconds === undefined ? DEFAULT_ORACLE_MAX_AGE : intField(o.oracle_max_age_seconds, 'oracle_max_age_seconds', 0, 365 * 86400),
    oracleQuorum,
    withdrawalGateBlocks: o.withdrawal_gate_blocks === undefined ? 50n : intField(o.withdrawal_gate_blocks, 'withdrawal_gate_blocks', 0, 1_000_000),
    chainOutageSeconds: o.chain_outage_seconds === undefined ? 300n : intField(o.chain_outage_seconds, 'chain_outage_seconds', 1, 365 * 86400),
    postOnlyBandBps: o.post_only_band_bps === undefined ? 100n : intField(o.post_only_band_bps, 'post_only_band_bps', 1, Number(BPS) - 1),
    limitPriceBandBps: o.limit_price_band_bps === undefined ? 500n : intField(o.limit_price_band_bps, 'limit_price_band_bps', 1, Number(BPS)),
    maxOpenOrders: o.max_open_orders === undefined ? 200 : Number(intField(o.max_open_orders, 'max_open_orders', 1, 100000)),
    initialMode: initialMode as Mode,
    vaultInitialBalance,
    vaultFeeShareBps: o.vault_fee_share_bps === undefined ? 0n : intField(o.vault_fee_share_bps, 'vault_fee_share_bps', 0, Number(BPS)),
    markets,
    marketById,
    marketBySymbol,
    devAccounts,
    limits,
  };
}

export function marketBySymbol(cfg: ExchangeConfig, symbol: string): MarketConfig | undefined {
  return cfg.marketBySymbol.get(symbol);
}
