/**
 * One side of one market's book: price levels in a sorted array (best level LAST, so taking the
 * best level and removing an emptied best level are O(1)), each level a FIFO queue as an
 * intrusive doubly linked list (O(1) cancel anywhere in the queue), and a price -> level map.
 * Inserting a new price level is a binary search plus an array splice.
 */
import type { OrderRecord } from './types.ts';

export interface QNode {
  rec: OrderRecord;
  prev: QNode | null;
  next: QNode | null;
  level: Level;
}

export class Level {
  head: QNode | null = null;
  tail: QNode | null = null;
  /** Sum of `remaining` of the orders queued here. */
  total = 0n;
  count = 0;
  constructor(readonly price: bigint) {}

  push(rec: OrderRecord): QNode {
    const node: QNode = { rec, prev: this.tail, next: null, level: this };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.total += rec.remaining;
    this.count++;
    return node;
  }

  unlink(node: QNode): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = null;
    this.total -= node.rec.remaining;
    this.count--;
  }
}

export class BookSide {
  /** Sorted so the best level is last: bids by ascending price, asks by descending price. */
  private readonly levels: Level[] = [];
  private readonly byPrice = new Map<bigint, Level>();

  constructor(readonly isBid: boolean) {}

  /** true when price a ranks below price b on this side (worse for a taker). */
  private worse(a: bigint, b: bigint): boolean {
    return this.isBid ? a < b : a > b;
  }

  /** Index where a level at `price` is or would be inserted (first index not worse than price). */
  private indexOf(price: bigint): number {
    let lo = 0;
    let hi = this.levels.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.worse(this.levels[mid]!.price, price)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  best(): Level | undefined {
    return this.levels[this.levels.length - 1];
  }

  get levelCount(): number {
    return this.levels.length;
  }

  /** Level i counted from the best (0 = best). */
  levelFromBest(i: number): Level | undefined {
    return this.levels[this.levels.length - 1 - i];
  }

  /** Appends the order at the back of its price level's queue (records must arrive in seq order). */
  insert(rec: OrderRecord): QNode {
    const price = rec.signed.order.price;
    let level = this.byPrice.get(price);
    if (!level) {
      level = new Level(price);
      this.byPrice.set(price, level);
      const n = this.levels.length;
      if (n === 0 || this.worse(this.levels[n - 1]!.price, price)) this.levels.push(level);
      else this.levels.splice(this.indexOf(price), 0, level);
    }
    return level.push(rec);
  }

  remove(node: QNode): void {
    const level = node.level;
    level.unlink(node);
    if (level.count === 0) this.dropLevel(level);
  }

  /** A resting order was partly filled: keep the level's aggregate in step. */
  reduce(node: QNode, by: bigint): void {
    node.level.total -= by;
  }

  private dropLevel(level: Level): void {
    this.byPrice.delete(level.price);
    const n = this.levels.length;
    if (this.levels[n - 1] === level) {
      this.levels.pop();
      return;
    }
    const i = this.indexOf(level.price);
    if (this.levels[i] !== level) throw new Error('orderbook: level index out of sync');
    this.levels.splice(i, 1);
  }

  /** Up to n aggregated levels from the best: [price, total remaining]. */
  depth(n: number): [bigint, bigint][] {
    const out: [bigint, bigint][] = [];
    for (let i = this.levels.length - 1; i >= 0 && out.length < n; i--) {
      const l = this.levels[i]!;
      out.push([l.price, l.total]);
    }
    return out;
  }
}
