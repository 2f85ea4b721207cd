import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** shared/vectors sits beside the repository (../shared); a copy under test/vectors also works. */
export function vectorsPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '../../../shared/vectors/starknet-public.json'), join(here, '../vectors/starknet-public.json')];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error('starknet-public.json not found in ../shared/vectors or test/vectors');
}
