/**
 * JSON shapes served by the RPC. One place, so starknet_* and perp_* answer alike:
 * - felts (hashes, addresses, keys, class hashes) as 0x-hex without leading zeros;
 * - exchange amounts as decimal integer strings in chain units (sizes and prices 1e-8,
 *   collateral 1e-6 USDC, fractions 1e-9), negative values with a leading "-";
 * - counts and block numbers as JSON numbers; keys in snake_case.
 *
 * Our transactions are shown to Starknet tools as INVOKE v3 transactions: sender_address is
 * the account that caused it (contracts-ts `txSender`), calldata its felt encoding (the first
 * felt is the short string "PERP_<TYPE>"), nonce its account nonce (0 when it has none), and
 * zero resource bounds, tip and fee (perpnode charges no gas).
 */
import { parseTx, txCalldata, txNonce, txSender, type PerpTx } from '../../contracts-ts/index.ts';
import { v3TxJson } from '../../contracts-ts/starknet/tx.ts';
import type { AccountView, FundingView, MarketView, PositionView, VaultView, OrderStateView } from '../../contracts-ts/index.ts';
import type { ContractEvent } from '../../contracts-ts/state.ts';
import type { ChainTx, Receipt } from '../chain/block.ts';
import { headerToJson } from '../chain/block.ts';
import type { BlockHeader } from '../chain/header.ts';
import type { Genesis } from '../chain/genesis.ts';
import type { ProofNode } from '../trie/index.ts';
import type { OrderRecord, Fill } from '../sequencer/orderbook/index.ts';

export const hex = (x: bigint): string => '0x' + x.toString(16);
/** Decimal integer string (chain units), "-" for negatives. */
export const dec = (x: bigint): string => x.toString();

export type Finality = 'PRE_CONFIRMED' | 'ACCEPTED_ON_L2';

export function headerView(h: BlockHeader, hash: bigint) {
  return { status: 'ACCEPTED_ON_L2', block_hash: hex(hash), ...headerToJson(h) };
}

/** The header fields a pre_confirmed block has (no hash, parent or commitments yet). */
export function preConfirmedHeaderView(g: Genesis, number: bigint, timestamp: bigint) {
  return {
    block_number: Number(number),
    timestamp: Number(timestamp),
    sequencer_address: hex(g.sequencer.address),
    l1_gas_price: { price_in_fri: hex(g.gasPrices.l1.price_in_fri), price_in_wei: hex(g.gasPrices.l1.price_in_wei) },
    l2_gas_price: { price_in_fri: hex(g.gasPrices.l2.price_in_fri), price_in_wei: hex(g.gasPrices.l2.price_in_wei) },
    l1_data_gas_price: { price_in_fri: hex(g.gasPrices.l1Data.price_in_fri), price_in_wei: hex(g.gasPrices.l1Data.price_in_wei) },
    l1_da_mode: g.l1DaMode,
    starknet_version: g.starknetVersion,
  };
}

/** The parsed transaction behind a stored one (undefined if the body does not parse). */
export function perpTxOf(t: ChainTx): PerpTx | undefined {
  try {
    return parseTx(t.body);
  } catch {
    return undefined;
  }
}

const ZERO_BOUND = { max_amount: '0x0', max_price_per_unit: '0x0' };

/**
 * A stored transaction with its hash: a Starknet v3 INVOKE / DEPLOY_ACCOUNT exactly as the
 * wallet sent it; any other (perp_*, system) transaction as an INVOKE v3 (see above).
 */
export function txView(t: ChainTx, g: Genesis): Record<string, unknown> {
  const tx = perpTxOf(t);
  if (tx && (tx.type === 'INVOKE' || tx.type === 'DEPLOY_ACCOUNT_V3')) return { transaction_hash: hex(t.hash), ...v3TxJson(tx) };
  return {
    transaction_hash: hex(t.hash),
    type: 'INVOKE',
    version: '0x3',
    sender_address: hex(tx ? txSender(tx, g.sequencer.address) : g.sequencer.address),
    calldata: tx ? txCalldata(tx).map(hex) : [],
    signature: t.signature.map(hex),
    nonce: hex(tx ? (txNonce(tx) ?? 0n) : 0n),
    resource_bounds: { l1_gas: ZERO_BOUND, l1_data_gas: ZERO_BOUND, l2_gas: ZERO_BOUND },
    tip: '0x0',
    paymaster_data: [] as string[],
    account_deployment_data: [] as string[],
    nonce_data_availability_mode: 'L1',
    fee_data_availability_mode: 'L1',
  };
}

/** txView without its hash (BLOCK_WITH_RECEIPTS lists transactions without hashes). */
export function txBodyView(t: ChainTx, g: Genesis) {
  const { transaction_hash: _h, ...rest } = txView(t, g);
  return rest;
}

export function eventView(e: ContractEvent) {
  return { from_address: hex(e.fromAddress), keys: e.keys.map(hex), data: e.data.map(hex) };
}

/**
 * A receipt: every included transaction SUCCEEDED; fee 0 FRI; no L1 messages. A DEPLOY_ACCOUNT
 * v3 transaction's receipt (pass `t`) is of type DEPLOY_ACCOUNT with its contract_address.
 */
export function receiptView(r: Receipt, finality: Finality, t?: ChainTx) {
  const tx = t && perpTxOf(t);
  const deploy = tx && tx.type === 'DEPLOY_ACCOUNT_V3' ? { type: 'DEPLOY_ACCOUNT', contract_address: hex(txSender(tx)) } : { type: 'INVOKE' };
  return {
    ...deploy,
    transaction_hash: hex(r.transaction_hash),
    actual_fee: { amount: '0x0', unit: 'FRI' },
    execution_status: 'SUCCEEDED',
    finality_status: finality,
    messages_sent: [] as unknown[],
    events: r.events.map(eventView),
    execution_resources: { l1_gas: 0, l1_data_gas: 0, l2_gas: 0 },
  };
}

export function proofView(nodes: readonly ProofNode[]) {
  return nodes.map((p) => ({
    node_hash: hex(p.node_hash),
    node: 'left' in p.node ? { left: hex(p.node.left), right: hex(p.node.right) } : { path: hex(p.node.path), length: p.node.length, child: hex(p.node.child) },
  }));
}

// ---- exchange views ---------------------------------------------------------------------------

const opt = (x: bigint | null) => (x === null ? null : dec(x));

export function positionView(p: PositionView) {
  return {
    market: p.market,
    side: p.side,
    size: dec(p.size),
    entry_price: dec(p.entryPrice),
    cost: dec(p.cost),
    mark_price: dec(p.markPrice),
    notional: dec(p.notional),
    unrealized_pnl: dec(p.unrealizedPnl),
    pending_funding: dec(p.pendingFunding),
    funding_snapshot: dec(p.fundingSnapshot),
    initial_margin: dec(p.initialMargin),
    maintenance_margin: dec(p.maintenanceMargin),
    liquidation_price: opt(p.liquidationPrice),
  };
}

export function accountView(a: AccountView) {
  return {
    address: hex(a.address),
    deployed: a.deployed,
    public_key: hex(a.publicKey),
    nonce: hex(a.nonce),
    collateral: dec(a.collateral),
    equity: dec(a.equity),
    unrealized_pnl: dec(a.unrealizedPnl),
    pending_funding: dec(a.pendingFunding),
    initial_margin: dec(a.initialMargin),
    maintenance_margin: dec(a.maintenanceMargin),
    free_collateral: dec(a.freeCollateral),
    withdrawable: dec(a.withdrawable),
    margin_ratio: opt(a.marginRatio),
    liquidatable: a.liquidatable,
    positions: a.positions.map(positionView),
  };
}

export function fundingView(f: FundingView) {
  return {
    market: f.market,
    index: dec(f.index),
    rate: dec(f.rate),
    last_update: Number(f.lastUpdate),
    previous_index: dec(f.previousIndex),
    previous_update: Number(f.previousUpdate),
    price: dec(f.price),
    updates: Number(f.updates),
    period_seconds: Number(f.period),
    interval_seconds: Number(f.interval),
    rate_clamp: dec(f.clamp),
  };
}

export function marketView(v: MarketView) {
  const c = v.config;
  return {
    symbol: v.symbol,
    market_id: hex(c.id),
    mark_price: dec(v.markPrice),
    oracle_timestamp: Number(v.oracleTimestamp),
    long_open_interest: dec(v.longOpenInterest),
    short_open_interest: dec(v.shortOpenInterest),
    holders: Number(v.holders),
    tick_size: dec(c.tickSize),
    step_size: dec(c.stepSize),
    min_size: dec(c.minSize),
    initial_margin_fraction: dec(c.initialMarginFraction),
    maintenance_margin_fraction: dec(c.maintenanceMarginFraction),
    maker_fee: dec(c.makerFee),
    taker_fee: dec(c.takerFee),
    price_band_bps: Number(c.priceBandBps),
    open_interest_cap: dec(c.openInterestCap),
    liquidation_penalty: dec(c.liquidationPenalty),
    funding: fundingView(v.funding),
  };
}

export function vaultView(v: VaultView) {
  return {
    address: hex(v.address),
    balance: dec(v.balance),
    equity: dec(v.equity),
    unrealized_pnl: dec(v.unrealizedPnl),
    refunds_paid: dec(v.refundsPaid),
    socialized_loss: dec(v.socializedLoss),
    socialized_loss_total: dec(v.socializedLossTotal),
    positions: v.positions.map(positionView),
  };
}

/** An order message as wallets sign it (numbers as decimal strings, felts as hex). */
export function orderMessageView(o: OrderRecord['signed']['order']) {
  return {
    account: hex(o.account),
    market: o.market,
    side: o.side,
    orderType: o.orderType,
    timeInForce: o.timeInForce,
    size: dec(o.size),
    price: dec(o.price),
    triggerPrice: dec(o.triggerPrice),
    reduceOnly: o.reduceOnly,
    expiry: dec(o.expiry),
    salt: hex(o.salt),
  };
}

export function orderView(r: OrderRecord, onChain?: OrderStateView | null) {
  return {
    order_hash: hex(r.signed.hash),
    status: r.status,
    reason: r.reason ?? null,
    filled: dec(r.filled),
    remaining: dec(r.remaining),
    order: orderMessageView(r.signed.order),
    signature: r.signed.signature.map(hex),
    seq: Number(r.seq),
    ...(onChain !== undefined ? { on_chain: onChain ? { filled: dec(onChain.filled), cancelled: onChain.cancelled, triggered: onChain.triggered } : null } : {}),
  };
}

export function fillView(f: Fill, txHash: bigint) {
  return {
    transaction_hash: hex(txHash),
    market: f.market,
    size: dec(f.size),
    price: dec(f.price),
    maker_order_hash: hex(f.maker.hash),
    taker_order_hash: hex(f.taker.hash),
    maker: hex(f.maker.order.account),
    taker: hex(f.taker.order.account),
    taker_side: f.taker.order.side,
  };
}
