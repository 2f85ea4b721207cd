/**
 * contracts-ts: the exchange's state transitions, pure and deterministic. The node calls only
 * what this file exports. See docs/exchange.md for the rules, formulas and storage layout.
 */
import type { StateAccess } from './state.ts';
import type { ExchangeConfig } from './config.ts';
import { defaultExchangeAddress } from './classes.ts';
import { EX } from './layout.ts';
import { modeFromFelt, type Mode } from './exchange/modes.ts';

export { MemoryState, OverlayState, TxRevert, type BlockContext, type ContractEvent, type ExecContext, type StateAccess } from './state.ts';
export { ACCOUNT_CLASS, accountAddress, classByHash, CONTRACT_CLASSES, contractAddress, defaultExchangeAddress, defaultVaultAddress, EXCHANGE_CLASS, VAULT_CLASS, type ContractClass } from './classes.ts';
export { ConfigError, parseExchangeGenesis, type DevAccount, type ExchangeConfig, type ExchangeLimits, type KeyEntry, type MarketConfig } from './config.ts';
export { applyGenesis } from './exchange/genesis.ts';
export { executeTransaction, type ExecResult } from './execute.ts';
export {
  CODEC_LIMITS,
  isSystemTx,
  orderToJson,
  parseOrderMessage,
  parseSignature,
  parseTx,
  signedOrderToJson,
  SYSTEM_TX_TYPES,
  TX_PREFIX,
  TX_TYPES,
  txCalldata,
  txHash,
  txNonce,
  TxParseError,
  txSender,
  txSignature,
  txToJson,
  type AdlTx,
  type CancelAllTx,
  type CancelTx,
  type DeployAccountTx,
  type DepositTx,
  type FundingTx,
  type FundingSampleTx,
  type LiquidateTx,
  type OracleUpdateTx,
  type PerpTx,
  type RefundTx,
  type SetModeTx,
  type Sig,
  type SystemCancelTx,
  type TradeTx,
  type TransferTx,
  type TriggerTx,
  type VaultUnwindTx,
  type TxType,
  type WithdrawTx,
} from './tx.ts';
export {
  cancelAllHash,
  cancelAllTypedData,
  cancelHash,
  cancelTypedData,
  deployAccountHash,
  deployAccountTypedData,
  depositHash,
  depositTypedData,
  domainHash,
  orderHash,
  orderMessage,
  orderTypedData,
  oracleUpdateHash,
  oracleUpdateTypedData,
  transferHash,
  transferTypedData,
  typedDataDomain,
  TYPES as TYPED_DATA_TYPES,
  withdrawHash,
  withdrawTypedData,
  type CancelAllMsg,
  type CancelMsg,
  type DepositMsg,
  type OracleUpdateMsg,
  type TransferMsg,
  type WithdrawMsg,
  type TypedData,
} from './typed-data.ts';
export { ORDER_TYPES, SIDES, TIME_IN_FORCE, isConditional, isTpSl, type Order, type OrderType, type Side, type SignedOrder, type TimeInForce } from './exchange/order.ts';
export { validateOrderForBook, withinLimitBand, checkOrderBacking, type OrderState } from './exchange/orders.ts';
export { isMarketKind, isTriggered, reducible, triggerDirection, cancelOwnerOk } from './exchange/order.ts';
export { checkInvariants, auditInvariants } from './exchange/invariants.ts';
export {
  getAccountView,
  getExchangeView,
  getFundingView,
  getMarketView,
  getOrderState,
  getVaultView,
  markPrice,
  type AccountView,
  type ExchangeView,
  type FundingView,
  type MarketView,
  type OrderStateView,
  type PositionView,
  type VaultView,
} from './exchange/views.ts';
export { findLiquidations, proposeFunding, proposeFundingSample, vaultUnwindTargets, type FindLiquidationsOptions, type ImpactPrices, type VaultUnwindTarget } from './exchange/proposers.ts';
export { execVaultUnwind, unwindAllowance } from './exchange/unwind.ts';
export { makeSetModeTx } from './exchange/admin.ts';
export { isDepositProcessed, refundPaid } from './exchange/collateral.ts';
export { ERROR_CODES, rpcErrorCode, type ErrorCode } from './exchange/errors.ts';
export { EVENT_NAMES, eventSelector } from './exchange/events.ts';
export { MODES, type Mode } from './exchange/modes.ts';
export * as units from './math.ts';

/**
 * The maintenance mode stored on-chain. Without a config, the exchange is assumed at its default
 * address (as in genesis/devnet.json).
 */
export function getMode(state: StateAccess, cfg?: ExchangeConfig): Mode {
  return modeFromFelt(state.getStorage(cfg?.exchangeAddress ?? defaultExchangeAddress(), EX.mode));
}
