/**
 * A small leveled logger writing one line per event to stderr.
 *
 * Text (default): `time level [scope] message`. JSON (`--log-format json`, for log shippers):
 * one object per line, `{"time","level","scope","msg", ...fields}`; the fields of an event
 * (block number, tx count, ...) are also in the text message, so nothing is lost in text form.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'text' | 'json';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, string | number | boolean | null>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(scope: string): Logger;
  /** True when `level` lines are written (skip building expensive debug messages). */
  enabled(level: LogLevel): boolean;
}

export function isLogLevel(s: string): s is LogLevel {
  return s in RANK;
}

export function isLogFormat(s: string): s is LogFormat {
  return s === 'text' || s === 'json';
}

export function createLogger(
  level: LogLevel = 'info',
  scope = 'node',
  write: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  format: LogFormat = 'text',
): Logger {
  const enabled = (lvl: LogLevel) => lvl !== 'silent' && RANK[lvl] >= RANK[level];
  const at = (lvl: LogLevel) => (msg: string, fields?: LogFields) => {
    if (!enabled(lvl)) return;
    const time = new Date().toISOString();
    if (format === 'json') write(JSON.stringify({ time, level: lvl, scope, msg, ...fields }));
    else write(`${time} ${lvl.toUpperCase().padEnd(5)} [${scope}] ${msg}`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (s) => createLogger(level, s, write, format), enabled };
}

/**
 * Progress of long work, in every mode: an info line at most every `everyMs` (and the first at
 * once), so a terminal, a pipe and a log file all see the work moving; `done` logs the end.
 */
export interface Progress {
  /** `done` units of `total` (when known) finished; `note` is appended. */
  update(done: number, note?: string): void;
  finish(msg: string): void;
}

export function progress(log: Logger, what: string, total?: number, everyMs = 2000, now: () => number = Date.now): Progress {
  const t0 = now();
  let last = -Infinity;
  return {
    update(done, note) {
      const t = now();
      if (t - last < everyMs) return;
      last = t;
      const pct = total ? ` (${Math.floor((done * 100) / total)}%)` : '';
      log.info(`${what}: ${done}${total !== undefined ? `/${total}` : ''}${pct}${note ? ` ${note}` : ''}, ${((t - t0) / 1000).toFixed(1)} s`);
    },
    finish(msg) {
      log.info(`${what}: ${msg} in ${((now() - t0) / 1000).toFixed(1)} s`);
    },
  };
}
