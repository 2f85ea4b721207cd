#!/usr/bin/env node
/**
 * `npm test`: every tier, then the JS-backend pass, each in its own mocha process. Every pass
 * runs even when an earlier one failed (a unit failure must not hide an e2e or JS-backend
 * failure); the exit code is non-zero when any pass failed, and the summary names them.
 * Extra arguments are passed to every mocha run (e.g. `npm test -- --bail`).
 */
import { spawnSync } from 'node:child_process';

const PASSES = ['test:unit', 'test:integration', 'test:e2e', 'test:js-backend'];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const extra = process.argv.slice(2);
const results = [];
for (const pass of PASSES) {
  const t0 = Date.now();
  console.log(`\n=== npm run ${pass}`);
  const r = spawnSync(npm, ['run', '--silent', pass, ...(extra.length ? ['--', ...extra] : [])], { stdio: 'inherit' });
  results.push({ pass, ok: r.status === 0, status: r.status ?? r.signal, seconds: Math.round((Date.now() - t0) / 1000) });
}
console.log('\n=== summary');
for (const r of results) console.log(`  ${r.ok ? 'ok    ' : 'FAILED'} ${r.pass} (${r.seconds} s${r.ok ? '' : `, exit ${r.status}`})`);
const failed = results.filter((r) => !r.ok);
if (failed.length) {
  console.log(`\n${failed.length} of ${results.length} passes failed: ${failed.map((r) => r.pass).join(', ')}`);
  process.exit(1);
}
