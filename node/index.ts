/**
 * perpnode — the node as a library: start a sequencer or a follower in-process, with the same
 * options the CLI passes (`perpnode start`). The other entry points are `perpnode/client` (talk
 * to a node from a wallet or a bot), `perpnode/crypto` (STARK-field hashes and signatures) and
 * `perpnode/trie` (the Merkle-Patricia trie).
 *
 *   import { startSequencer, createLogger } from 'perpnode';
 *   const node = await startSequencer({ dataDir: './data', genesisPath: 'genesis/devnet.json',
 *     rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log: createLogger('info') });
 *   console.log(node.rpcUrl); … await node.stop();
 */
export { startSequencer, startFollower, openChain, StartupError, type StartOptions, type RunningNode, type FollowerOptions, type RunningFollower, type Chain } from './node.ts';
export { createLogger, isLogLevel, type Logger, type LogLevel } from './log.ts';
export { loadGenesis, parseGenesis, GenesisError, type Genesis } from './chain/genesis.ts';
