/**
 * The status page at `GET /` of the RPC port: plain HTML and one small script (no build step),
 * read once at startup. The script talks to the node's own WebSocket (/ws) and GET /ready.
 */
import { readFileSync } from 'node:fs';
import type { Route } from '../http.ts';

let files: { html: string; js: string } | undefined;

export function statusPageRoutes(): Record<string, Route> {
  files ??= {
    html: readFileSync(new URL('./index.html', import.meta.url), 'utf8'),
    js: readFileSync(new URL('./status.js', import.meta.url), 'utf8'),
  };
  const { html, js } = files;
  return {
    '/': () => ({ status: 200, type: 'text/html; charset=utf-8', body: html }),
    '/status.js': () => ({ status: 200, type: 'text/javascript; charset=utf-8', body: js }),
  };
}
