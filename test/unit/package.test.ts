/**
 * package.json is true to the code: every export entry resolves to a module that loads; the
 * runtime dependencies are exactly the packages the shipped code (node/, contracts-ts/, bin/,
 * scripts/) imports, and shipped code imports no devDependency (starknet.js is a test tool: the
 * typed-data shape it accepts is declared in contracts-ts/typed-data.ts).
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/proc.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((f) => {
    const rel = join(dir, f);
    if (statSync(join(ROOT, rel)).isDirectory()) return f === 'node_modules' || f === 'build' ? [] : files(rel);
    return /\.(ts|js|mjs)$/.test(f) ? [rel] : [];
  });
}

/** Bare package names imported by a source text, split by whether the import is type-only. */
function imports(src: string): { value: Set<string>; type: Set<string> } {
  const value = new Set<string>();
  const type = new Set<string>();
  const pkgName = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
  for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'([^'.][^']*)'/gm)) if (!m[3]!.startsWith('node:')) (m[2] ? type : value).add(pkgName(m[3]!));
  for (const m of src.matchAll(/import\(\s*'([^'.][^']*)'\s*\)/g)) if (!m[1]!.startsWith('node:')) value.add(pkgName(m[1]!));
  for (const m of src.matchAll(/^\s*import\s+'([^'.][^']*)'/gm)) if (!m[1]!.startsWith('node:')) value.add(pkgName(m[1]!));
  return { value, type };
}

describe('package.json', () => {
  it('every export entry exists and loads', async () => {
    for (const [name, target] of Object.entries(pkg.exports as Record<string, string>)) {
      expect(existsSync(join(ROOT, target)), `${name} -> ${target}`).to.equal(true);
      const mod = await import(join(ROOT, target));
      expect(Object.keys(mod).length, `${name} exports something`).to.be.greaterThan(0);
    }
    const lib = await import(join(ROOT, pkg.exports['.']));
    for (const f of ['startSequencer', 'startFollower', 'createLogger', 'loadGenesis']) expect(lib[f], f).to.be.a('function');
  });

  it('runtime dependencies are exactly what shipped code imports; no devDependency is imported', () => {
    const value = new Set<string>();
    const type = new Set<string>();
    for (const f of ['node', 'contracts-ts', 'bin', 'scripts'].flatMap(files)) {
      const i = imports(readFileSync(join(ROOT, f), 'utf8'));
      i.value.forEach((p) => value.add(p));
      i.type.forEach((p) => type.add(p));
    }
    const deps = Object.keys(pkg.dependencies);
    const dev = Object.keys(pkg.devDependencies);
    for (const p of value) expect(deps, `${p} is imported at runtime`).to.include(p);
    // A dependency only imported as a type must still be installed when its types are part of
    // the public API (@libp2p/interface's PeerId, Stream…); one imported nowhere must go.
    for (const d of deps) expect(value.has(d) || type.has(d), `dependency ${d} is imported by no shipped file`).to.equal(true);
    for (const p of [...value, ...type]) expect(dev, `shipped code imports the devDependency ${p}`).to.not.include(p);
    expect(dev).to.include('starknet');
  });
});
