/**
 * Conditional orders waiting for the mark price, per market, in two arrays sorted by
 * (triggerPrice, seq):
 * - `up`: fire when mark >= trigger (STOP BUY, TAKE_PROFIT SELL) — the due ones are a prefix;
 * - `down`: fire when mark <= trigger (STOP SELL, TAKE_PROFIT BUY) — the due ones are a suffix.
 */
export interface TrigEntry {
  trigger: bigint;
  seq: bigint;
  hash: bigint;
}

export type TrigDir = 'up' | 'down';

function before(a: TrigEntry, b: TrigEntry): boolean {
  return a.trigger < b.trigger || (a.trigger === b.trigger && a.seq < b.seq);
}

/** First index whose entry is not before e. */
function lowerBound(arr: TrigEntry[], e: TrigEntry): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(arr[mid]!, e)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class TriggerIndex {
  private readonly up: TrigEntry[] = [];
  private readonly down: TrigEntry[] = [];

  get size(): number {
    return this.up.length + this.down.length;
  }

  add(e: TrigEntry, dir: TrigDir): void {
    const arr = dir === 'up' ? this.up : this.down;
    arr.splice(lowerBound(arr, e), 0, e);
  }

  remove(e: TrigEntry, dir: TrigDir): void {
    const arr = dir === 'up' ? this.up : this.down;
    const i = lowerBound(arr, e);
    if (arr[i] !== e) throw new Error('orderbook: trigger index out of sync');
    arr.splice(i, 1);
  }

  /** Removes and returns every entry due at this mark price, ordered by seq. */
  takeDue(mark: bigint): TrigEntry[] {
    let n = 0;
    while (n < this.up.length && this.up[n]!.trigger <= mark) n++;
    const due = this.up.splice(0, n);
    let m = this.down.length;
    while (m > 0 && this.down[m - 1]!.trigger >= mark) m--;
    due.push(...this.down.splice(m));
    due.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
    return due;
  }
}
