/**
 * The admin port's bearer token: `<data-dir>/admin.token`, created once with mode 0600 from
 * the OS CSPRNG. Compared in constant time.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';

export function ensureAdminToken(dataDir: string): string {
  const path = join(dataDir, 'admin.token');
  if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  const token = readFileSync(path, 'utf8').trim();
  if (token.length < 32) throw new Error(`${path} holds a token shorter than 32 characters; delete it to get a new one`);
  return token;
}

export function bearerMatches(req: IncomingMessage, token: string): boolean {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || !h.startsWith('Bearer ')) return false;
  const given = Buffer.from(h.slice(7).trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}
