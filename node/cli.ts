/**
 * The `perpnode` command line. Each command has its own --help. Exit codes: 0 ok, 1 runtime
 * failure (message on stderr), 2 usage error.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { createLogger, isLogLevel, type Logger } from './log.ts';
import { openChain, startSequencer } from './node.ts';
import { fullCheck, quickCheck } from './chain/verify.ts';
import { getStarkKey, randomPrivateKey, toHex } from './crypto/index.ts';
import { accountAddress } from '../contracts-ts/index.ts';

class UsageError extends Error {}

const COMMON = {
  'data-dir': { type: 'string', default: './data' },
  genesis: { type: 'string', default: 'genesis/devnet.json' },
  'log-level': { type: 'string', default: 'info' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

interface Command {
  summary: string;
  usage: string;
  options: ParseArgsConfig['options'];
  run(values: Record<string, any>, log: Logger): Promise<number | void>;
}

function intOpt(v: unknown, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
}

const commands: Record<string, Command> = {
  start: {
    summary: 'run a node (devnet sequencer by default)',
    usage: `perpnode start [--data-dir ./data] [--genesis genesis/devnet.json] [--rpc-host 127.0.0.1]
                [--rpc-port 5050] [--block-time-ms 1000] [--log-level info]

Starts the sequencer: opens (or initialises from the genesis file) the data directory, checks
the head's state root and signature, produces a block every --block-time-ms while
transactions wait (a heartbeat block at least every 10 s otherwise), and serves JSON-RPC.
SIGINT/SIGTERM seal the block in flight, close the database and exit 0.`,
    options: {
      ...COMMON,
      'rpc-host': { type: 'string', default: '127.0.0.1' },
      'rpc-port': { type: 'string', default: '5050' },
      'block-time-ms': { type: 'string' },
    },
    async run(v, log) {
      const node = await startSequencer({
        dataDir: resolve(v['data-dir']),
        genesisPath: resolve(v.genesis),
        rpcHost: v['rpc-host'],
        rpcPort: intOpt(v['rpc-port'], 'rpc-port', 0, 65535),
        blockTimeMs: v['block-time-ms'] === undefined ? undefined : intOpt(v['block-time-ms'], 'block-time-ms', 1, 3_600_000),
        log,
      });
      printDevAccounts(node.chain.genesis.raw, log);
      await new Promise<void>((done) => {
        let stopping = false;
        const onSignal = (sig: string) => {
          if (stopping) return;
          stopping = true;
          log.info(`${sig}: sealing the block in flight and closing the database`);
          node.stop().then(done, (e) => {
            log.error(`shutdown failed: ${(e as Error).message}`);
            process.exitCode = 1;
            done();
          });
        };
        process.once('SIGINT', () => onSignal('SIGINT'));
        process.once('SIGTERM', () => onSignal('SIGTERM'));
      });
      return 0;
    },
  },
  status: {
    summary: 'show head, state root and chain of a data directory (node stopped)',
    usage: `perpnode status [--data-dir ./data] [--genesis genesis/devnet.json]`,
    options: { ...COMMON },
    async run(v, log) {
      const c = await openChain({ dataDir: resolve(v['data-dir']), genesisPath: resolve(v.genesis), log, skipCheck: true });
      try {
        const head = await c.chain.head();
        const h = head ? await c.chain.header(head.number) : undefined;
        let check = 'ok';
        try {
          await quickCheck(c.chain, c.world, c.genesis);
        } catch (e) {
          check = (e as Error).message;
        }
        console.log(
          JSON.stringify(
            {
              chain_id: c.genesis.chainIdName,
              head_number: head ? Number(head.number) : null,
              head_hash: head ? toHex(head.hash) : null,
              state_root: toHex(c.world.root),
              head_timestamp: h ? Number(h.header.timestamp) : null,
              contracts: c.world.contracts.size,
              integrity: check,
            },
            null,
            2,
          ),
        );
      } finally {
        await c.close();
      }
    },
  },
  verify: {
    summary: 'check a data directory (quick by default, everything with --full)',
    usage: `perpnode verify [--data-dir ./data] [--genesis genesis/devnet.json] [--full]

Quick: the head's hash, signature and state root against the stored tries.
--full: recomputes every storage root, the contracts and classes tries and the global root from
the flat state, and every block's hash, parent link, signature and commitments. Exit 1 on any
mismatch, listing each one. Never modifies the data directory.`,
    options: { ...COMMON, full: { type: 'boolean', default: false } },
    async run(v, log) {
      const c = await openChain({ dataDir: resolve(v['data-dir']), genesisPath: resolve(v.genesis), log, skipCheck: true });
      try {
        const problems: string[] = [];
        try {
          const head = await quickCheck(c.chain, c.world, c.genesis);
          log.info(`quick check ok at block ${head.number} (${toHex(head.hash)})`);
        } catch (e) {
          problems.push((e as Error).message);
        }
        if (v.full) problems.push(...(await fullCheck(c.chain, c.world, c.genesis, (m) => log.info(m))));
        for (const p of problems) console.error(`MISMATCH: ${p}`);
        console.log(problems.length ? `verify: ${problems.length} problem(s)` : 'verify: ok');
        return problems.length ? 1 : 0;
      } finally {
        await c.close();
      }
    },
  },
  keys: {
    summary: 'keys new: make a STARK key pair and its account address',
    usage: `perpnode keys new

Prints a fresh private key (from the OS CSPRNG), its stark key (x-only public key) and the
account contract address derived from it. Keep the private key secret.`,
    options: { help: { type: 'boolean', short: 'h', default: false } },
    async run(_v, _log) {
      const sub = process.argv[3];
      if (sub !== 'new') throw new UsageError('usage: perpnode keys new');
      const priv = randomPrivateKey();
      const starkKey = getStarkKey(priv);
      console.log(JSON.stringify({ private_key: toHex(priv), stark_key: toHex(starkKey), account_address: toHex(accountAddress(starkKey)) }, null, 2));
    },
  },
};

function printDevAccounts(raw: any, log: Logger): void {
  const accounts = raw?.exchange?.accounts;
  if (!Array.isArray(accounts) || accounts.length === 0) return;
  const lines = accounts
    .filter((a: any) => a.private_key)
    .map((a: any, i: number) => `  #${i} address ${a.address ?? toHex(accountAddress(BigInt(a.stark_key)))}\n     private key ${a.private_key}`);
  if (lines.length) log.info(`devnet accounts (DEVNET ONLY: these keys are public):\n${lines.join('\n')}`);
}

function help(): string {
  const rows = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`);
  return `perpnode — a Starknet-style appchain node for a self-custodial perpetual-futures exchange

Usage: perpnode <command> [options]    (perpnode <command> --help for details)

Commands:
${rows.join('\n')}`;
}

export async function main(argv: string[]): Promise<number> {
  const name = argv[0];
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    console.error(`unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  let values: Record<string, any>;
  try {
    values = parseArgs({ args: argv.slice(1), options: cmd.options, allowPositionals: name === 'keys', strict: true }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n\nusage: ${cmd.usage}`);
    return 2;
  }
  if (values.help) {
    console.log(`usage: ${cmd.usage}`);
    return 0;
  }
  const level = values['log-level'] ?? 'info';
  if (!isLogLevel(level)) {
    console.error('--log-level must be one of debug, info, warn, error, silent');
    return 2;
  }
  const log = createLogger(level);
  try {
    return (await cmd.run(values, log)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${e.message}\n\nusage: ${cmd.usage}`);
      return 2;
    }
    console.error(`perpnode ${name}: ${(e as Error).message}`);
    if (level === 'debug') console.error((e as Error).stack);
    return 1;
  }
}

const isMain = process.argv[1] && /cli\.ts$|perpnode(\.js)?$/.test(process.argv[1]);
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
