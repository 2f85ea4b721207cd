/**
 * Length-prefixed frames on a libp2p stream: a 4-byte big-endian length, then that many bytes
 * (UTF-8 JSON in every perpnode protocol). A reader refuses a frame longer than its limit before
 * buffering it, so a peer cannot make us hold more than one bounded frame.
 */
import type { Stream } from '@libp2p/interface';

export type FrameErrorCode = 'oversized' | 'malformed' | 'timeout' | 'closed';

export class FrameError extends Error {
  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length, false);
  out.set(payload, 4);
  return out;
}

export function jsonFrame(value: unknown): Uint8Array {
  return frame(enc.encode(JSON.stringify(value)));
}

type Chunk = Uint8Array | { subarray(): Uint8Array };

/** Pulls frames out of a byte stream (any async iterable of chunks). */
export class FrameReader {
  private readonly it: AsyncIterator<Chunk>;
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;

  constructor(source: AsyncIterable<Chunk>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        return false;
      }
      const c = r.value instanceof Uint8Array ? r.value : r.value.subarray();
      if (c.length) {
        this.chunks.push(c);
        this.buffered += c.length;
      }
    }
    return true;
  }

  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }

  /** The next frame, or null when the stream ended cleanly between frames. */
  async next(maxBytes: number): Promise<Uint8Array | null> {
    if (!(await this.fill(4))) {
      if (this.buffered === 0) return null;
      throw new FrameError('malformed', 'stream ended inside a frame header');
    }
    const head = this.take(4);
    const len = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, false);
    if (len > maxBytes) throw new FrameError('oversized', `frame of ${len} bytes exceeds the ${maxBytes}-byte limit`);
    if (!(await this.fill(len))) throw new FrameError('malformed', `stream ended inside a ${len}-byte frame`);
    return this.take(len);
  }

  async nextJson(maxBytes: number): Promise<unknown> {
    const f = await this.next(maxBytes);
    if (f === null) throw new FrameError('closed', 'stream ended before the expected frame');
    try {
      return JSON.parse(dec.decode(f));
    } catch (e) {
      throw new FrameError('malformed', `frame is not UTF-8 JSON: ${(e as Error).message}`);
    }
  }
}

/** Writes bytes, waiting for the stream to drain when its buffer is full. */
export async function send(stream: Pick<Stream, 'send' | 'onDrain'>, data: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (!stream.send(data)) await stream.onDrain({ signal });
}

/**
 * Runs `fn` with a deadline: on timeout the stream is aborted (which unblocks any read) and a
 * FrameError('timeout') is thrown. Errors from an aborted stream become that timeout error.
 */
export async function withDeadline<T>(stream: Pick<Stream, 'abort'>, ms: number, what: string, fn: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const ac = new AbortController();
  let timedOut = false;
  const onAbort = () => {
    ac.abort();
    stream.abort(new FrameError('closed', `${what}: aborted`));
  };
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
    stream.abort(new FrameError('timeout', `${what}: no complete answer within ${ms} ms`));
  }, ms);
  outer?.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn(ac.signal);
  } catch (e) {
    if (timedOut) throw new FrameError('timeout', `${what}: no complete answer within ${ms} ms`);
    if (outer?.aborted) throw new FrameError('closed', `${what}: aborted`);
    throw e;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  }
}
