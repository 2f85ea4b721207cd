/**
 * `perpnode wallet …`: a terminal wallet over the perpnode/client SDK. Keys stay local; every
 * message is signed in this process and only the signature goes to the node.
 * Output is JSON on stdout; errors go to stderr with exit code 1 (2 for usage errors).
 */
import { parseArgs } from 'node:util';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { getStarkKey, randomPrivateKey, toHex } from './crypto/index.ts';
import { accountAddress } from '../contracts-ts/index.ts';
import { createSigner, formatUnits, PerpClient, PerpRpcError, type ContractCall, type OrderInput, type Signer } from './client/index.ts';

export const WALLET_USAGE = `perpnode wallet <command> [options]

Commands:
  new      [--name N | --out FILE]                 make a new key file (default in ~/.perpnode/keys)
  deploy   --key K                                 deploy the key's account on the chain
  mint     --key K | --address A  --amount USDC    devnet only: credit test collateral
  order    --key K --market M --side BUY|SELL --size S [--price P] [--type LIMIT]
           [--tif GTC|IOC|FOK|POST_ONLY] [--trigger P] [--reduce-only] [--expiry-s 604800]
  cancel   --key K (--order HASH | --all [--market M])
  balance  --key K | --address A                   collateral, positions, margin, open orders
  withdraw --key K --amount USDC --recipient L1_ADDRESS
  transfer --key K --amount USDC --to ADDRESS
  call     --contract C --function F [--calldata X,Y] [--block latest|pre_confirmed|N]
                                                   a view through starknet_call (result felts)
  invoke   --key K --contract C --function F [--calldata X,Y]
                                                   one call through the account (an INVOKE v3)
           C: exchange, vault or a contract address; X,Y: felts (decimal or 0x-hex)

Common options:
  --rpc URL      the node's JSON-RPC (default http://127.0.0.1:5050, or $PERPNODE_RPC)
  --key K        a key name (a file in the keys directory), a key file, or a 0x-hex private key;
                 default $PERPNODE_KEY
  --wait         wait until the transaction is in a sealed block

Key files live in ~/.perpnode/keys (directory mode 0700, files 0600; $PERPNODE_KEYS_DIR moves
it), outside any repository: \`wallet new --name alice\` writes ~/.perpnode/keys/alice.json and
\`--key alice\` finds it. Without --name the file is named after the address.

Amounts are decimals in human units: --size 0.01 (BTC), --price 65000.5 (USD), --amount 100 (USDC).

Example (devnet):
  perpnode wallet new --name alice
  perpnode wallet deploy --key alice --wait
  perpnode wallet mint --key alice --amount 1000
  perpnode wallet order --key alice --market BTC-USD-PERP --side BUY --size 0.01 --price 65000
  perpnode wallet balance --key alice`;

export class WalletUsageError extends Error {}

const OPTIONS = {
  rpc: { type: 'string' },
  key: { type: 'string' },
  address: { type: 'string' },
  out: { type: 'string' },
  name: { type: 'string' },
  amount: { type: 'string' },
  market: { type: 'string' },
  side: { type: 'string' },
  size: { type: 'string' },
  price: { type: 'string' },
  type: { type: 'string' },
  tif: { type: 'string' },
  trigger: { type: 'string' },
  'reduce-only': { type: 'boolean', default: false },
  'expiry-s': { type: 'string' },
  order: { type: 'string' },
  all: { type: 'boolean', default: false },
  recipient: { type: 'string' },
  to: { type: 'string' },
  wait: { type: 'boolean', default: false },
  contract: { type: 'string' },
  function: { type: 'string' },
  calldata: { type: 'string' },
  block: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Where key files go by default: per user, outside any repository. */
export function keysDir(): string {
  return process.env.PERPNODE_KEYS_DIR ?? join(homedir(), '.perpnode', 'keys');
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** The key file a --key name means: an existing path, else <keys dir>/<name>[.json]. */
function keyFile(spec: string): string | undefined {
  if (existsSync(spec)) return spec;
  if (!NAME.test(spec)) return undefined;
  for (const f of [join(keysDir(), spec), join(keysDir(), `${spec}.json`)]) if (existsSync(f)) return f;
  return undefined;
}

/** Writes a new key file (0600) in a directory made 0700 if it is the keys directory. */
function writeKeyFile(path: string, body: string): void {
  const dir = dirname(path);
  if (dir === keysDir() && !existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
  writeFileSync(path, body, { mode: 0o600, flag: 'wx' });
}

/** A private key from --key: a key name, a file with hex or {"private_key": ...}, or hex. */
export function loadKey(spec: string | undefined): bigint {
  const v = spec ?? process.env.PERPNODE_KEY;
  if (!v) throw new WalletUsageError('--key is required (a key name, a key file, or a 0x-hex private key)');
  let text = v.trim();
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(text)) {
    const file = keyFile(text);
    if (!file) throw new WalletUsageError(`--key ${text}: not a 0x-hex key, no such file, and no key of that name in ${keysDir()} (make one with \`perpnode wallet new --name ${NAME.test(text) ? text.replace(/\.json$/, '') : 'alice'}\`)`);
    text = readFileSync(file, 'utf8').trim();
    if (text.startsWith('{')) {
      try {
        text = String(JSON.parse(text).private_key ?? '');
      } catch {
        throw new WalletUsageError('--key: the key file is not valid JSON');
      }
    }
  }
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(text)) throw new WalletUsageError('--key: expected a 0x-hex private key');
  const k = BigInt(text);
  try {
    getStarkKey(k);
  } catch (e) {
    throw new WalletUsageError(`--key: ${(e as Error).message}`);
  }
  return k;
}

function need(v: string | undefined, name: string): string {
  if (v === undefined || v === '') throw new WalletUsageError(`--${name} is required`);
  return v;
}

/** A positive decimal flag ("0.01", "65000.5") with at most `decimals` digits after the point. */
function decimal(v: string | undefined, name: string, decimals: number, required = true): string | undefined {
  if (v === undefined && !required) return undefined;
  const x = need(v, name);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(x) || !/[1-9]/.test(x)) throw new WalletUsageError(`--${name} ${x}: expected a positive decimal number such as 0.01 or 65000.5`);
  const frac = x.split('.')[1] ?? '';
  if (frac.length > decimals) throw new WalletUsageError(`--${name} ${x}: at most ${decimals} digits after the decimal point`);
  return x;
}

/** A 0x-hex felt flag (addresses, order hashes). */
function hexFlag(v: string | undefined, name: string, what: string): string {
  const x = need(v, name);
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(x) || BigInt(x) >= 1n << 251n) throw new WalletUsageError(`--${name} ${x}: expected ${what} as 0x-hex (below 2^251)`);
  return x;
}

function intFlag(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) throw new WalletUsageError(`--${name} ${v}: expected a whole number from ${min} to ${max}`);
  return n;
}

/** An amount in base units and in USDC, side by side. */
function usdc(base: string | bigint) {
  return { amount: String(base), amount_usdc: formatUnits(String(base), 6) };
}

function upper<T extends string>(v: string | undefined, allowed: readonly T[], name: string, dflt?: T): T {
  if (v === undefined) {
    if (dflt === undefined) throw new WalletUsageError(`--${name} is required (${allowed.join('|')})`);
    return dflt;
  }
  const u = v.toUpperCase() as T;
  if (!allowed.includes(u)) throw new WalletUsageError(`--${name} must be one of ${allowed.join(', ')}`);
  return u;
}

function contractArg(v: string): ContractCall['contract'] {
  if (v === 'exchange' || v === 'vault') return v;
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(v)) throw new WalletUsageError('--contract must be exchange, vault or a 0x-hex address');
  return v;
}

function feltList(v: string | undefined): bigint[] {
  if (v === undefined || v === '') return [];
  return v.split(',').map((x) => {
    const t = x.trim();
    if (!/^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$/.test(t)) throw new WalletUsageError(`--calldata: "${t}" is not a felt (decimal or 0x-hex)`);
    return BigInt(t);
  });
}

function blockArg(v: string | undefined): unknown {
  if (v === undefined) return 'pre_confirmed';
  if (v === 'latest' || v === 'pre_confirmed' || v === 'l1_accepted') return v;
  if (/^[0-9]{1,15}$/.test(v)) return { block_number: Number(v) };
  if (/^0x[0-9a-fA-F]{1,64}$/.test(v)) return { block_hash: v };
  throw new WalletUsageError('--block must be latest, pre_confirmed, a block number or a block hash');
}

const print = (x: unknown) => console.log(JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2));

/** Runs `perpnode wallet <argv…>`; returns the exit code. */
export async function walletMain(argv: string[]): Promise<number> {
  const sub = argv[0];
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(WALLET_USAGE);
    return sub ? 0 : 2;
  }
  let v: Record<string, any>;
  try {
    v = parseArgs({ args: argv.slice(1), options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${WALLET_USAGE}`);
    return 2;
  }
  if (v.help) {
    console.log(WALLET_USAGE);
    return 0;
  }
  const client = new PerpClient(v.rpc ?? process.env.PERPNODE_RPC ?? 'http://127.0.0.1:5050');
  const signer = (): Signer => createSigner(loadKey(v.key));
  const who = (): bigint => (v.address !== undefined ? BigInt(hexFlag(v.address, 'address', 'an account address')) : signer().address);
  const done = async (r: { transaction_hash?: string } & Record<string, unknown>) => {
    if (v.wait && r.transaction_hash) {
      const receipt = await client.waitForTransaction(r.transaction_hash);
      print({ ...r, finality_status: receipt.finality_status, block_number: receipt.block_number });
    } else print(r);
  };
  try {
    switch (sub) {
      case 'new': {
        const priv = randomPrivateKey();
        const pub = getStarkKey(priv);
        const out = { private_key: toHex(priv), public_key: toHex(pub), address: toHex(accountAddress(pub)) };
        if (v.out !== undefined && v.name !== undefined) throw new WalletUsageError('--out and --name: pass one of them');
        if (v.name !== undefined && !NAME.test(v.name)) throw new WalletUsageError(`--name ${v.name}: 1-64 letters, digits, ".", "_" or "-"`);
        const file = v.out ?? join(keysDir(), `${v.name ?? `key-${out.address.slice(2, 12)}`}${v.name?.endsWith('.json') ? '' : '.json'}`);
        if (existsSync(file)) throw new WalletUsageError(`${v.out !== undefined ? '--out' : '--name'}: ${file} exists; refusing to overwrite a key file`);
        writeKeyFile(file, JSON.stringify(out, null, 2) + '\n');
        print({ public_key: out.public_key, address: out.address, key_file: file, next: `perpnode wallet deploy --key ${v.out ?? file} --wait` });
        return 0;
      }
      case 'deploy': {
        const s = signer();
        const before = await client.getAccount(s.address);
        if (before.deployed) {
          console.error(`perpnode wallet deploy: ACCOUNT_EXISTS: the account ${toHex(s.address)} is already deployed; nothing to do (perpnode wallet balance --key … shows it)`);
          return 1;
        }
        await done(await client.deployAccount(s));
        return 0;
      }
      case 'mint': {
        const to = who();
        const amount = decimal(v.amount, 'amount', 6)!;
        const acct = await client.getAccount(to);
        if (!acct.deployed) {
          console.error(`perpnode wallet mint: no account is deployed at ${toHex(to)}: deploy it first with \`perpnode wallet deploy --key <its key> --wait\`, then mint`);
          return 1;
        }
        const r = await client.devnetMint(to, amount);
        await done({ ...r, ...usdc(r.amount) });
        return 0;
      }
      case 'order': {
        const s = signer();
        const input: OrderInput = {
          market: need(v.market, 'market'),
          side: upper(v.side, ['BUY', 'SELL'] as const, 'side'),
          size: decimal(v.size, 'size', 8)!,
          price: decimal(v.price, 'price', 8, false),
          orderType: upper(v.type, ['LIMIT', 'MARKET', 'STOP_MARKET', 'STOP_LIMIT', 'TAKE_PROFIT_MARKET', 'TAKE_PROFIT_LIMIT'] as const, 'type', 'LIMIT'),
          timeInForce: v.tif === undefined ? undefined : upper(v.tif, ['GTC', 'IOC', 'FOK', 'POST_ONLY'] as const, 'tif'),
          triggerPrice: decimal(v.trigger, 'trigger', 8, false),
          reduceOnly: v['reduce-only'],
          expiry: v['expiry-s'] === undefined ? undefined : BigInt(Math.floor(Date.now() / 1000) + intFlag(v['expiry-s'], 'expiry-s', 1, 10 * 365 * 86400)),
        };
        if (input.orderType === 'LIMIT' && input.price === undefined) throw new WalletUsageError('--price is required for a LIMIT order');
        const r = await client.submitOrder(s, input);
        print(r);
        if (v.wait) for (const f of r.fills ?? []) await client.waitForTransaction(f.transaction_hash);
        return 0;
      }
      case 'cancel': {
        const s = signer();
        if (v.all) await done(await client.cancelAll(s, v.market ?? 'ALL'));
        else await done(await client.cancelOrder(s, hexFlag(v.order, 'order', 'an order hash')));
        return 0;
      }
      case 'balance': {
        const a = await client.getAccount(who());
        const orders = await client.getOrders(who()).catch(() => []);
        print({
          address: a.address,
          deployed: a.deployed,
          collateral: String(a.collateral),
          collateral_usdc: formatUnits(a.collateral, 6),
          equity_usdc: formatUnits(a.equity, 6),
          withdrawable_usdc: formatUnits(a.withdrawable, 6),
          unrealized_pnl_usdc: formatUnits(a.unrealized_pnl, 6),
          margin_ratio: a.margin_ratio === null ? null : formatUnits(a.margin_ratio, 9),
          positions: a.positions.map((p: any) => ({
            market: p.market,
            side: p.side,
            size: formatUnits(p.size, 8),
            entry_price: formatUnits(p.entry_price, 8),
            mark_price: formatUnits(p.mark_price, 8),
            unrealized_pnl_usdc: formatUnits(p.unrealized_pnl, 6),
            liquidation_price: p.liquidation_price === null ? null : formatUnits(p.liquidation_price, 8),
          })),
          open_orders: orders.filter((o: any) => ['OPEN', 'PARTIALLY_FILLED', 'UNTRIGGERED'].includes(o.status)).map((o: any) => ({ order_hash: o.order_hash, market: o.order.market, side: o.order.side, size: formatUnits(o.order.size, 8), price: formatUnits(o.order.price, 8), status: o.status })),
        });
        return 0;
      }
      case 'withdraw': {
        const amount = decimal(v.amount, 'amount', 6)!;
        const recipient = hexFlag(v.recipient, 'recipient', 'an L1 address');
        await done({ ...(await client.withdraw(signer(), amount, recipient)), amount_usdc: amount });
        return 0;
      }
      case 'transfer': {
        const amount = decimal(v.amount, 'amount', 6)!;
        const to = hexFlag(v.to, 'to', 'an account address');
        await done({ ...(await client.transfer(signer(), to, amount)), amount_usdc: amount });
        return 0;
      }
      case 'call':
      case 'invoke': {
        const call: ContractCall = { contract: contractArg(need(v.contract, 'contract')), entrypoint: need(v.function, 'function'), calldata: feltList(v.calldata) };
        if (sub === 'invoke') await done(await client.invoke(signer(), [call]));
        else print({ result: (await client.callContract(call, blockArg(v.block))).map(toHex) });
        return 0;
      }
      default:
        throw new WalletUsageError(`unknown wallet command "${sub}"`);
    }
  } catch (e) {
    if (e instanceof WalletUsageError) {
      console.error(`${e.message}\n\n${WALLET_USAGE}`);
      return 2;
    }
    if (e instanceof PerpRpcError && sub === 'deploy' && e.reason === 'DUPLICATE_TX') console.error(`perpnode wallet deploy: ACCOUNT_EXISTS: this key's account deployment is already pending or done; nothing to do`);
    else if (e instanceof PerpRpcError) console.error(`perpnode wallet ${sub}: ${e.message}`);
    else if ((e as Error)?.name === 'TypeError' && /fetch failed/.test((e as Error).message)) console.error(`perpnode wallet ${sub}: cannot reach the node at ${client.rpc.url} (is it running? see --rpc)`);
    else console.error(`perpnode wallet ${sub}: ${(e as Error)?.message ?? e}`);
    return 1;
  }
}
