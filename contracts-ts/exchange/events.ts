/**
 * Events, Starknet style: keys[0] = sn_keccak(event name), then the indexed keys (the account
 * address first where there is one, so getEvents can filter by account); data holds the rest.
 * Signed values are felts (negative x -> p + x). Event shapes are listed in docs/exchange.md.
 */
import type { ContractEvent } from '../state.ts';
import { starknetKeccak } from '../crypto.ts';

const selectors = new Map<string, bigint>();

export function eventSelector(name: string): bigint {
  let s = selectors.get(name);
  if (s === undefined) {
    s = starknetKeccak(name);
    selectors.set(name, s);
  }
  return s;
}

export function event(fromAddress: bigint, name: string, keys: bigint[], data: bigint[]): ContractEvent {
  return { fromAddress, keys: [eventSelector(name), ...keys], data };
}

export const EVENT_NAMES = [
  'AccountDeployed',
  'Deposit',
  'Withdraw',
  'Transfer',
  'Trade',
  'OrderCancelled',
  'CancelAll',
  'OrderTriggered',
  'OraclePrice',
  'FundingApplied',
  'FundingSample',
  'Liquidation',
  'ShortfallPaid',
  'Deleverage',
  'SocializedLoss',
  'VaultUnwind',
  'ModeChanged',
  'Refund',
  'MessagesVoided',
] as const;
