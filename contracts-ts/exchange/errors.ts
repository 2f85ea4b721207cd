/**
 * Revert codes of the exchange contracts (TxRevert.code), each with the JSON-RPC error number
 * the RPC should answer with: Starknet spec codes where the meaning matches (55 validation
 * failure, 52 invalid nonce, 59 duplicate), perpnode codes from 10000 up otherwise.
 */
import { TxRevert } from '../state.ts';

export const ERROR_CODES = {
  BAD_SIGNATURE: { rpc: 55, message: 'signature does not verify' },
  INVALID_NONCE: { rpc: 52, message: 'nonce is not the account nonce' },
  DUPLICATE: { rpc: 59, message: 'already processed' },
  ACCOUNT_NOT_DEPLOYED: { rpc: 10001, message: 'no account is deployed at this address' },
  ACCOUNT_EXISTS: { rpc: 10002, message: 'an account is already deployed at this address' },
  UNKNOWN_MARKET: { rpc: 10003, message: 'no such market' },
  INVALID_ORDER: { rpc: 10004, message: 'malformed order' },
  BAD_ORDER_HASH: { rpc: 10005, message: 'order hash does not match the order' },
  ORDER_EXPIRED: { rpc: 10006, message: 'order expired' },
  ORDER_CANCELLED: { rpc: 10007, message: 'order cancelled' },
  OVERFILL: { rpc: 10008, message: 'fill exceeds the order size' },
  PRICE_LIMIT: { rpc: 10009, message: 'price outside the order limit' },
  PRICE_BAND: { rpc: 10010, message: 'price outside the allowed band around the oracle price' },
  INVALID_TICK: { rpc: 10011, message: 'price is not a multiple of the tick size' },
  INVALID_STEP: { rpc: 10012, message: 'size is not a multiple of the step size' },
  BELOW_MIN_SIZE: { rpc: 10013, message: 'size below the market minimum' },
  REDUCE_ONLY: { rpc: 10014, message: 'reduce-only order would increase the position' },
  SELF_TRADE: { rpc: 10015, message: 'maker and taker are the same account' },
  INSUFFICIENT_MARGIN: { rpc: 10016, message: 'margin requirement not met' },
  INSUFFICIENT_COLLATERAL: { rpc: 10017, message: 'not enough free collateral' },
  OPEN_INTEREST_CAP: { rpc: 10018, message: 'market open-interest cap reached' },
  MODE_CANCEL_ONLY: { rpc: 10019, message: 'exchange is in CANCEL_ONLY mode' },
  MODE_POST_ONLY: { rpc: 10020, message: 'exchange is in POST_ONLY mode' },
  MODE_HALTED: { rpc: 10021, message: 'exchange is HALTED' },
  NOT_TRIGGERED: { rpc: 10022, message: 'conditional order not triggered by the mark price' },
  FOK_NOT_FILLED: { rpc: 10023, message: 'fill-or-kill order must fill completely at once' },
  INVALID_ROLE: { rpc: 10024, message: 'order cannot act as maker/taker' },
  INVALID_AMOUNT: { rpc: 10025, message: 'invalid amount' },
  INVALID_RECIPIENT: { rpc: 10026, message: 'invalid recipient' },
  ORDER_FILLED: { rpc: 10027, message: 'order already completely filled' },
  TOO_MANY: { rpc: 10028, message: 'too many entries' },
  NOT_OWNER: { rpc: 10029, message: 'the order belongs to another account' },
  ORACLE_UNKNOWN_SIGNER: { rpc: 10030, message: 'not an oracle key' },
  ORACLE_TIMESTAMP: { rpc: 10031, message: 'oracle timestamp not after the last one, or too far ahead' },
  ORACLE_JUMP: { rpc: 10032, message: 'oracle price moves more than allowed in one update' },
  ORACLE_STALE: { rpc: 10033, message: 'oracle price too old' },
  INVALID_PRICE: { rpc: 10034, message: 'invalid price' },
  ORACLE_TOO_FREQUENT: { rpc: 10035, message: 'at most one oracle price update per market per block' },
  FUNDING_TIMESTAMP: { rpc: 10040, message: 'funding timestamp must be the block timestamp, and a funding interval of live time must have passed' },
  FUNDING_RESET: { rpc: 10041, message: 'funding index reset attempt' },
  FUNDING_BOUND: { rpc: 10042, message: 'funding index moves beyond clamp x price x seconds / period' },
  FUNDING_MISMATCH: { rpc: 10043, message: 'funding index differs from the recomputed one' },
  NOT_LIQUIDATABLE: { rpc: 10050, message: 'account is not below maintenance margin' },
  LIQUIDATION_SIZE: { rpc: 10051, message: 'liquidation size not allowed' },
  STALE_PROPOSAL: { rpc: 10052, message: 'proposal does not match the current state' },
  VAULT_INSUFFICIENT: { rpc: 10053, message: 'the liquidator vault cannot cover this (a liquidation step it cannot absorb, or a refund)' },
  ADL_NOT_ALLOWED: { rpc: 10054, message: 'auto-deleveraging only when the vault cannot absorb the liquidation' },
  NO_COUNTERPARTY: { rpc: 10055, message: 'no profitable opposite position to deleverage against' },
  UNWIND_SIZE: { rpc: 10056, message: 'vault unwind size not allowed (it only reduces the vault, at most its per-block step)' },
  WITHDRAWALS_GATED: { rpc: 10071, message: 'withdrawals and transfers are paused after a negative-equity account or an outage' },
  MODE_SEQUENCE: { rpc: 10060, message: 'mode change sequence number is not the next one' },
  INVALID_MODE: { rpc: 10061, message: 'invalid mode change' },
  ORPHANED_MESSAGE: { rpc: 10070, message: 'signed on a rolled-back branch: sign it anew' },
  ORDER_NOT_EXPIRED: { rpc: 10072, message: 'the order has not expired: its on-chain record is still needed' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function revert(code: ErrorCode, detail?: string, party?: 'maker' | 'taker'): never {
  const base = ERROR_CODES[code].message;
  throw new TxRevert(code, detail ? `${base}: ${detail}` : base, party);
}

/** The JSON-RPC error number for a revert code (10000 for unknown codes). */
export function rpcErrorCode(code: string): number {
  return (ERROR_CODES as Record<string, { rpc: number }>)[code]?.rpc ?? 10000;
}
