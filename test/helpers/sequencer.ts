import { join } from 'node:path';
import { startSequencer, type RunningNode, type StartOptions } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import { ROOT } from './proc.ts';

export const DEVNET_GENESIS = join(ROOT, 'genesis/devnet.json');

/** An in-process sequencer on ephemeral ports, feeder off, silent, data in `<dir>/data`. */
export function startTestSequencer(dir: string, overrides: Partial<StartOptions> = {}): Promise<RunningNode> {
  return startSequencer({ dataDir: join(dir, 'data'), genesisPath: DEVNET_GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log: createLogger('silent'), ...overrides });
}
