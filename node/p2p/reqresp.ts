/**
 * The request/response protocols, server and client, over length-prefixed JSON frames
 * (framing.ts). One request per stream; every exchange has a deadline and ends with stop.
 *
 * - `/perpnode/<chainId>/blocks_by_range/1`: `{from, count}` → `{ok, count}` then `count`
 *   frames of one block each (at most `maxRangeCount`, fewer to stay under `maxResponseBytes`).
 * - `/perpnode/<chainId>/status/1`: `{}` → our head as a signed header and our role.
 * - `/perpnode/<chainId>/rollbacks/1`: `{type: 'certificates'}` → the certificates we know;
 *   `{type: 'orphans', from, count}` → the orphaned headers from `from` down.
 *
 * A client checks every answer's shape (and a status head's signature, orphaned headers'
 * hash linkage) and throws `ProtocolError` / `FrameError` when the peer broke the protocol;
 * what that costs the peer is decided by its caller through `ctx.punish`.
 */
import type { Connection, Stream } from '@libp2p/interface';
import { verify } from '../crypto/index.ts';
import { blockFromJson, blockToJson, headerFromJson, headerToJson, type Block } from '../chain/block.ts';
import { certificateToJson } from '../chain/rollback.ts';
import { blockHash, type BlockHeader } from '../chain/header.ts';
import { hex, type P2PContext } from './context.ts';
import { certificateFromWire, type RollbackCertificate } from './envelope.ts';
import { ProtocolError } from './errors.ts';
import { FrameError, FrameReader, jsonFrame, send, withDeadline } from './framing.ts';
import type { Host } from './host.ts';
import { MAX_CERTIFICATES, MAX_ORPHAN_HEADERS, type Role } from './options.ts';
import type { PeerHead } from './peers.ts';

const enc = new TextEncoder();
/** Largest rollbacks-protocol answer: 64 certificates or 256 headers fit well under it. */
const MAX_ROLLBACKS_ANSWER = 1 << 20;

/** A peer's head as its status answer proves it (hash checked, sequencer-signed or ours). */
export interface StatusAnswer {
  head: PeerHead;
  role?: Role;
  /** The head is a block we hold (its signature was not checked again). */
  known: boolean;
}

export class ReqResp {
  /** Peers that do not speak the status protocol (not perpnode nodes): not asked again. */
  private readonly unsupported = new Set<string>();

  constructor(
    private readonly ctx: P2PContext,
    /** The certificates this node serves (rollbacks.ts `knownCertificates`). */
    private readonly certificates: () => Promise<RollbackCertificate[]>,
  ) {}

  /** Registers the three protocol handlers on the host. */
  async register(node: Host): Promise<void> {
    const { names } = this.ctx;
    await node.handle(names.blocksByRange, (stream, conn) => this.ctx.track(this.serveRange(stream, conn)), { maxInboundStreams: 8, maxOutboundStreams: 8 });
    await node.handle(names.status, (stream, conn) => this.ctx.track(this.serveStatus(stream, conn)), { maxInboundStreams: 4, maxOutboundStreams: 4 });
    await node.handle(names.rollbacks, (stream, conn) => this.ctx.track(this.serveRollbacks(stream, conn)), { maxInboundStreams: 4, maxOutboundStreams: 4 });
  }

  private async openStream(id: string, protocol: string): Promise<Stream> {
    const pid = this.ctx.peerIds.get(id);
    if (!pid) throw new Error(`unknown peer ${id}`);
    const node = this.ctx.node;
    const signal = AbortSignal.any([this.ctx.ac.signal, AbortSignal.timeout(this.ctx.opts.requestTimeoutMs)]);
    const conn = node.getConnections(pid).find((c: Connection) => c.status === 'open');
    if (conn) return conn.newStream(protocol, { signal });
    return node.dialProtocol(pid, protocol, { signal });
  }

  // ---- blocks_by_range ------------------------------------------------------------------------

  /** blocks_by_range client: at most `count` consecutive blocks from `from`, checked for shape. */
  async requestRange(id: string, from: bigint, count: number): Promise<Block[]> {
    const { opts, stats } = this.ctx;
    if (count < 1 || count > opts.maxRangeCount) throw new Error(`range count ${count} out of bounds`);
    stats.rangeRequestsMade++;
    const stream = await this.openStream(id, this.ctx.names.blocksByRange);
    return withDeadline(
      stream,
      opts.requestTimeoutMs,
      `blocks_by_range ${from}+${count} from ${id}`,
      async (signal) => {
        await send(stream, jsonFrame({ from: Number(from), count }), signal);
        await stream.close({ signal });
        const reader = new FrameReader(stream);
        const hdr = (await reader.nextJson(4096)) as any;
        if (!hdr || typeof hdr !== 'object') throw new ProtocolError('BAD_RESPONSE', 'blocks_by_range answer header is not an object');
        if (hdr.ok !== true) throw new Error(`peer refused blocks_by_range: ${String(hdr.error).slice(0, 200)}`);
        if (!Number.isSafeInteger(hdr.count) || hdr.count < 0 || hdr.count > count) throw new ProtocolError('BAD_RESPONSE', `blocks_by_range answer announces ${hdr.count} blocks for a request of ${count}`);
        const out: Block[] = [];
        let total = 0;
        for (let i = 0; i < hdr.count; i++) {
          const f = await reader.next(opts.maxFrameBytes);
          if (f === null) throw new FrameError('closed', `blocks_by_range answer ended after ${i} of ${hdr.count} blocks`);
          total += f.length;
          if (total > opts.maxResponseBytes) throw new FrameError('oversized', `blocks_by_range answer exceeds ${opts.maxResponseBytes} bytes`);
          let b: Block;
          try {
            b = blockFromJson(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(f)));
          } catch (e) {
            throw new ProtocolError('MALFORMED', `blocks_by_range block ${i}: ${(e as Error).message}`);
          }
          if (b.header.block_number !== from + BigInt(i)) throw new ProtocolError('BAD_RANGE', `blocks_by_range answer has block ${b.header.block_number} at position ${i} of a range from ${from}`);
          out.push(b);
        }
        return out;
      },
      this.ctx.ac.signal,
    ).finally(() => {
      if (stream.status === 'open') stream.abort(new Error('done'));
    });
  }

  /** Serves one inbound request: refused to a banned peer, bounded by the request timeout, a failure logged (never thrown). */
  private async serve(stream: Stream, conn: Connection, what: string, body: (signal: AbortSignal) => Promise<void>, accepted?: () => void): Promise<void> {
    const { ctx } = this;
    const peer = conn.remotePeer.toString();
    if (ctx.peers.isBanned(peer)) return stream.abort(new Error('banned'));
    accepted?.();
    await withDeadline(stream, ctx.opts.requestTimeoutMs, `serving ${what} to ${peer}`, body, ctx.ac.signal).catch((e) => {
      if (!ctx.stopping) ctx.log.debug(`serving ${what} to ${peer} failed: ${(e as Error).message}`);
    });
  }

  private async serveRange(stream: Stream, conn: Connection): Promise<void> {
    const { ctx } = this;
    const { opts } = ctx;
    await this.serve(
      stream,
      conn,
      'blocks_by_range',
      async (signal) => {
        const reader = new FrameReader(stream);
        let req: any;
        try {
          req = await reader.nextJson(1024);
        } catch (e) {
          await send(stream, jsonFrame({ ok: false, error: (e as Error).message }), signal);
          return stream.close({ signal });
        }
        const fromOk = req && Number.isSafeInteger(req.from) && req.from >= 0;
        const countOk = req && Number.isSafeInteger(req.count) && req.count >= 1 && req.count <= opts.maxRangeCount;
        if (!fromOk || !countOk) {
          await send(stream, jsonFrame({ ok: false, error: `request must be {from >= 0, count in [1, ${opts.maxRangeCount}]}` }), signal);
          return stream.close({ signal });
        }
        const head = await ctx.chain.head();
        const frames: Uint8Array[] = [];
        let total = 0;
        for (let n = BigInt(req.from); n <= head.number && frames.length < req.count; n++) {
          const b = await ctx.chain.block(n);
          if (!b) break;
          const bytes = enc.encode(JSON.stringify(blockToJson(b)));
          if (bytes.length > opts.maxFrameBytes || total + bytes.length > opts.maxResponseBytes) break;
          total += bytes.length + 4;
          const f = new Uint8Array(4 + bytes.length);
          new DataView(f.buffer).setUint32(0, bytes.length, false);
          f.set(bytes, 4);
          frames.push(f);
        }
        await send(stream, jsonFrame({ ok: true, count: frames.length }), signal);
        for (const f of frames) await send(stream, f, signal);
        await stream.close({ signal });
      },
      () => void ctx.stats.rangeRequestsServed++,
    );
  }

  // ---- status ---------------------------------------------------------------------------------

  private async serveStatus(stream: Stream, conn: Connection): Promise<void> {
    const { ctx } = this;
    await this.serve(
      stream,
      conn,
      'status',
      async (signal) => {
        await new FrameReader(stream).nextJson(1024);
        const head = await ctx.chain.head();
        const sh = await ctx.chain.signedHeader(head.number);
        if (!sh) throw new Error(`no header for our head ${head.number}`);
        await send(stream, jsonFrame({ ok: true, role: ctx.opts.role, header: headerToJson(sh.header), hash: hex(sh.hash), signature: sh.signature.map(hex) }), signal);
        await stream.close({ signal });
      },
    );
  }

  /**
   * status client: the peer's head, proved (its header hashes to the stated hash, and it is a
   * block we hold, our genesis, or signed by the sequencer). Undefined when the peer cannot be
   * asked (stopping, banned, no such protocol, no stream); throws when it broke the protocol.
   */
  async requestStatus(id: string): Promise<StatusAnswer | undefined> {
    const { ctx } = this;
    if (ctx.stopping || ctx.peers.isBanned(id) || this.unsupported.has(id)) return undefined;
    let stream: Stream;
    try {
      stream = await this.openStream(id, ctx.names.status);
    } catch (e) {
      if (/protocol/i.test((e as Error).message) && /(not supported|selection|negotiat)/i.test((e as Error).message)) this.unsupported.add(id);
      ctx.log.debug(`status of ${id}: ${(e as Error).message}`);
      return undefined;
    }
    try {
      const j = (await withDeadline(
        stream,
        ctx.opts.requestTimeoutMs,
        `status from ${id}`,
        async (signal) => {
          await send(stream, jsonFrame({}), signal);
          await stream.close({ signal });
          return new FrameReader(stream).nextJson(64 << 10);
        },
        ctx.ac.signal,
      )) as any;
      let header: BlockHeader, hash: bigint, sig: [bigint, bigint];
      try {
        header = headerFromJson(j.header);
        hash = BigInt(j.hash);
        sig = [BigInt(j.signature[0]), BigInt(j.signature[1])];
      } catch (e) {
        throw new ProtocolError('BAD_STATUS', `status answer is malformed: ${(e as Error).message}`);
      }
      if (blockHash(header) !== hash) throw new ProtocolError('BAD_STATUS', `status header does not hash to ${hex(hash)}`);
      // A head we hold needs no signature check (a STARK verify costs milliseconds).
      const known = header.block_number <= ctx.head.number && (await ctx.chain.signedHeader(header.block_number))?.hash === hash;
      const signed = known || (header.block_number === 0n ? hash === ctx.genesisHash : verify(hash, ctx.chain.sequencerKey, sig));
      if (!signed) throw new ProtocolError('BAD_STATUS', `status head ${header.block_number} ${hex(hash)} is not signed by this chain's sequencer`);
      return { head: { number: header.block_number, hash }, known, ...(j.role === 'sequencer' || j.role === 'follower' ? { role: j.role as Role } : {}) };
    } finally {
      if (stream.status === 'open') stream.abort(new Error('done'));
    }
  }

  // ---- rollbacks ------------------------------------------------------------------------------

  /** One request/response exchange on the rollbacks protocol. */
  private async rollbacksExchange(id: string, request: unknown, what: string): Promise<any> {
    const { ctx } = this;
    const stream = await this.openStream(id, ctx.names.rollbacks);
    try {
      const j = (await withDeadline(
        stream,
        ctx.opts.requestTimeoutMs,
        `${what} from ${id}`,
        async (signal) => {
          await send(stream, jsonFrame(request), signal);
          await stream.close({ signal });
          return new FrameReader(stream).nextJson(MAX_ROLLBACKS_ANSWER);
        },
        ctx.ac.signal,
      )) as any;
      if (!j || typeof j !== 'object') throw new ProtocolError('BAD_RESPONSE', `${what} answer is not an object`);
      if (j.ok !== true) throw new Error(`peer refused ${what}: ${String(j.error).slice(0, 200)}`);
      return j;
    } finally {
      if (stream.status === 'open') stream.abort(new Error('done'));
    }
  }

  /** rollbacks client: the certificates a peer holds (shape checked; signatures are not). */
  async requestCertificates(id: string): Promise<RollbackCertificate[]> {
    const j = await this.rollbacksExchange(id, { type: 'certificates' }, 'rollback certificates');
    if (!Array.isArray(j.certificates) || j.certificates.length > MAX_CERTIFICATES) throw new ProtocolError('BAD_RESPONSE', `rollback certificates answer must hold at most ${MAX_CERTIFICATES} certificates`);
    try {
      return j.certificates.map((c: unknown, i: number) => certificateFromWire(c, `certificates[${i}]`));
    } catch (e) {
      throw new ProtocolError('MALFORMED', (e as Error).message);
    }
  }

  /**
   * rollbacks client: up to `count` orphaned headers from block `from` down, each checked to
   * hash to its stated hash and to be the parent of the one before (so they are exactly the
   * ancestors of `from`).
   */
  async requestOrphans(id: string, from: bigint, count: number): Promise<{ header: BlockHeader; hash: bigint }[]> {
    if (count < 1 || count > MAX_ORPHAN_HEADERS) throw new Error(`orphan header count ${count} out of bounds`);
    const j = await this.rollbacksExchange(id, { type: 'orphans', from: hex(from), count }, 'orphaned headers');
    if (!Array.isArray(j.headers) || j.headers.length > count) throw new ProtocolError('BAD_RESPONSE', `orphaned headers answer must hold at most ${count} headers`);
    const out: { header: BlockHeader; hash: bigint }[] = [];
    for (const [i, x] of (j.headers as any[]).entries()) {
      let header: BlockHeader, hash: bigint;
      try {
        header = headerFromJson(x.header);
        hash = BigInt(x.hash);
      } catch (e) {
        throw new ProtocolError('MALFORMED', `orphaned header ${i}: ${(e as Error).message}`);
      }
      if (blockHash(header) !== hash) throw new ProtocolError('BAD_RESPONSE', `orphaned header ${i} does not hash to ${hex(hash)}`);
      const prev = out[i - 1];
      if (i === 0 ? hash !== from : hash !== prev!.header.parent_hash || header.block_number + 1n !== prev!.header.block_number)
        throw new ProtocolError('BAD_RESPONSE', `orphaned header ${i} (${hex(hash)}) is not the parent of the one before it`);
      out.push({ header, hash });
    }
    return out;
  }

  private async serveRollbacks(stream: Stream, conn: Connection): Promise<void> {
    const { ctx } = this;
    await this.serve(
      stream,
      conn,
      'rollbacks',
      async (signal) => {
        let req: any;
        try {
          req = await new FrameReader(stream).nextJson(1024);
        } catch (e) {
          req = undefined;
        }
        let answer: unknown;
        if (req?.type === 'certificates') {
          answer = { ok: true, certificates: (await this.certificates()).map(certificateToJson) };
        } else if (req?.type === 'orphans' && typeof req.from === 'string' && /^0x[0-9a-fA-F]{1,64}$/.test(req.from) && Number.isSafeInteger(req.count) && req.count >= 1 && req.count <= MAX_ORPHAN_HEADERS) {
          const headers: unknown[] = [];
          let hash = BigInt(req.from);
          while (headers.length < req.count) {
            const h = await ctx.chain.orphanHeader?.(hash);
            if (!h) break;
            headers.push({ header: headerToJson(h), hash: hex(hash) });
            hash = h.parent_hash;
          }
          answer = { ok: true, headers };
        } else answer = { ok: false, error: `request must be {"type":"certificates"} or {"type":"orphans","from":"0x…","count":1..${MAX_ORPHAN_HEADERS}}` };
        await send(stream, jsonFrame(answer), signal);
        await stream.close({ signal });
      },
    );
  }
}
