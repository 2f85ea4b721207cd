/**
 * The gossip envelope: every message on `/perpnode/<chainId>/blocks/1` is one UTF-8 JSON object
 * `{ v: 1, type, ... }`, at most `maxGossipBytes` long. Decoding is strict (unknown type, bad
 * felt, inconsistent fields -> EnvelopeError) and checks the size before parsing anything.
 *
 * - `block`: a sealed block's number, hash and sequencer signature, with the block itself
 *   (`block`) unless it is too big for gossip: then the message is an announcement and the
 *   block travels over blocks_by_range.
 * - `rollback`: a rollback certificate as chain/rollback.ts signs it (`certificateToJson`).
 *   Followers check its signature and chain id, then follow it (rollbacks.ts).
 * - `mode`: a maintenance-mode change, a hint naming the block that records it on-chain (the
 *   block itself is what followers trust).
 */
import { isFelt } from '../crypto/index.ts';
import { blockFromJson, blockToJson, type Block } from '../chain/block.ts';
import { certificateToJson, type RollbackCertificate } from '../chain/rollback.ts';

export type { RollbackCertificate };

export const ENVELOPE_VERSION = 1;

export interface BlockEnvelope {
  type: 'block';
  number: bigint;
  hash: bigint;
  signature: [bigint, bigint];
  /** Absent in an announcement (block larger than the gossip limit). */
  block?: Block;
}

export interface RollbackEnvelope {
  type: 'rollback';
  certificate: RollbackCertificate;
}

export interface ModeEnvelope {
  type: 'mode';
  mode: string;
  /** The block whose SET_MODE transaction made the change. */
  number: bigint;
  hash: bigint;
}

export type Envelope = BlockEnvelope | RollbackEnvelope | ModeEnvelope;

export type EnvelopeErrorCode = 'oversized' | 'malformed';

export class EnvelopeError extends Error {
  constructor(
    readonly code: EnvelopeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

const hex = (x: bigint) => '0x' + x.toString(16);
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

function envelopeJson(e: Envelope): Record<string, unknown> {
  switch (e.type) {
    case 'block':
      return { v: ENVELOPE_VERSION, type: 'block', number: Number(e.number), hash: hex(e.hash), signature: e.signature.map(hex), ...(e.block ? { block: blockToJson(e.block) } : {}) };
    case 'rollback':
      return { v: ENVELOPE_VERSION, type: 'rollback', certificate: certificateToJson(e.certificate) };
    case 'mode':
      return { v: ENVELOPE_VERSION, type: 'mode', mode: e.mode, number: Number(e.number), hash: hex(e.hash) };
  }
}

export function encodeEnvelope(e: Envelope): Uint8Array {
  return enc.encode(JSON.stringify(envelopeJson(e)));
}

/** The gossip message for a block: the full block if it fits in `maxBytes`, else an announcement. */
export function blockMessage(b: Block, maxBytes: number): { bytes: Uint8Array; announced: boolean } {
  const full = encodeEnvelope({ type: 'block', number: b.header.block_number, hash: b.hash, signature: b.signature, block: b });
  if (full.length <= maxBytes) return { bytes: full, announced: false };
  return { bytes: encodeEnvelope({ type: 'block', number: b.header.block_number, hash: b.hash, signature: b.signature }), announced: true };
}

function bad(why: string): never {
  throw new EnvelopeError('malformed', why);
}

function felt(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(v)) bad(`${what} must be a 0x-hex felt`);
  const x = BigInt(v);
  if (!isFelt(x)) bad(`${what} is not a field element`);
  return x;
}

function uint(v: unknown, what: string): bigint {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${what} must be a non-negative integer`);
  return BigInt(v);
}

function sigPair(v: unknown, what: string): [bigint, bigint] {
  if (!Array.isArray(v) || v.length !== 2) bad(`${what} must be [r, s]`);
  return [felt(v[0], `${what}[0]`), felt(v[1], `${what}[1]`)];
}

function str(v: unknown, what: string, max: number): string {
  if (typeof v !== 'string' || v.length > max) bad(`${what} must be a string of at most ${max} characters`);
  return v;
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(`${what} must be an object`);
  return v as Record<string, unknown>;
}

/**
 * A rollback certificate as `certificateToJson` writes it, parsed strictly (gossip and the
 * rollbacks protocol); throws EnvelopeError('malformed'). The signature is not checked here.
 */
export function certificateFromWire(v: unknown, what = 'certificate'): RollbackCertificate {
  const c = object(v, what);
  const certificate: RollbackCertificate = {
    chain_id: felt(c.chain_id, `${what}.chain_id`),
    target_height: uint(c.target_height, `${what}.target_height`),
    target_hash: felt(c.target_hash, `${what}.target_hash`),
    orphaned_head_height: uint(c.orphaned_head_height, `${what}.orphaned_head_height`),
    orphaned_head_hash: felt(c.orphaned_head_hash, `${what}.orphaned_head_hash`),
    reason: str(c.reason, `${what}.reason`, 256),
    incident_id: felt(c.incident_id, `${what}.incident_id`),
    signature: sigPair(c.signature, `${what}.signature`),
  };
  if (certificate.target_height >= certificate.orphaned_head_height) bad(`${what}: target ${certificate.target_height} is not below the orphaned head ${certificate.orphaned_head_height}`);
  return certificate;
}

/** Parses one gossip message; throws EnvelopeError ('oversized' before any parsing). */
export function decodeEnvelope(data: Uint8Array, maxBytes: number): Envelope {
  if (data.length > maxBytes) throw new EnvelopeError('oversized', `gossip message of ${data.length} bytes exceeds the ${maxBytes}-byte limit`);
  let j: Record<string, unknown>;
  try {
    j = object(JSON.parse(dec.decode(data)), 'envelope');
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    bad(`not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (j.v !== ENVELOPE_VERSION) bad(`unsupported envelope version ${String(j.v)}`);
  switch (j.type) {
    case 'block': {
      const number = uint(j.number, 'number');
      const hash = felt(j.hash, 'hash');
      const signature = sigPair(j.signature, 'signature');
      if (j.block === undefined) return { type: 'block', number, hash, signature };
      let block: Block;
      try {
        block = blockFromJson(j.block);
      } catch (e) {
        bad(`block: ${(e as Error).message}`);
      }
      if (block.header.block_number !== number || block.hash !== hash || block.signature[0] !== signature[0] || block.signature[1] !== signature[1])
        bad('block number, hash or signature differ from the envelope');
      return { type: 'block', number, hash, signature, block };
    }
    case 'rollback':
      return { type: 'rollback', certificate: certificateFromWire(j.certificate) };
    case 'mode':
      return { type: 'mode', mode: str(j.mode, 'mode', 32), number: uint(j.number, 'number'), hash: felt(j.hash, 'hash') };
    default:
      bad(`unknown envelope type ${JSON.stringify(j.type)?.slice(0, 40)}`);
  }
}
