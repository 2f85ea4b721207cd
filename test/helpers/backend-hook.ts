/**
 * Mocha root hook: picks the crypto backend for in-process code under test (once, with the
 * counting wrapper), and seeds fast-check.
 * PERPNODE_CRYPTO=js|native|auto (default auto: native when the addon loads). `npm test` runs
 * the whole suite on the default and the trie, state and block tests again on js, so both
 * backends are exercised in CI.
 *
 * .mocharc.json loads TypeScript through tsx's ESM loader only (`import=tsx/esm`), so mocha
 * imports every test file and this hook as ES modules: one instance of each module. With tsx's
 * CommonJS hook as well, mocha required the files it could and imported the rest (any file whose
 * imports reach a top-level await), and those ran against a second, unselected instance of the
 * crypto module (JS Pedersen, no counting) and of fast-check (no fixed seed).
 */
import fc from 'fast-check';
import { useBackend, type BackendChoice } from '../../node/crypto/index.ts';
import { useCounting } from '../../bench/lib/counting.ts';

// Property tests are reproducible by default (CI must not depend on luck); FC_SEED=random
// explores new cases, FC_SEED=<n> replays a run. A failure prints its seed and path.
const fcSeed = process.env.FC_SEED ?? '20261121';
if (fcSeed !== 'random') {
  if (!/^-?[0-9]+$/.test(fcSeed)) throw new Error('FC_SEED must be an integer or "random"');
  fc.configureGlobal({ seed: Number(fcSeed) });
}

const choice = (process.env.PERPNODE_CRYPTO ?? 'auto') as BackendChoice;
if (!['js', 'native', 'auto'].includes(choice)) throw new Error(`PERPNODE_CRYPTO must be js, native or auto, not ${choice}`);

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    // The backend is chosen once per process; the counting wrapper (bench/lib/counting.ts) is
    // installed at that selection, for the tests and in-process bench runs that count hashes.
    await useCounting(choice);
    const r = await useBackend(choice);
    if (process.env.PERPNODE_REQUIRE_NATIVE === '1' && choice !== 'js' && r.backend.name !== 'native') throw new Error(`native crypto backend required but unavailable: ${r.note ?? ''}`);
    console.log(`  crypto backend: ${r.backend.name}${r.note ? ` (${r.note})` : ''}`);
  },
};
