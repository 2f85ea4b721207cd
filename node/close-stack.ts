/**
 * One close stack per running node: every resource is registered the moment it is acquired,
 * and `close()` releases them in reverse order. A node's `stop()` and the clean-up after a
 * failed start are the same call, so a resource added later cannot be forgotten in one of them.
 *
 * A failing step does not stop the rest (the database must still be closed when the p2p
 * service hangs up badly); the first error is rethrown after every step ran.
 */
export class CloseStack {
  private readonly steps: { name: string; run: () => unknown }[] = [];
  private closing: Promise<void> | null = null;

  /** Registers `run` to be called at close (last registered, first run). Returns `run` once-wrapped. */
  defer(name: string, run: () => unknown): () => Promise<void> {
    let done: Promise<void> | null = null;
    const once = () => (done ??= Promise.resolve().then(run).then(() => undefined));
    this.steps.push({ name, run: once });
    return once;
  }

  /** Runs every registered step once, newest first; later calls wait for the first. */
  close(): Promise<void> {
    return (this.closing ??= this.runAll());
  }

  /** Names of the registered steps in the order `close()` runs them (for tests and logs). */
  order(): string[] {
    return this.steps.map((s) => s.name).reverse();
  }

  private async runAll(): Promise<void> {
    let first: unknown;
    let failed = false;
    for (const s of [...this.steps].reverse()) {
      try {
        await s.run();
      } catch (e) {
        if (!failed) first = new Error(`closing ${s.name}: ${(e as Error)?.message ?? e}`, { cause: e });
        failed = true;
      }
    }
    if (failed) throw first;
  }
}
