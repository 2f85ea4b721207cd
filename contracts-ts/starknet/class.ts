/**
 * Each TypeScript contract as a Starknet Sierra contract class (spec CONTRACT_CLASS), and its
 * class hash: Starknet's Sierra class hash of exactly that object,
 *
 *   poseidon("CONTRACT_CLASS_V0.1.0", h(EXTERNAL), h(L1_HANDLER), h(CONSTRUCTOR),
 *            sn_keccak(abi), poseidon(sierra_program))
 *   h(entry points) = poseidon(selector_0, function_idx_0, selector_1, function_idx_1, ...)
 *
 * (starknet.js `hash.computeSierraContractClassHash` gives the same value.)
 *
 * `sierra_program` is NOT executable Sierra: the code is the TypeScript in contracts-ts/, and
 * the program only commits to which version of it runs. It holds exactly three felts:
 *   [ short string "PERPNODE_TS_NOT_SIERRA",   (says what this is)
 *     short string of the versioned name, e.g. "perpnode.Exchange.v3",
 *     the version number ]
 * Entry points are the ABI's functions sorted by selector (as Starknet requires), function_idx
 * their position in the ABI's function list; the constructor (Account only) has the index after
 * the last function. There is no CASM: starknet_getCompiledCasm answers COMPILATION_ERROR.
 */
import { encodeShortString, poseidonHashMany } from '../crypto.ts';
import { starknetKeccak } from '../crypto.ts';
import { abiString, selectorOf, type ClassAbi } from './abi.ts';

export interface SierraEntryPoint {
  selector: bigint;
  function_idx: number;
}

export interface SierraClass {
  sierra_program: bigint[];
  contract_class_version: '0.1.0';
  entry_points_by_type: { CONSTRUCTOR: SierraEntryPoint[]; EXTERNAL: SierraEntryPoint[]; L1_HANDLER: SierraEntryPoint[] };
  abi: string;
}

export const NOT_SIERRA_MARKER = 'PERPNODE_TS_NOT_SIERRA';

export function sierraClass(versionedName: string, version: number, abi: ClassAbi): SierraClass {
  const external = abi.functions.map((fn, i) => ({ selector: selectorOf(fn.name), function_idx: i })).sort((a, b) => (a.selector < b.selector ? -1 : 1));
  const constructor = abi.ctor ? [{ selector: selectorOf('constructor'), function_idx: abi.functions.length }] : [];
  return {
    sierra_program: [encodeShortString(NOT_SIERRA_MARKER), encodeShortString(versionedName), BigInt(version)],
    contract_class_version: '0.1.0',
    entry_points_by_type: { CONSTRUCTOR: constructor, EXTERNAL: external, L1_HANDLER: [] },
    abi: abiString(abi),
  };
}

const CLASS_VERSION = encodeShortString('CONTRACT_CLASS_V0.1.0');

function entryPointsHash(eps: readonly SierraEntryPoint[]): bigint {
  return poseidonHashMany(eps.flatMap((e) => [e.selector, BigInt(e.function_idx)]));
}

/** Starknet's Sierra class hash. */
export function sierraClassHash(c: SierraClass): bigint {
  return poseidonHashMany([
    CLASS_VERSION,
    entryPointsHash(c.entry_points_by_type.EXTERNAL),
    entryPointsHash(c.entry_points_by_type.L1_HANDLER),
    entryPointsHash(c.entry_points_by_type.CONSTRUCTOR),
    starknetKeccak(c.abi),
    poseidonHashMany(c.sierra_program),
  ]);
}

/** The class as the RPC serves it (felts as 0x-hex). */
export function sierraClassJson(c: SierraClass) {
  const h = (x: bigint) => '0x' + x.toString(16);
  const eps = (l: SierraEntryPoint[]) => l.map((e) => ({ selector: h(e.selector), function_idx: e.function_idx }));
  return {
    sierra_program: c.sierra_program.map(h),
    contract_class_version: c.contract_class_version,
    entry_points_by_type: { CONSTRUCTOR: eps(c.entry_points_by_type.CONSTRUCTOR), EXTERNAL: eps(c.entry_points_by_type.EXTERNAL), L1_HANDLER: eps(c.entry_points_by_type.L1_HANDLER) },
    abi: c.abi,
  };
}
