/** A small pool of bench worker threads (bench/lib/worker.ts) running preparation tasks in parallel. */
import type { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { spawnTsWorker } from '../../node/sequencer/verify-pool.ts';
import type { Task, TaskResult } from './worker.ts';

interface Slot {
  w: Worker;
  busy: number;
  waiting: Map<number, { resolve: (r: TaskResult) => void; reject: (e: Error) => void }>;
}

export class TaskPool {
  private id = 1;
  private constructor(private readonly slots: Slot[]) {}

  static async create(backend: 'js' | 'native', size = availableParallelism()): Promise<TaskPool> {
    const slots: Slot[] = [];
    for (let i = 0; i < Math.max(1, size); i++) slots.push({ w: spawnTsWorker(new URL('./worker.ts', import.meta.url), { backend }), busy: 0, waiting: new Map() });
    await Promise.all(
      slots.map(
        (s) =>
          new Promise<void>((resolve, reject) => {
            const f = (m: { ready?: boolean; error?: string }) => {
              if (m.ready) {
                s.w.off('message', f);
                resolve();
              } else if (m.error) reject(new Error(m.error));
            };
            s.w.on('message', f);
            s.w.once('error', reject);
          }),
      ),
    );
    for (const s of slots) {
      s.w.on('message', (m: { id: number; result?: TaskResult; error?: string }) => {
        const p = s.waiting.get(m.id);
        if (!p) return;
        s.waiting.delete(m.id);
        s.busy--;
        if (m.error) p.reject(new Error(m.error));
        else p.resolve(m.result!);
      });
    }
    return new TaskPool(slots);
  }

  get size(): number {
    return this.slots.length;
  }

  run(task: Task): Promise<TaskResult> {
    const s = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.id++;
    s.busy++;
    return new Promise((resolve, reject) => {
      s.waiting.set(id, { resolve, reject });
      s.w.postMessage({ id, task });
    });
  }

  /** Runs tasks with at most 2 in flight per worker, calling onDone after each (progress). */
  async map(tasks: Task[], onDone?: (i: number, r: TaskResult) => void): Promise<TaskResult[]> {
    const out: TaskResult[] = new Array(tasks.length);
    let next = 0;
    const lane = async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await this.run(tasks[i]!);
        onDone?.(i, out[i]!);
      }
    };
    await Promise.all(Array.from({ length: this.slots.length * 2 }, lane));
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.w.terminate()));
  }
}
