/**
 * A throwaway in-memory copy of the world state at some height, for audits: copy the head,
 * then apply the reverse diffs of canonical blocks down to the height wanted. Nothing is
 * written anywhere.
 */
import { MemoryState, type StateAccess } from '../../contracts-ts/state.ts';
import type { ChainStore } from '../chain/store.ts';
import type { ReverseDiff, WorldState } from '../state/index.ts';

export class ScratchState extends MemoryState {
  static async fromWorld(w: WorldState): Promise<ScratchState> {
    const s = new ScratchState();
    for await (const [a, k, v] of w.storageEntries()) s.setStorage(a, k, v);
    for await (const [a, r] of w.contractEntries()) {
      s.setNonce(a, r.nonce);
      s.deploy(a, r.classHash);
    }
    return s;
  }

  /** A copy of the canonical state at `height` (<= head). */
  static async at(w: WorldState, chain: ChainStore, height: bigint): Promise<ScratchState> {
    const s = await ScratchState.fromWorld(w);
    const head = await chain.head();
    for (let n = head!.number; n > height; n--) {
      const rev = await chain.reverseDiff(n);
      if (!rev) throw new Error(`reverse diff of block ${n} is missing`);
      s.unwind(rev);
    }
    return s;
  }

  clone(): ScratchState {
    const s = new ScratchState();
    for (const [k, v] of this.storage) s.storage.set(k, v);
    for (const [k, v] of this.nonces) s.nonces.set(k, v);
    for (const [k, v] of this.classes) s.classes.set(k, v);
    return s;
  }

  unwind(rev: ReverseDiff): void {
    for (const x of rev.storage) this.setStorage(x.address, x.key, x.prev);
    for (const c of rev.contracts) {
      if (c.prev) {
        this.setNonce(c.address, c.prev.nonce);
        this.deploy(c.address, c.prev.classHash);
      } else {
        this.nonces.delete(c.address);
        this.classes.delete(c.address);
      }
    }
  }
}

/** Runs `fn` as one transaction over a scratch state: on a throw every write is undone. */
export function atomically<T>(s: ScratchState, fn: (st: StateAccess) => T): { ok: true; value: T } | { ok: false; error: Error } {
  const undo: (() => void)[] = [];
  const j: StateAccess = {
    getStorage: (a, k) => s.getStorage(a, k),
    setStorage: (a, k, v) => {
      const prev = s.getStorage(a, k);
      undo.push(() => s.setStorage(a, k, prev));
      s.setStorage(a, k, v);
    },
    getNonce: (a) => s.getNonce(a),
    setNonce: (a, n) => {
      const prev = s.getNonce(a);
      undo.push(() => s.setNonce(a, prev));
      s.setNonce(a, n);
    },
    getClassHash: (a) => s.getClassHash(a),
    deploy: (a, c) => {
      const prev = s.getClassHash(a);
      undo.push(() => s.deploy(a, prev));
      s.deploy(a, c);
    },
  };
  try {
    return { ok: true, value: fn(j) };
  } catch (e) {
    for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
    return { ok: false, error: e as Error };
  }
}
