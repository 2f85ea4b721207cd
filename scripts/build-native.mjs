#!/usr/bin/env node
/**
 * Builds the native crypto addon (native/ -> native/build/Release/perpnode_crypto.node).
 * Runs as the package's own "postinstall" step, so `npm install` / `npm ci` build it.
 *
 * It never fails the install: when no compiler or headers are around, or the compile fails,
 * it prints a warning and exits 0, and the node keeps using the JS reference backend.
 *
 *   1. node-gyp (the copy bundled with npm), pointed at local Node headers with --nodedir so
 *      nothing is downloaded;
 *   2. if node-gyp is missing or fails: the C compiler directly (cc -shared) with the same
 *      flags, since the addon is two C files and needs only node_api.h.
 * After a build, a child process loads the addon and checks known answers; a wrong or
 * unloadable result is deleted so it cannot be picked up.
 *
 * Env: PERPNODE_SKIP_NATIVE=1 skips the build; PERPNODE_NATIVE_FORCE=1 rebuilds even when the
 * addon is newer than its sources; PERPNODE_NATIVE_VERBOSE=1 shows compiler output.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NATIVE = join(ROOT, 'native');
const OUT_DIR = join(NATIVE, 'build', 'Release');
const ADDON = join(OUT_DIR, 'perpnode_crypto.node');
const SOURCES = ['src/addon.c', 'src/stark.c'];
// Keep in sync with native/binding.gyp.
const CFLAGS = ['-O3', '-std=gnu11', '-fno-tree-vectorize', '-fvisibility=hidden', '-DNAPI_VERSION=8'];
const TIME_LIMIT_MS = 240_000;
const verbose = process.env.PERPNODE_NATIVE_VERBOSE === '1';

function log(msg) {
  console.log(`[perpnode native crypto] ${msg}`);
}
function warn(msg) {
  console.warn(`[perpnode native crypto] WARNING: ${msg}`);
  console.warn('[perpnode native crypto] continuing without it: the node uses the JS crypto backend (slower, same results).');
}

/** A directory D with D/include/node/node_api.h: the headers node-gyp would otherwise download. */
function findNodeDir() {
  const candidates = [
    process.env.npm_config_nodedir,
    process.env.PERPNODE_NODEDIR,
    resolve(dirname(process.execPath), '..'),
    '/usr',
    '/usr/local',
  ].filter(Boolean);
  for (const d of candidates) {
    if (existsSync(join(d, 'include', 'node', 'node_api.h'))) return d;
  }
  return undefined;
}

/** node-gyp's entry script: npm's lifecycle env, then npm's bundled copy, then a local install. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const prefix = resolve(dirname(process.execPath), '..');
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(ROOT, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const npmPrefix = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8', timeout: 20_000 });
  if (npmPrefix.status === 0 && npmPrefix.stdout.trim()) {
    candidates.push(join(npmPrefix.stdout.trim(), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  return candidates.find((c) => existsSync(c));
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: NATIVE, encoding: 'utf8', timeout: TIME_LIMIT_MS, ...opts });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (verbose && out) process.stdout.write(out);
  const ok = r.status === 0 && !r.error;
  const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
  return { ok, why, out };
}

function tail(text, n = 15) {
  return text.trim().split('\n').slice(-n).join('\n');
}

function upToDate() {
  if (!existsSync(ADDON)) return false;
  const built = statSync(ADDON).mtimeMs;
  const inputs = [join(NATIVE, 'binding.gyp'), ...readdirSync(join(NATIVE, 'src')).map((f) => join(NATIVE, 'src', f))];
  return inputs.every((f) => statSync(f).mtimeMs <= built);
}

function buildWithNodeGyp(nodeDir) {
  const gyp = findNodeGyp();
  if (!gyp) return { ok: false, why: 'node-gyp not found' };
  const args = [gyp, 'rebuild', '--directory', NATIVE, '--jobs', '2'];
  if (nodeDir) args.push(`--nodedir=${nodeDir}`);
  return run(process.execPath, args);
}

function buildWithCompiler(nodeDir) {
  if (!nodeDir) return { ok: false, why: 'no local Node headers (include/node/node_api.h) found' };
  const cc = process.env.CC || 'cc';
  mkdirSync(OUT_DIR, { recursive: true });
  const args = [...CFLAGS, '-fPIC', '-shared', `-I${join(nodeDir, 'include', 'node')}`, ...SOURCES, '-o', ADDON, '-lpthread'];
  if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
  return run(cc, args);
}

/** Loads the fresh addon in a child process and checks two known answers. */
function smokeTest() {
  const code = `
    const m = require(${JSON.stringify(ADDON)});
    const ok = m.poseidonHash(1n, 2n) === 0x5d44a3decb2b2e0cc71071f7b802f45dd792d064f0fc7316c46514f70f9891an
      && m.pedersen(1n, 2n) === 0x5bb9440e27889a364bcb678b1f679ecd1347acdedcbf36e83494f857cc58026n;
    process.exit(ok ? 0 : 3);`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 60_000 });
  if (r.status === 0) return { ok: true };
  return { ok: false, why: r.status === 3 ? 'wrong known answers' : tail(`${r.stdout}${r.stderr}`, 5) || `exit ${r.status}` };
}

function main() {
  if (process.env.PERPNODE_SKIP_NATIVE === '1') {
    log('skipped (PERPNODE_SKIP_NATIVE=1); the node will use the JS crypto backend');
    return;
  }
  if (process.env.PERPNODE_NATIVE_FORCE !== '1' && upToDate() && smokeTest().ok) {
    log(`up to date: ${ADDON}`);
    return;
  }
  const started = Date.now();
  const nodeDir = findNodeDir();
  let res = buildWithNodeGyp(nodeDir);
  let how = 'node-gyp';
  if (!res.ok) {
    const first = res;
    res = buildWithCompiler(nodeDir);
    how = 'cc';
    if (!res.ok) {
      warn(`build failed.\n  node-gyp: ${first.why}\n${first.out ? tail(first.out) + '\n' : ''}  cc: ${res.why}\n${res.out ? tail(res.out) : ''}`);
      return;
    }
  }
  const smoke = smokeTest();
  if (!smoke.ok) {
    rmSync(ADDON, { force: true });
    warn(`built addon failed its check (${smoke.why}); removed it`);
    return;
  }
  log(`built ${ADDON} with ${how} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (e) {
  warn(`unexpected error: ${e && e.stack ? e.stack : e}`);
}
process.exitCode = 0;
