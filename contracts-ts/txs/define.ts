/**
 * What a transaction type is, in one object (a TxDescriptor): its fields (a schema from which
 * its strict JSON parser, its JSON form and its calldata are derived), its hash, who signed it
 * and over which message (for the verify pool and replay protection), the maintenance modes
 * that refuse it, and its execution. contracts-ts/txs/index.ts lists one per type; tx.ts,
 * execute.ts and the node's verify pool go through that registry instead of switching on the type.
 */
import type { ContractEvent, ExecContext, StateAccess } from '../state.ts';
import type { ExchangeConfig } from '../config.ts';
import type { Mode } from '../exchange/modes.ts';
import type { SignedOrder } from '../exchange/order.ts';
import { encodeShortString, poseidonHashMany } from '../crypto.ts';
import { exactKeys, type Obj, type Schema, type Sig } from './codec.ts';

/** Runs a nested transaction (an INVOKE's calls), mode gate included. */
export type Executor = (tx: { type: string }, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig) => { events: ContractEvent[] };

/** Who holds the key a transaction's own signature verifies against. */
export type SignerRef = { account: bigint } | { key: bigint } | { operator: true };

/**
 * The transaction's own signed message (one per transaction type at most): the key that signs
 * it and how its message hash is computed. `voidable`: a rollback voids it (exchange/replay.ts).
 */
export interface OwnSignature<T> {
  signer(tx: T): SignerRef;
  sig(tx: T): Sig;
  message(tx: T, chainId: bigint, operatorKey: bigint): bigint;
  voidable: boolean;
}

export interface TxDescriptor<T extends { type: string } = { type: string }> {
  readonly type: T['type'];
  /** Sent by the sequencer, covered by the block signature (no wallet signature). */
  readonly system: boolean;
  /** The modes in which the type reverts MODE_<mode> before it runs (NORMAL refuses nothing). */
  readonly refusedIn: readonly Exclude<Mode, 'NORMAL'>[];
  /** `PERP_<TYPE>` as a short string: the first calldata felt. */
  readonly prefix: bigint;
  /** Strict parse of the JSON form (the "type" key already read). Throws TxParseError. */
  parse(o: Obj): T;
  toJson(tx: T): Record<string, unknown>;
  /** [prefix, ...fields] (no signatures); Starknet v3 types: their own calldata. */
  calldata(tx: T): bigint[];
  hash(tx: T, chainId: bigint): bigint;
  /** Who sent it, as an address (system types: the sequencer address). */
  sender(tx: T, sequencerAddress: bigint): bigint;
  /** Its signature felts ([] for system transactions). */
  signature(tx: T): bigint[];
  /** The account nonce it uses, if any. */
  nonce(tx: T): bigint | undefined;
  /** A rollback raises the sender's nonce past the one this type used (WITHDRAW, TRANSFER, CANCEL_ALL). */
  readonly voidsNonce: boolean;
  /** Its own signature, if it carries one over a message of its own. */
  readonly own?: OwnSignature<T>;
  /** The signed orders it carries (each signed by its account over its own hash), in maker, taker order. */
  orders(tx: T): SignedOrder[];
  /** For a TRADE: which party each order of `orders` is (for ORPHANED_MESSAGE reverts). */
  readonly orderParties?: readonly ('maker' | 'taker')[];
  execute(tx: T, st: StateAccess, ctx: ExecContext, cfg: ExchangeConfig, exec: Executor): ContractEvent[];
}

type Fields<T> = Omit<T, 'type'>;

/** What a type file gives; everything else has the default of a perp transaction. */
export interface TxSpec<T extends { type: string }> extends Partial<Omit<TxDescriptor<T>, 'type' | 'prefix' | 'execute'>> {
  /** The fields in JSON and calldata order. */
  fields?: Schema<Fields<T>>;
  execute: TxDescriptor<T>['execute'];
}

const NO_ORDERS = (): SignedOrder[] => [];

/**
 * A descriptor from a schema: parse = exact keys then each field in order, toJson = type then
 * each field, calldata = [prefix, ...each field's felts], hash = poseidon_many([...calldata, chainId]).
 */
export function defineTx<T extends { type: string }>(type: T['type'], spec: TxSpec<T>): TxDescriptor<T> {
  const fields = spec.fields as Record<string, { parse(v: unknown, w: string): unknown; json(v: unknown): unknown; felts(v: unknown, out: bigint[]): void }> | undefined;
  const keys = fields ? Object.keys(fields) : [];
  const allKeys = ['type', ...keys];
  const prefix = encodeShortString(`PERP_${type}`);
  const calldata =
    spec.calldata ??
    ((tx: T): bigint[] => {
      const out: bigint[] = [prefix];
      const t = tx as unknown as Obj;
      for (const k of keys) fields![k]!.felts(t[k], out);
      return out;
    });
  const own = spec.own;
  return {
    type,
    system: spec.system ?? false,
    refusedIn: spec.refusedIn ?? ['HALTED'],
    prefix,
    parse:
      spec.parse ??
      ((o: Obj): T => {
        exactKeys(o, allKeys, type);
        const out: Obj = { type };
        for (const k of keys) out[k] = fields![k]!.parse(o[k], k);
        return out as T;
      }),
    toJson:
      spec.toJson ??
      ((tx: T) => {
        const out: Obj = { type };
        const t = tx as unknown as Obj;
        for (const k of keys) out[k] = fields![k]!.json(t[k]);
        return out;
      }),
    calldata,
    hash:
      spec.hash ??
      ((tx: T, chainId: bigint) => {
        const cd = calldata(tx);
        cd.push(chainId);
        return poseidonHashMany(cd);
      }),
    sender: spec.sender ?? ((_tx, seq) => seq),
    signature: spec.signature ?? (own ? (tx: T) => [...own.sig(tx)] : () => []),
    nonce: spec.nonce ?? (() => undefined),
    voidsNonce: spec.voidsNonce ?? false,
    own,
    orders: spec.orders ?? NO_ORDERS,
    orderParties: spec.orderParties,
    execute: spec.execute,
  };
}
