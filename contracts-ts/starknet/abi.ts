/**
 * The Starknet face of the TypeScript contracts: each class's functions with their Cairo 1
 * types, the ABI JSON built from them (the format starknet.js `Contract` reads), and their
 * selectors (sn_keccak of the function name).
 *
 * The Cairo types used and their calldata encoding (Cairo 1 serde, one felt each unless noted):
 *   felt252, ContractAddress (< 2^251), u128 (< 2^128), bool (0 or 1),
 *   i128 (two's-complement in the field: negative x is p + x, |x| < 2^127),
 *   Array<T> (length, then the items), Call = (to, selector, Array<felt252> calldata).
 */
import { starknetKeccak } from '../crypto.ts';

export type CairoType = 'felt252' | 'ContractAddress' | 'u128' | 'i128' | 'bool' | 'Array<felt252>' | 'Array<Call>' | 'Array<Span<felt252>>' | '(i128, i128, i128)';

export interface AbiFunction {
  name: string;
  inputs: { name: string; type: CairoType }[];
  outputs: CairoType[];
  /** 'view' functions answer starknet_call; 'external' ones run inside a transaction. */
  mutability: 'view' | 'external';
}

export interface ClassAbi {
  /** Cairo path of the contract module (names the interface and the event enum). */
  module: string;
  functions: AbiFunction[];
  ctor?: { name: string; type: CairoType }[];
  /** Event names (their keys[0] is sn_keccak(name)); docs/exchange.md lists the fields. */
  events: readonly string[];
}

const CAIRO_PATH: Record<CairoType, string> = {
  felt252: 'core::felt252',
  ContractAddress: 'core::starknet::contract_address::ContractAddress',
  u128: 'core::integer::u128',
  i128: 'core::integer::i128',
  bool: 'core::bool',
  'Array<felt252>': 'core::array::Array::<core::felt252>',
  'Array<Call>': 'core::array::Array::<core::starknet::account::Call>',
  'Array<Span<felt252>>': 'core::array::Array::<core::array::Span::<core::felt252>>',
  '(i128, i128, i128)': '(core::integer::i128, core::integer::i128, core::integer::i128)',
};

const f = (name: string, mutability: AbiFunction['mutability'], inputs: [string, CairoType][], outputs: CairoType[] = []): AbiFunction => ({
  name,
  mutability,
  inputs: inputs.map(([n, type]) => ({ name: n, type })),
  outputs,
});

export const ACCOUNT_ABI: ClassAbi = {
  module: 'perpnode::account::Account',
  functions: [
    f('__validate__', 'external', [['calls', 'Array<Call>']], ['felt252']),
    f('__execute__', 'external', [['calls', 'Array<Call>']], ['Array<Span<felt252>>']),
    f('__validate_deploy__', 'external', [['class_hash', 'felt252'], ['contract_address_salt', 'felt252'], ['public_key', 'felt252']], ['felt252']),
    f('get_public_key', 'view', [], ['felt252']),
    f('is_valid_signature', 'view', [['hash', 'felt252'], ['signature', 'Array<felt252>']], ['felt252']),
    f('supports_interface', 'view', [['interface_id', 'felt252']], ['bool']),
  ],
  ctor: [{ name: 'public_key', type: 'felt252' }],
  events: ['AccountDeployed'],
};

export const EXCHANGE_ABI: ClassAbi = {
  module: 'perpnode::exchange::Exchange',
  functions: [
    f('withdraw', 'external', [['amount', 'u128'], ['recipient', 'felt252']]),
    f('transfer', 'external', [['recipient', 'ContractAddress'], ['amount', 'u128']]),
    f('cancel_order', 'external', [['order_hash', 'felt252']]),
    f('cancel_all', 'external', [['market', 'felt252']]),
    f('get_collateral', 'view', [['account', 'ContractAddress']], ['i128']),
    f('get_position', 'view', [['account', 'ContractAddress'], ['market', 'felt252']], ['(i128, i128, i128)']),
    f('get_mark_price', 'view', [['market', 'felt252']], ['u128']),
    f('get_funding_index', 'view', [['market', 'felt252']], ['i128']),
    f('get_mode', 'view', [], ['felt252']),
  ],
  events: ['Deposit', 'Withdraw', 'Transfer', 'Trade', 'OrderCancelled', 'CancelAll', 'OrderTriggered', 'OraclePrice', 'FundingApplied', 'Liquidation', 'ShortfallPaid', 'Deleverage', 'ModeChanged', 'Refund'],
};

export const VAULT_ABI: ClassAbi = {
  module: 'perpnode::vault::LiquidatorVault',
  functions: [f('get_balance', 'view', [], ['i128'])],
  events: [],
};

const selectorCache = new Map<string, bigint>();
/** sn_keccak(name): Starknet's entry point selector. */
export function selectorOf(name: string): bigint {
  let s = selectorCache.get(name);
  if (s === undefined) selectorCache.set(name, (s = starknetKeccak(name)));
  return s;
}

/**
 * The ABI as Cairo 1 (compiler 2.x) writes it: one impl + interface with the functions, the
 * constructor, the structs used (Call, Span), and the Event enum with one variant per event.
 * Events have no data members in the ABI: their fields are listed in docs/exchange.md.
 */
export function abiJson(a: ClassAbi): unknown[] {
  const iface = `${a.module.replace(/::[^:]+$/, '')}::I${a.module.split('::').pop()}`;
  const out: unknown[] = [
    { type: 'impl', name: `${a.module.split('::').pop()}Impl`, interface_name: iface },
    {
      type: 'interface',
      name: iface,
      items: a.functions.map((fn) => ({
        type: 'function',
        name: fn.name,
        inputs: fn.inputs.map((i) => ({ name: i.name, type: CAIRO_PATH[i.type] })),
        outputs: fn.outputs.map((o) => ({ type: CAIRO_PATH[o] })),
        state_mutability: fn.mutability,
      })),
    },
  ];
  const usesCall = a.functions.some((fn) => fn.inputs.some((i) => i.type === 'Array<Call>'));
  const usesSpan = a.functions.some((fn) => fn.inputs.some((i) => i.type === 'Array<Call>') || fn.outputs.includes('Array<Span<felt252>>'));
  if (usesSpan)
    out.push({ type: 'struct', name: 'core::array::Span::<core::felt252>', members: [{ name: 'snapshot', type: '@core::array::Array::<core::felt252>' }] });
  if (usesCall)
    out.push({
      type: 'struct',
      name: 'core::starknet::account::Call',
      members: [
        { name: 'to', type: CAIRO_PATH.ContractAddress },
        { name: 'selector', type: 'core::felt252' },
        { name: 'calldata', type: 'core::array::Span::<core::felt252>' },
      ],
    });
  if (a.ctor) out.push({ type: 'constructor', name: 'constructor', inputs: a.ctor.map((i) => ({ name: i.name, type: CAIRO_PATH[i.type] })) });
  for (const e of a.events) out.push({ type: 'event', name: `${a.module}::${e}`, kind: 'struct', members: [] });
  out.push({ type: 'event', name: `${a.module}::Event`, kind: 'enum', variants: a.events.map((e) => ({ name: e, type: `${a.module}::${e}`, kind: 'nested' })) });
  return out;
}

/**
 * The ABI string served in the class (and hashed into the class hash): JSON with ": " and ", "
 * between tokens outside strings, the form Starknet's class hash takes the ABI in (starknet.js
 * normalises a parsed ABI to the same text before hashing it).
 */
export function abiString(a: ClassAbi): string {
  const compact = JSON.stringify(abiJson(a));
  let out = '';
  let inString = false;
  for (let i = 0; i < compact.length; i++) {
    const c = compact[i]!;
    if (c === '"' && compact[i - 1] !== '\\') inString = !inString;
    out += !inString && c === ':' ? ': ' : !inString && c === ',' ? ', ' : c;
  }
  return out;
}

/** The function with this selector, or undefined. */
export function functionBySelector(a: ClassAbi, selector: bigint): AbiFunction | undefined {
  return a.functions.find((fn) => selectorOf(fn.name) === selector);
}
