/** A small leveled logger writing one line per event to stderr: `time level [scope] message`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(scope: string): Logger;
}

export function isLogLevel(s: string): s is LogLevel {
  return s in RANK;
}

export function createLogger(level: LogLevel = 'info', scope = 'node', write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const at = (lvl: LogLevel) => (msg: string) => {
    if (RANK[lvl] >= RANK[level]) write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} [${scope}] ${msg}`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (s) => createLogger(level, s, write) };
}
