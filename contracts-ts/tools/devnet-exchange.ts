/**
 * Builds the "exchange" object of genesis/devnet.json, deterministically. DEVNET ONLY: every
 * private key is derived from a public seed, so anyone can sign for these accounts.
 *
 *   private key (dev account i) = sn_keccak("perpnode devnet account <i>")   (< 2^250 < curve order)
 *   bridge operator             = sn_keccak("perpnode devnet bridge operator")
 *   oracle                      = sn_keccak("perpnode devnet oracle 0")
 *
 * Run `npx tsx contracts-ts/tools/devnet-exchange.ts --write` to refresh only the "exchange" key
 * of genesis/devnet.json (other keys are left exactly as they are); without --write it prints.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { getStarkKey, starknetKeccak, toHex } from '../crypto.ts';
import { accountAddress, defaultExchangeAddress, defaultVaultAddress } from '../classes.ts';

export function devKey(label: string): bigint {
  return starknetKeccak(`perpnode devnet ${label}`);
}

export function devnetExchange(accounts = 10): Record<string, unknown> {
  const key = (label: string) => {
    const priv = devKey(label);
    return { public_key: toHex(getStarkKey(priv)), private_key: toHex(priv) };
  };
  return {
    _comment:
      'DEVNET ONLY. Every private key below is derived from a public seed (see contracts-ts/tools/devnet-exchange.ts) and known to everyone: never use these keys or this file for anything of value. Units: prices and sizes are decimal strings in whole USD / whole base asset; fractions as decimals; balances in USDC. Format: docs/exchange.md.',
    version: 1,
    exchange_address: toHex(defaultExchangeAddress()),
    vault_address: toHex(defaultVaultAddress()),
    collateral: { symbol: 'USDC', decimals: 6 },
    bridge_operator: key('bridge operator'),
    oracles: [key('oracle 0')],
    oracle_max_future_skew_seconds: 10,
    oracle_max_age_seconds: 60,
    oracle_quorum: 1,
    withdrawal_gate_blocks: 50,
    chain_outage_seconds: 300,
    post_only_band_bps: 100,
    initial_mode: 'NORMAL',
    vault_initial_balance: '1000000',
    markets: [
      {
        symbol: 'BTC-USD-PERP',
        initial_price: '65000',
        tick_size: '0.1',
        step_size: '0.0001',
        min_size: '0.001',
        initial_margin_fraction: '0.05',
        maintenance_margin_fraction: '0.03',
        maker_fee: '-0.00005',
        taker_fee: '0.0003',
        funding_period_seconds: 28800,
        funding_interval_seconds: 60,
        funding_rate_clamp: '0.005',
        price_band_bps: 500,
        open_interest_cap: '1000',
        liquidation_penalty: '0.01',
        liquidation_step_fraction: '0.25',
        oracle_max_jump: '0.1',
        impact_notional: '10000',
        funding_baseline_rate: '0.0001',
      },
      {
        symbol: 'ETH-USD-PERP',
        initial_price: '3500',
        tick_size: '0.01',
        step_size: '0.001',
        min_size: '0.01',
        initial_margin_fraction: '0.05',
        maintenance_margin_fraction: '0.03',
        maker_fee: '-0.00005',
        taker_fee: '0.0003',
        funding_period_seconds: 28800,
        funding_interval_seconds: 60,
        funding_rate_clamp: '0.005',
        price_band_bps: 500,
        open_interest_cap: '20000',
        liquidation_penalty: '0.01',
        liquidation_step_fraction: '0.25',
        oracle_max_jump: '0.1',
        impact_notional: '10000',
        funding_baseline_rate: '0.0001',
      },
    ],
    dev_accounts: Array.from({ length: accounts }, (_, i) => {
      const k = key(`account ${i}`);
      return { ...k, address: toHex(accountAddress(BigInt(k.public_key))), balance: '100000' };
    }),
    limits: { max_cancel_all_hashes: 1000, max_system_cancel_orders: 10000, max_oracle_prices: 64, max_adl_counterparties: 1000 },
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const ex = devnetExchange();
  if (process.argv.includes('--write')) {
    const path = new URL('../../genesis/devnet.json', import.meta.url);
    const g = JSON.parse(readFileSync(path, 'utf8'));
    g.exchange = ex;
    writeFileSync(path, JSON.stringify(g, null, 2) + '\n');
    console.log(`wrote the exchange section of ${path.pathname}`);
  } else {
    console.log(JSON.stringify(ex, null, 2));
  }
}
