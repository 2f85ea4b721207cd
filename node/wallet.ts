/**
 * `perpnode wallet …`: a terminal wallet over the perpnode/client SDK. Keys stay local; every
 * message is signed in this process and only the signature goes to the node.
 * Output is JSON on stdout; errors go to stderr with exit code 1 (2 for usage errors).
 */
import { parseArgs } from 'node:util';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { getStarkKey, randomPrivateKey, toHex } from './crypto/index.ts';
import { accountAddress } from '../contracts-ts/index.ts';
import { createSigner, formatUnits, PerpClient, PerpRpcError, type OrderInput, type Signer } from './client/index.ts';

export const WALLET_USAGE = `perpnode wallet <command> [options]

Commands:
  new      [--out key.json]                        make a new key; prints address and keys
  deploy   --key K                                 deploy the key's account on the chain
  mint     --key K | --address A  --amount USDC    devnet only: credit test collateral
  order    --key K --market M --side BUY|SELL --size S [--price P] [--type LIMIT]
           [--tif GTC|IOC|FOK|POST_ONLY] [--trigger P] [--reduce-only] [--expiry-s 604800]
  cancel   --key K (--order HASH | --all [--market M])
  balance  --key K | --address A                   collateral, positions, margin, open orders
  withdraw --key K --amount USDC --recipient L1_ADDRESS
  transfer --key K --amount USDC --to ADDRESS

Common options:
  --rpc URL      the node's JSON-RPC (default http://127.0.0.1:5050, or $PERPNODE_RPC)
  --key K        a private key as 0x-hex, or a file holding one (or a JSON {"private_key": ...});
                 default $PERPNODE_KEY
  --wait         wait until the transaction is in a sealed block

Amounts are decimals in human units: --size 0.01 (BTC), --price 65000.5 (USD), --amount 100 (USDC).

Example (devnet):
  perpnode wallet new --out alice.json
  perpnode wallet deploy --key alice.json --wait
  perpnode wallet mint --key alice.json --amount 1000
  perpnode wallet order --key alice.json --market BTC-USD-PERP --side BUY --size 0.01 --price 65000
  perpnode wallet balance --key alice.json`;

export class WalletUsageError extends Error {}

const OPTIONS = {
  rpc: { type: 'string' },
  key: { type: 'string' },
  address: { type: 'string' },
  out: { type: 'string' },
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
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** A private key from --key: hex, or a file with hex or {"private_key": ...}. */
export function loadKey(spec: string | undefined): bigint {
  const v = spec ?? process.env.PERPNODE_KEY;
  if (!v) throw new WalletUsageError('--key is required (a 0x-hex private key or a key file)');
  let text = v.trim();
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(text)) {
    if (!existsSync(text)) throw new WalletUsageError(`--key: not a 0x-hex key and no such file: ${text}`);
    text = readFileSync(text, 'utf8').trim();
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

function upper<T extends string>(v: string | undefined, allowed: readonly T[], name: string, dflt?: T): T {
  if (v === undefined) {
    if (dflt === undefined) throw new WalletUsageError(`--${name} is required (${allowed.join('|')})`);
    return dflt;
  }
  const u = v.toUpperCase() as T;
  if (!allowed.includes(u)) throw new WalletUsageError(`--${name} must be one of ${allowed.join(', ')}`);
  return u;
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
  const who = (): bigint => (v.address ? BigInt(v.address) : signer().address);
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
        if (v.out) {
          if (existsSync(v.out)) throw new WalletUsageError(`--out: ${v.out} exists; refusing to overwrite a key file`);
          writeFileSync(v.out, JSON.stringify(out, null, 2) + '\n', { mode: 0o600 });
          print({ public_key: out.public_key, address: out.address, key_file: v.out });
        } else print(out);
        return 0;
      }
      case 'deploy':
        await done(await client.deployAccount(signer()));
        return 0;
      case 'mint':
        await done(await client.devnetMint(who(), need(v.amount, 'amount')));
        return 0;
      case 'order': {
        const s = signer();
        const input: OrderInput = {
          market: need(v.market, 'market'),
          side: upper(v.side, ['BUY', 'SELL'] as const, 'side'),
          size: need(v.size, 'size'),
          price: v.price,
          orderType: upper(v.type, ['LIMIT', 'MARKET', 'STOP_MARKET', 'STOP_LIMIT', 'TAKE_PROFIT_MARKET', 'TAKE_PROFIT_LIMIT'] as const, 'type', 'LIMIT'),
          timeInForce: v.tif === undefined ? undefined : upper(v.tif, ['GTC', 'IOC', 'FOK', 'POST_ONLY'] as const, 'tif'),
          triggerPrice: v.trigger,
          reduceOnly: v['reduce-only'],
          expiry: v['expiry-s'] === undefined ? undefined : BigInt(Math.floor(Date.now() / 1000) + Number(v['expiry-s'])),
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
        else await done(await client.cancelOrder(s, need(v.order, 'order')));
        return 0;
      }
      case 'balance': {
        const a = await client.getAccount(who());
        const orders = await client.getOrders(who()).catch(() => []);
        print({
          address: a.address,
          deployed: a.deployed,
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
      case 'withdraw':
        await done(await client.withdraw(signer(), need(v.amount, 'amount'), need(v.recipient, 'recipient')));
        return 0;
      case 'transfer':
        await done(await client.transfer(signer(), need(v.to, 'to'), need(v.amount, 'amount')));
        return 0;
      default:
        throw new WalletUsageError(`unknown wallet command "${sub}"`);
    }
  } catch (e) {
    if (e instanceof WalletUsageError) {
      console.error(`${e.message}\n\n${WALLET_USAGE}`);
      return 2;
    }
    if (e instanceof PerpRpcError) console.error(`perpnode wallet ${sub}: ${e.message}`);
    else if ((e as Error)?.name === 'TypeError' && /fetch failed/.test((e as Error).message)) console.error(`perpnode wallet ${sub}: cannot reach the node at ${client.rpc.url} (is it running? see --rpc)`);
    else console.error(`perpnode wallet ${sub}: ${(e as Error)?.message ?? e}`);
    return 1;
  }
}
