/**
 * Carried message hashes: the SNIP-12 hash of a signed order or cancel, computed where its
 * signature was verified (the node's verify pool, on a worker thread) and handed to execution
 * through `ExecContext.messageHashes`, so the contract's signature check does not hash the same
 * message again on the main thread.
 *
 * The contracts never trust a carried hash beyond this rule, and the rule lives here only:
 *
 *   a hash recorded for a message object is answered for that same object (identity: a WeakMap
 *   keyed by the Order / the CancelTx), under the same chain id, and only while every signed
 *   field of the object (TYPES[kind] of typed-data.ts, the fields the hash covers) is still
 *   equal (===) to the copy taken *before* the hash was computed from that copy.
 *
 * Anything else (another object with the same claimed hash, a field changed after the check, a
 * copy of the object, another chain, nothing recorded, no cache at all as on a follower) is a
 * miss, and the contract computes the hash itself with the same hasher as before. An answer is
 * therefore always orderHash(o, chainId) / cancelHash(m, chainId) of the object asked about:
 * the cache can change how much the main thread hashes, never what a transaction does, and a
 * block is identical with or without it (test/unit/message-hashes.test.ts).
 *
 * What the recorder must guarantee (node/sequencer/verify-pool.ts and sigcache.ts do): the
 * hash passed to `record` was computed from `content`, the frozen copy `messageContent` made.
 */
import type { ExecContext, MessageHashes, MessageKind } from './state.ts';
import type { Order } from './exchange/order.ts';
import { cancelHash, orderHash, TYPES, type CancelMsg } from './typed-data.ts';

export type { MessageHashes, MessageKind } from './state.ts';

/** The message of each kind (a CancelTx is a CancelMsg). */
export type MessageOf<K extends MessageKind> = K extends 'Order' ? Order : CancelMsg;

/** The signed fields of a message, copied and frozen: what a carried hash is computed from. */
export function messageContent<K extends MessageKind>(kind: K, msg: MessageOf<K>): Readonly<MessageOf<K>> {
  const src = msg as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of TYPES[kind]) out[f.name] = src[f.name];
  return Object.freeze(out) as unknown as Readonly<MessageOf<K>>;
}

function sameContent(kind: MessageKind, a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  for (const f of TYPES[kind]) if (a[f.name] !== b[f.name]) return false;
  return true;
}

interface Entry {
  kind: MessageKind;
  chainId: bigint;
  content: Readonly<Record<string, unknown>>;
  hash: bigint;
}

export interface MessageHashCacheStats {
  recorded: number;
  /** Lookups answered. */
  hits: number;
  /** Lookups of an object with nothing recorded (the contract hashed). */
  misses: number;
  /** Lookups of an object whose entry no longer matches it (changed fields, other chain or kind): refused. */
  refused: number;
}

/** The node's MessageHashes: entries live as long as the message objects they belong to. */
export class MessageHashCache implements MessageHashes {
  private entries = new WeakMap<object, Entry>();
  readonly stats: MessageHashCacheStats = { recorded: 0, hits: 0, misses: 0, refused: 0 };

  /**
   * Records `hash` for `msg`: it must have been computed from `content` (messageContent(kind, msg)
   * taken before hashing). Refused (nothing recorded) when `content` no longer equals `msg`.
   */
  record<K extends MessageKind>(kind: K, msg: MessageOf<K>, content: Readonly<MessageOf<K>>, chainId: bigint, hash: bigint): boolean {
    const c = content as unknown as Readonly<Record<string, unknown>>;
    if (!Object.isFrozen(c) || !sameContent(kind, c, msg as unknown as Record<string, unknown>)) return false;
    this.entries.set(msg, { kind, chainId, content: c, hash });
    this.stats.recorded++;
    return true;
  }

  lookup(kind: MessageKind, msg: object, chainId: bigint): bigint | undefined {
    const e = this.entries.get(msg);
    if (!e) {
      this.stats.misses++;
      return undefined;
    }
    if (e.kind !== kind || e.chainId !== chainId || !sameContent(kind, e.content, msg as Record<string, unknown>)) {
      this.stats.refused++;
      return undefined;
    }
    this.stats.hits++;
    return e.hash;
  }

  /** The recorded hash, without counting (for callers deciding whether to hash at all). */
  peek(kind: MessageKind, msg: object, chainId: bigint): bigint | undefined {
    const e = this.entries.get(msg);
    return e && e.kind === kind && e.chainId === chainId && sameContent(kind, e.content, msg as Record<string, unknown>) ? e.hash : undefined;
  }

  clear(): void {
    this.entries = new WeakMap();
  }
}

/** The order's message hash: carried when ctx has it for exactly this order, else computed. */
export function orderMessageHash(ctx: ExecContext, o: Order): bigint {
  return ctx.messageHashes?.lookup('Order', o, ctx.block.chainId) ?? orderHash(o, ctx.block.chainId);
}

/** The cancel's message hash: carried when ctx has it for exactly this cancel, else computed. */
export function cancelMessageHash(ctx: ExecContext, m: CancelMsg): bigint {
  return ctx.messageHashes?.lookup('Cancel', m, ctx.block.chainId) ?? cancelHash(m, ctx.block.chainId);
}
