/**
 * The `perpnode` command line. Each command has its own --help. Exit codes: 0 ok, 1 runtime
 * failure (message on stderr), 2 usage error.
 */
import './p2p/polyfill.ts'; // first: libp2p needs Promise.withResolvers on Node 20
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { join, resolve } from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createLogger, isLogFormat, isLogLevel, progress, type Logger } from './log.ts';
import { encodeShortString, getStarkKey, parseFelt, randomPrivateKey, toHex, useBackend, type BackendChoice } from './crypto/index.ts';
import { DataDirInUseError } from './storage/lock.ts';
import { formatUnits } from './client/units.ts';
import { ADMIN_HTTP_DEFAULTS, PUBLIC_HTTP_DEFAULTS } from './rpc/http.ts';
import { defaultP2POptions } from './p2p/options.ts';
import type { Checkpoint } from './chain/checkpoints.ts';
import type { Genesis } from './chain/genesis.ts';

// Heavy modules load only for the command that needs them, so `perpnode keys new` or
// `perpnode wallet balance` start fast.
const nodeMod = () => import('./node.ts');
const verifyMod = () => import('./chain/verify.ts');
const checkpointsMod = () => import('./chain/checkpoints.ts');
const rollbackMod = () => import('./chain/rollback.ts');
const auditMod = () => import('./incident/audit.ts');
const refundMod = () => import('./incident/refund.ts');
const drillMod = () => import('./incident/drill.ts');
const producerMod = () => import('./sequencer/producer.ts');
const walletMod = () => import('./wallet.ts');
const contractsMod = () => import('../contracts-ts/index.ts');

class UsageError extends Error {}

const COMMON = {
  'data-dir': { type: 'string', default: './data' },
  genesis: { type: 'string', default: 'genesis/devnet.json' },
  'log-level': { type: 'string', default: 'info' },
  'log-format': { type: 'string', default: 'text' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

interface Command {
  summary: string;
  usage: string;
  options: ParseArgsConfig['options'];
  run(values: Record<string, any>, log: Logger): Promise<number | void>;
}

/** --state-cache-entries (undefined: the default in node/state/world.ts). */
function stateCacheOpt(v: Record<string, any>): number | undefined {
  return v['state-cache-entries'] === undefined ? undefined : intOpt(v['state-cache-entries'], 'state-cache-entries', 1, 100_000_000);
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
                [--rpc-port ${PUBLIC_HTTP_DEFAULTS.port}] [--admin-port ${ADMIN_HTTP_DEFAULTS.port}|off] [--block-time-ms 1000]
                [--feeder walk|off|<replay.json>] [--checkpoint-interval N] [--crypto auto|js|native]
                [--verify-workers 2] [--state-cache-entries 250000] [--state-check while-serving|before-serving]
                [--pipeline]
                [--log-level info]
                [--role sequencer|follower] [--p2p-host ${defaultP2POptions.host}] [--p2p-port ${defaultP2POptions.port}|off]
                [--bootstrap <multiaddr>]... [--sequencer-rpc <url>]

Starts the sequencer: binds every port, opens (or initialises from the genesis file) the data
directory, checks the head's state root and signature, produces a block every --block-time-ms
while transactions wait (a heartbeat block at least every 10 s otherwise), and serves JSON-RPC,
the status page (GET / of the RPC port), /health and /ready; /metrics on the admin port.
--block-time-ms 0 (devnet): a block as soon as a transaction arrives, no heartbeats; the
feeder then posts prices only on request (admin_postPrices on the admin port).
--log-format json: one JSON object per log line (for log shippers).
The admin port (127.0.0.1 only) needs the bearer token in <data-dir>/admin.token.
--verify-workers: threads that check signatures before transactions take the block lock (0 =
check them inline).
--state-cache-entries: flat state entries (storage slots, contract records) kept in memory; the
rest is read from LevelDB when needed, so memory does not grow with accounts (docs/operations.md).
--state-check: the start-up digest check reads every stored state entry (a minute or more at a
million accounts). while-serving (default): JSON-RPC serves reads at once, transactions are
refused (error 11012) and nothing is signed until it passes, and a failure stops the node
(exit 1); before-serving: nothing is served until it has passed.
--pipeline: execute the next block while the last one is written to disk (nothing is answered
as accepted before its block is durable). Off by default: it pays with more cores than two.
--crypto: the hash/signature backend; auto (default) uses the native addon when it loads, else the
JavaScript reference (logged); native refuses to start without the addon. Results are identical.
--feeder: on a devnet (the genesis holds an oracle private key) a built-in feeder signs oracle
prices every 2 s: a seeded random walk by default, or a replay file; 'off' disables it.
SIGINT/SIGTERM seal the block in flight, close the database and exit 0.

p2p (docs/followers.md): the sequencer publishes every block on libp2p (TCP --p2p-port, default
${defaultP2POptions.port} on --p2p-host; "off" disables it) and logs its full multiaddrs. --role follower follows a
sequencer instead: dials each --bootstrap multiaddr, syncs from genesis, applies a block only
after re-executing it to the same state root and hash, and serves the read RPC. Trading calls
sent to a follower are forwarded to --sequencer-rpc, or refused (error 11008) without it.`,
    options: {
      ...COMMON,
      role: { type: 'string', default: 'sequencer' },
      'p2p-host': { type: 'string', default: defaultP2POptions.host },
      'p2p-port': { type: 'string' },
      bootstrap: { type: 'string', multiple: true },
      'sequencer-rpc': { type: 'string' },
      'rpc-host': { type: 'string', default: '127.0.0.1' },
      'rpc-port': { type: 'string', default: String(PUBLIC_HTTP_DEFAULTS.port) },
      'admin-port': { type: 'string', default: String(ADMIN_HTTP_DEFAULTS.port) },
      'block-time-ms': { type: 'string' },
      feeder: { type: 'string', default: 'walk' },
      'checkpoint-interval': { type: 'string' },
      crypto: { type: 'string', default: 'auto' },
      'verify-workers': { type: 'string', default: '2' },
      'state-cache-entries': { type: 'string' },
      'state-check': { type: 'string', default: 'while-serving' },
      pipeline: { type: 'boolean', default: false },
    },
    async run(v, log) {
      if (v['state-check'] !== 'while-serving' && v['state-check'] !== 'before-serving') throw new UsageError('--state-check must be while-serving or before-serving');
      if (!['js', 'native', 'auto'].includes(v.crypto)) throw new UsageError('--crypto must be js, native or auto');
      const picked = await useBackend(v.crypto as BackendChoice);
      log.info(`crypto backend: ${picked.backend.name}${picked.note ? ` (${picked.note})` : ''}`);
      const role = v.role;
      if (role !== 'sequencer' && role !== 'follower') throw new UsageError('--role must be sequencer or follower');
      const p2pOff = v['p2p-port'] === 'off';
      if (p2pOff && role === 'follower') throw new UsageError('a follower needs p2p: --p2p-port off is for the sequencer only');
      if (v['sequencer-rpc'] !== undefined && role !== 'follower') throw new UsageError('--sequencer-rpc is a follower option');
      if (v['sequencer-rpc'] !== undefined && !/^https?:\/\/\S+$/.test(v['sequencer-rpc'])) throw new UsageError('--sequencer-rpc must be an http(s) URL');
      const bootstrap: string[] = v.bootstrap ?? [];
      for (const b of bootstrap)
        if (!/^\/(ip4|ip6|dns|dns4|dns6)\/[^/]+\/tcp\/\d+\/p2p\/\w+$/.test(b)) throw new UsageError(`--bootstrap ${b}: expected /ip4/<host>/tcp/<port>/p2p/<peer id> (as the sequencer logs it)`);
      const p2p = p2pOff ? undefined : { host: v['p2p-host'], port: v['p2p-port'] === undefined ? defaultP2POptions.port : intOpt(v['p2p-port'], 'p2p-port', 0, 65535), bootstrap };
      if (role === 'follower') return runFollower(v, p2p!, log);
      const node = await (await nodeMod()).startSequencer({
        p2p,
        p2pRequired: v['p2p-port'] !== undefined,
        dataDir: resolve(v['data-dir']),
        genesisPath: resolve(v.genesis),
        rpcHost: v['rpc-host'],
        rpcPort: intOpt(v['rpc-port'], 'rpc-port', 0, 65535),
        adminPort: v['admin-port'] === 'off' ? null : intOpt(v['admin-port'], 'admin-port', 0, 65535),
        feeder: v.feeder,
        verifyWorkers: intOpt(v['verify-workers'], 'verify-workers', 0, 64),
        checkpointInterval: v['checkpoint-interval'] === undefined ? undefined : intOpt(v['checkpoint-interval'], 'checkpoint-interval', 0, Number.MAX_SAFE_INTEGER),
        blockTimeMs: v['block-time-ms'] === undefined ? undefined : intOpt(v['block-time-ms'], 'block-time-ms', 0, 3_600_000),
        stateCacheEntries: stateCacheOpt(v),
        stateCheck: v['state-check'],
        pipeline: v.pipeline,
        log,
      });
      printDevAccounts(node.chain.genesis, log);
      return runUntilSignal(node, log, 'sealing the block in flight and closing the database', node.stateChecked);
    },
  },
  status: {
    summary: 'head, state root, mode and peers: of a running node (admin port) or a stopped data dir',
    usage: `perpnode status [--data-dir ./data] [--genesis genesis/devnet.json] [--admin-url URL]

When a node is running on the data directory, asks it (admin_status, with the token from
<data-dir>/admin.token, at the admin address it recorded in <data-dir>/node.json unless
--admin-url is given): role, head, state root, mode, peers and lag. Otherwise opens the
stopped data directory read-only and reports its head, state root and integrity check.`,
    options: { ...COMMON, 'admin-url': { type: 'string' } },
    async run(v, log) {
      const dataDir = resolve(v['data-dir']);
      let c;
      try {
        c = await (await nodeMod()).openChain({ dataDir, genesisPath: resolve(v.genesis), log, skipCheck: true, mode: 'readonly' });
      } catch (e) {
        if (!(e instanceof DataDirInUseError)) throw e;
        const recorded = (await nodeMod()).readNodeFile(dataDir);
        if (v['admin-url'] === undefined && recorded && recorded.admin_url === null) throw new Error(`${e.message}; it runs with --admin-port off, and status asks the admin port`);
        const adminUrl: string = v['admin-url'] ?? recorded?.admin_url ?? `http://127.0.0.1:${ADMIN_HTTP_DEFAULTS.port}`;
        const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
        const res = await fetch(adminUrl, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'admin_status' }) }).catch((err) => {
          throw new Error(`${e.message}, and its admin port ${adminUrl} does not answer (${(err as Error).message}); pass --admin-url`);
        });
        const j = (await res.json()) as { result?: unknown; error?: { message: string } };
        if (!j.result) throw new Error(`admin_status failed: ${j.error?.message ?? res.status}`);
        console.log(JSON.stringify({ running: true, pid: e.pid, ...(recorded ? { rpc_url: recorded.rpc_url, admin_url: adminUrl, status_page: recorded.rpc_url + '/' } : {}), ...(j.result as object) }, null, 2));
        return;
      }
      try {
        const head = await c.chain.head();
        const h = head ? await c.chain.header(head.number) : undefined;
        let check = 'ok';
        try {
          await (await verifyMod()).quickCheck(c.chain, c.world, c.genesis);
          check = (await signerCheck(c, dataDir)) ?? 'ok';
        } catch (e) {
          check = (e as Error).message;
        }
        console.log(
          JSON.stringify(
            {
              running: false,
              chain_id: c.genesis.chainIdName,
              head_number: head ? Number(head.number) : null,
              head_hash: head ? toHex(head.hash) : null,
              state_root: toHex(c.world.root),
              head_timestamp: h ? Number(h.header.timestamp) : null,
              contracts: await c.world.countContracts(),
              signed_height: await signedHeight(dataDir),
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

Quick: the start checks (head hash, signature, state root, flat-state digest) and that the
database holds the newest block the sequencer signed (signer.json).
--full: also recomputes every storage root, the tries and the global root from the flat state,
re-hashes every trie node of the head, and checks every block's hash, parent link, signature,
transaction bodies, receipts, commitments, state diff and reverse diff; a progress line every
2 s. Exit 1 on any mismatch, listing each one. Opens the data directory read-only.`,
    options: { ...COMMON, full: { type: 'boolean', default: false } },
    async run(v, log) {
      const c = await (await nodeMod()).openChain({ dataDir: resolve(v['data-dir']), genesisPath: resolve(v.genesis), log, skipCheck: true, mode: 'readonly' });
      try {
        const problems: string[] = [];
        try {
          const head = await (await verifyMod()).quickCheck(c.chain, c.world, c.genesis);
          log.info(`quick check ok at block ${head.number} (${toHex(head.hash)})`);
        } catch (e) {
          problems.push((e as Error).message);
        }
        const pending = await (await rollbackMod()).pendingRollback(c.db);
        if (pending) problems.push(`a rollback to block ${pending.target} is in progress (the flat state is at block ${pending.state_at}); finish it with \`perpnode rollback --to ${pending.target}\` or by starting the node`);
        try {
          const p = await signerCheck(c, resolve(v['data-dir']));
          if (p) problems.push(p);
        } catch (e) {
          problems.push((e as Error).message);
        }
        if (v.full) problems.push(...(await (await verifyMod()).fullCheck(c.chain, c.world, c.genesis, (m) => log.info(m))));
        for (const p of problems) console.error(`MISMATCH: ${p}`);
        console.log(problems.length ? `verify: ${problems.length} problem(s)` : 'verify: ok');
        return problems.length ? 1 : 0;
      } finally {
        await c.close();
      }
    },
  },
  wallet: {
    summary: 'a terminal wallet: new key, deploy, mint (devnet), order, cancel, balance, withdraw',
    usage: 'perpnode wallet <command> [options]   (perpnode wallet --help lists the commands)',
    options: {},
    async run() {
      return 2; // dispatched in main() before option parsing: wallet has its own sub-commands
    },
  },
  keys: {
    summary: 'keys new: make a STARK key pair and its account address',
    usage: `perpnode keys new

Prints a fresh private key (from the OS CSPRNG), its stark key (x-only public key) and the
account contract address derived from it. Keep the private key secret.`,
    options: { help: { type: 'boolean', short: 'h', default: false } },
    async run(_v, _log) {
      const sub = _v._positionals?.[0];
      if (sub !== 'new') throw new UsageError(sub === undefined ? 'keys: which one? the only sub-command is "new"' : `keys: unknown sub-command "${sub}"`);
      const priv = randomPrivateKey();
      const starkKey = getStarkKey(priv);
      console.log(JSON.stringify({ private_key: toHex(priv), stark_key: toHex(starkKey), account_address: toHex((await contractsMod()).accountAddress(starkKey)) }, null, 2));
    },
  },
  checkpoint: {
    summary: 'label the current head (node stopped) so it can be rolled back to',
    usage: `perpnode checkpoint --label <name> [--data-dir ./data] [--genesis genesis/devnet.json]

Records a named checkpoint at the head of a stopped node's data directory (a running node takes
admin_checkpoint). Labels: 1-64 of letters, digits, ".", "_", "-"; not all digits.`,
    options: { ...COMMON, label: { type: 'string' } },
    async run(v, log) {
      if (!v.label) throw new UsageError('--label is required');
      const c = await (await nodeMod()).openChain({ dataDir: resolve(v['data-dir']), genesisPath: resolve(v.genesis), log, mode: 'existing' });
      try {
        const cp = await (await checkpointsMod()).makeCheckpoint(c.db, c.chain, v.label);
        console.log(JSON.stringify(checkpointView(cp), null, 2));
      } finally {
        await c.close();
      }
    },
  },
  checkpoints: {
    summary: 'list checkpoints: height, block hash, state root, label, time',
    usage: `perpnode checkpoints [--data-dir ./data] [--genesis genesis/devnet.json] [--json]`,
    options: { ...COMMON, json: { type: 'boolean', default: false } },
    async run(v, log) {
      const c = await (await nodeMod()).openChain({ dataDir: resolve(v['data-dir']), genesisPath: resolve(v.genesis), log, skipCheck: true, mode: 'readonly' });
      try {
        const list = (await (await checkpointsMod()).listCheckpoints(c.db)).map(checkpointView);
        if (v.json) console.log(JSON.stringify(list, null, 2));
        else {
          console.log(['height'.padEnd(8), 'label'.padEnd(24), 'time'.padEnd(25), 'block hash / state root'].join(' '));
          for (const x of list) console.log([String(x.height).padEnd(8), x.label.padEnd(24), x.time.padEnd(25), `${x.block_hash} / ${x.state_root}`].join(' '));
        }
      } finally {
        await c.close();
      }
    },
  },
  rollback: {
    summary: 'roll the chain back to a height or checkpoint label (node stopped)',
    usage: `perpnode rollback --to <height|label> [--reason "..."] [--incident <id>] [--data-dir ./data]
                   [--genesis genesis/devnet.json]

Moves the head to the target and unwinds every later block with its reverse diff, one durable
batch per block; rolled-back blocks are archived as orphaned (kept for audit, not replayed).
Interrupted at any moment, it resumes on the next start or run and ends at the exact target
state root. The sequencer signs a rollback certificate for followers. The node restarts in
CANCEL_ONLY mode: open orders are cancelled except take-profit and stop-loss orders.`,
    options: { ...COMMON, to: { type: 'string' }, reason: { type: 'string', default: 'operator rollback' }, incident: { type: 'string', default: '0x0' } },
    async run(v, log) {
      if (!v.to) throw new UsageError('--to <height|label> is required');
      const incident = parseIncident(v.incident);
      if (v.reason.length > 256) throw new UsageError('--reason is limited to 256 characters');
      const c = await (await nodeMod()).openChain({ dataDir: resolve(v['data-dir']), genesisPath: resolve(v.genesis), log, mode: 'existing' });
      try {
        const target = await (await checkpointsMod()).resolveTarget(c.db, v.to);
        const before = await c.chain.head();
        const total = before && before.number > target ? Number(before.number - target) : 0;
        const unwinding = progress(log, `rollback to ${target}: blocks unwound`, total);
        const cert = await (await rollbackMod()).rollback(c.db, c.chain, c.world, c.genesis, target, { reason: v.reason, incidentId: incident, onProgress: (n) => unwinding.update(Number(before!.number - n)) });
        log.info(`rolled back from block ${before!.number} to ${target}; state root ${toHex(c.world.root)}`);
        console.log(JSON.stringify((await rollbackMod()).certificateToJson(cert), null, 2));
      } finally {
        await c.close();
      }
    },
  },
  audit: {
    summary: 'compare the orphaned branch of an incident rollback with the canonical chain; refund plan',
    usage: `perpnode audit --incident <id> [--fault-tx <hash>]... [--fault-oracle-from <height>]
                [--json report.json] [--data-dir ./data] [--genesis genesis/devnet.json]

For the rollback recorded with this incident id, replays the orphaned blocks twice from the
rollback target: as signed, and without the fault (the listed transactions, and/or every oracle
update from a height on), re-proposing funding and liquidations as a fault-free sequencer would.
Lists every account whose outcome differs; an account liquidated only on the orphaned branch is
harmed, and its refund is max(0, reference collateral - canonical collateral). Prints a table;
--json writes the full report with the refund plan (input of perpnode refund). Read-only.`,
    options: { ...COMMON, incident: { type: 'string' }, 'fault-tx': { type: 'string', multiple: true }, 'fault-oracle-from': { type: 'string' }, json: { type: 'string' } },
    async run(v, log) {
      if (!v.incident) throw new UsageError('--incident is required');
      const incident = parseIncident(v.incident);
      const c = await (await nodeMod()).openChain({ dataDir: resolve(v['data-dir']), genesisPath: resolve(v.genesis), log, mode: 'readonly' });
      try {
        const fault = {
          txs: (v['fault-tx'] ?? []).map((h: string) => parseFelt(h, '--fault-tx')),
          oracleFrom: v['fault-oracle-from'] === undefined ? undefined : BigInt(intOpt(v['fault-oracle-from'], 'fault-oracle-from', 0, Number.MAX_SAFE_INTEGER)),
        };
        const report = await (await auditMod()).audit(c.db, c.chain, c.world, c.genesis, incident, fault);
        console.log((await auditMod()).reportTable(report));
        if (v.json) {
          writeFileSync(resolve(v.json), JSON.stringify((await auditMod()).reportToJson(report), null, 2) + '\n');
          log.info(`report written to ${v.json}`);
        }
      } finally {
        await c.close();
      }
    },
  },
  refund: {
    summary: 'pay a refund plan from the Liquidator Vault (node stopped; admin_refund when running)',
    usage: `perpnode refund --plan <file> [--data-dir ./data] [--genesis genesis/devnet.json]

Executes the refund plan of an audit report (or a plan object {incident_id, entries:[{account,
amount}]}) as REFUND transactions in one sealed block. Each refund is keyed on-chain by
(incident id, account): running the same plan twice pays nothing the second time. Refused
whole if the vault cannot cover what is still unpaid.`,
    options: { ...COMMON, plan: { type: 'string' } },
    async run(v, log) {
      if (!v.plan) throw new UsageError('--plan <file> is required');
      let plan;
      try {
        plan = (await refundMod()).parsePlan(JSON.parse(readFileSync(resolve(v.plan), 'utf8')));
      } catch (e) {
        throw new UsageError(`--plan: ${(e as Error).message}`);
      }
      const c = await (await nodeMod()).openChain({ dataDir: resolve(v['data-dir']), genesisPath: resolve(v.genesis), log, mode: 'existing', signs: true });
      try {
        if (!c.genesis.sequencer.privateKey) throw new Error('only the sequencer can pay refunds (no sequencer key in this genesis)');
        const producer = await (await producerMod()).Producer.create(
          { db: c.db, chain: c.chain, world: c.world, genesis: c.genesis, log, signingKey: c.genesis.sequencer.privateKey },
          { blockTimeMs: c.genesis.blockTimeMs, heartbeatMs: c.genesis.heartbeatMs, maxBlockTransactions: c.genesis.maxBlockTransactions, maxQueue: 1 },
        );
        const r = await (await refundMod()).executeRefunds(producer, c.genesis.exchange, plan);
        for (const s of r.skipped) log.warn(`skipped ${toHex(s.account)}: ${s.reason}`);
        console.log(JSON.stringify({ paid: r.paid.map((p) => ({ account: toHex(p.account), amount: p.amount.toString(), tx_hash: toHex(p.tx) })), total: r.total.toString(), block_number: Number(producer.head.number) }, null, 2));
      } finally {
        await c.close();
      }
    },
  },
  drill: {
    summary: 'run the incident drill on a throwaway devnet (corruption, bad prices, rollback, audit, refunds)',
    usage: `perpnode drill [--accounts 200] [--genesis genesis/devnet.json] [--data-dir <dir>] [--keep]
               [--json result.json] [--log-level info]

Builds a devnet with N accounts (positions, resting orders, TP/SL), checkpoints pre-maintenance,
corrupts a funding index while the node is stopped (the restart must refuse and name it), feeds
bogus but signed oracle prices until healthy accounts are liquidated, rolls back to the
checkpoint, audits and refunds. Each step checks its outcome; exit 0 only if all hold. Without
--data-dir it runs in a temporary directory removed afterwards (unless --keep).`,
    options: { ...COMMON, 'data-dir': { type: 'string' }, accounts: { type: 'string', default: '200' }, keep: { type: 'boolean', default: false }, json: { type: 'string' } },
    async run(v, log) {
      const r = await (await drillMod()).runDrill({ accounts: intOpt(v.accounts, 'accounts', 4, 100_000), genesisPath: resolve(v.genesis), dataDir: v['data-dir'] ? resolve(v['data-dir']) : undefined, keep: v.keep, log });
      const summary = { ...r, audit: { ...r.audit, report: undefined } };
      console.log(JSON.stringify(summary, null, 2));
      if (v.json) writeFileSync(resolve(v.json), JSON.stringify(r, null, 2) + '\n');
    },
  },
};

/** Whether the database still holds the newest block its sequencer signed (chain/signer-record.ts). */
async function signerCheck(c: { chain: import('./chain/store.ts').ChainStore }, dataDir: string): Promise<string | undefined> {
  const { readSignerRecord, signerProblem } = await import('./chain/signer-record.ts');
  const head = await c.chain.head();
  if (!head) return undefined;
  return signerProblem(readSignerRecord(dataDir), head, async (n) => (await c.chain.header(n))?.hash, dataDir);
}

/** The newest height the signer record holds (null: none, or unreadable, which `integrity` names). */
async function signedHeight(dataDir: string): Promise<number | null> {
  try {
    const r = (await import('./chain/signer-record.ts')).readSignerRecord(dataDir);
    return r ? Number(r.height) : null;
  } catch {
    return null;
  }
}

function parseIncident(s: string): bigint {
  try {
    return parseFelt(/^0x/i.test(s) || /^[0-9]+$/.test(s) ? s : toHex(encodeShortString(s)), 'incident');
  } catch (e) {
    throw new UsageError(`--incident: ${(e as Error).message} (a number, 0x-hex, or a short string of at most 31 ASCII characters)`);
  }
}

function checkpointView(c: Checkpoint) {
  return { height: Number(c.height), label: c.label, time: c.time, block_hash: toHex(c.block_hash), state_root: toHex(c.state_root) };
}

/** `start --role follower`: runs until SIGINT/SIGTERM, then stops p2p and closes the database. */
async function runFollower(v: Record<string, any>, p2p: { host: string; port: number; bootstrap: string[] }, log: Logger): Promise<number> {
  const node = await (await nodeMod()).startFollower({
    dataDir: resolve(v['data-dir']),
    genesisPath: resolve(v.genesis),
    rpcHost: v['rpc-host'],
    rpcPort: intOpt(v['rpc-port'], 'rpc-port', 0, 65535),
    adminPort: v['admin-port'] === 'off' ? null : intOpt(v['admin-port'], 'admin-port', 0, 65535),
    p2p,
    sequencerRpc: v['sequencer-rpc'],
    stateCacheEntries: stateCacheOpt(v),
    log,
  });
  return runUntilSignal(node, log, 'stopping p2p and closing the database');
}

/** Waits for SIGINT or SIGTERM, then stops the node; 0 when it stopped cleanly. */
/** Runs until SIGINT/SIGTERM; `failed` rejecting (a start-up check that failed: the node stopped itself) ends it with that error. */
function runUntilSignal(node: { stop(): Promise<void> }, log: Logger, what: string, failed?: Promise<void>): Promise<number> {
  return new Promise((done, fail) => {
    failed?.catch(fail);
    let stopping = false;
    const onSignal = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${sig}: ${what}`);
      node.stop().then(
        () => done(0),
        (e) => {
          log.error(`shutdown failed: ${(e as Error).message}`);
          done(1);
        },
      );
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });
}

function printDevAccounts(g: Genesis, log: Logger): void {
  const lines = g.exchange.devAccounts
    .filter((a) => a.privateKey !== undefined)
    .map((a, i) => `  #${i} address ${toHex(a.address)}  private key ${toHex(a.privateKey!)}  collateral ${formatUnits(BigInt(a.balance), 6)} USDC (${a.balance} base units)`);
  if (lines.length) log.info(`devnet accounts (DEVNET ONLY: these private keys are public):\n${lines.join('\n')}`);
}

function help(): string {
  const rows = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(12)} ${c.summary}`);
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
  if (name === 'wallet') return (await walletMod()).walletMain(argv.slice(1));
  let values: Record<string, any>;
  try {
    const parsed = parseArgs({ args: argv.slice(1), options: cmd.options, allowPositionals: name === 'keys', strict: true });
    values = { ...parsed.values, _positionals: parsed.positionals };
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
  const format = values['log-format'] ?? 'text';
  if (!isLogFormat(format)) {
    console.error('--log-format must be text or json');
    return 2;
  }
  const log = createLogger(level, 'node', undefined, format);
  if (typeof values.genesis === 'string' && !existsSync(resolve(values.genesis))) {
    console.error(`--genesis ${values.genesis}: no such file\n\nusage: ${cmd.usage}`);
    return 2;
  }
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
