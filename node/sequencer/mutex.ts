/** A FIFO async mutex: block sealing and transaction execution never interleave. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  get queued(): number {
    return this.waiting;
  }

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    this.waiting++;
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    try {
      await prev;
      this.waiting--;
      return await fn();
    } finally {
      release();
    }
  }
}
