/**
 * Real node processes for integration and e2e tests: spawned through the CLI, ready when they
 * print their RPC URL, always stopped (SIGTERM, then SIGKILL) within a bounded time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface NodeProc {
  child: ChildProcess;
  url: string;
  output(): string;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  kill9(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export function runCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'node/cli.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...opts.env } });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`perpnode ${args.join(' ')} timed out\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function startNodeProc(args: string[], opts: { readyTimeoutMs?: number } = {}): Promise<NodeProc> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'node/cli.ts'), 'start', '--rpc-port', '0', '--admin-port', '0', ...(args.includes('--p2p-port') ? [] : ['--p2p-port', '0']), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const url: string = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node did not become ready:\n${out}`));
    }, opts.readyTimeoutMs ?? 30_000);
    child.stderr!.on('data', (d) => {
      out += d;
      const m = /JSON-RPC on (http:\/\/[0-9.]+:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before ready:\n${out}`));
    });
  });
  // A sequencer serves reads while it checks its stored state (--state-check while-serving);
  // tests send transactions, so they start once /ready no longer says it is starting.
  const ready = await waitFor(async () => {
    if (child.exitCode !== null) return 'exited';
    const body = (await (await fetch(`${url}/ready`)).json()) as { starting?: string | null };
    return body.starting == null && 'ready';
  }, opts.readyTimeoutMs ?? 30_000).catch(() => 'timed out');
  if (ready !== 'ready') throw new Error(`node ${ready === 'exited' ? `exited with ${child.exitCode}` : 'did not finish'} during its start-up check:\n${out}`);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => (live.delete(child), r(code))));
  return {
    child,
    url,
    output: () => out,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

let nextId = 1;
export async function rpc(url: string, method: string, params?: unknown): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, ...(params === undefined ? {} : { params }) }) });
  const j = (await res.json()) as any;
  if (j.error) throw Object.assign(new Error(`${method}: ${j.error.message} ${JSON.stringify(j.error.data ?? '')}`), { rpc: j.error });
  return j.result;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, stepMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(stepMs);
  }
}
