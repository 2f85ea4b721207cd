/**
 * Progress on stderr: a one-line bar redrawn in place on a terminal; elsewhere (CI, a pipe, a
 * log file) a plain line every 2 s, so long cache builds are never silent.
 */
export class Progress {
  private label = '';
  private total = 0;
  private value = 0;
  private extra = '';
  private last = 0;
  private t0 = 0;
  readonly enabled: boolean;

  private readonly tty = process.stderr.isTTY === true;

  constructor(enabled = true) {
    this.enabled = enabled;
  }

  start(label: string, total: number): void {
    this.label = label;
    this.total = total;
    this.value = 0;
    this.extra = '';
    this.t0 = performance.now();
    this.draw(true);
  }

  tick(n = 1): void {
    this.value += n;
    this.draw(false);
  }

  set(value: number, extra = ''): void {
    this.value = value;
    this.extra = extra;
    this.draw(false);
  }

  done(): void {
    if (!this.enabled || !this.label) return;
    this.draw(true);
    if (this.tty) process.stderr.write('\n');
    this.label = '';
  }

  private draw(force: boolean): void {
    if (!this.enabled || !this.label) return;
    const now = performance.now();
    if (!force && now - this.last < (this.tty ? 100 : 2000)) return;
    this.last = now;
    const width = 28;
    const f = this.total > 0 ? Math.min(1, this.value / this.total) : 0;
    const fill = Math.round(f * width);
    const secs = ((now - this.t0) / 1000).toFixed(1);
    const line = `${this.label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${(f * 100).toFixed(0).padStart(3)}% ${secs}s ${this.extra}`;
    if (!this.tty) {
      process.stderr.write(`${this.label}: ${this.value}/${this.total} (${(f * 100).toFixed(0)}%) ${secs}s ${this.extra}`.trimEnd() + '\n');
      return;
    }
    const cols = process.stderr.columns ?? 120;
    process.stderr.write('\r' + line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length + 2)));
  }
}
