/**
 * The genesis accounts file (`accounts_file` in a genesis, docs/genesis.md): one JSON object per
 * line, `{"public_key": "0x…", "balance": "10000"}` (optional `"address"`, checked against the
 * key when block 0 is built). Read as a stream, in batches: memory holds one batch, never the
 * whole file. Every error names the file and the line.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { parseDecimal, U128_MAX } from '../../contracts-ts/math.ts';
import { parseFelt } from '../crypto/index.ts';

export interface GenesisAccount {
  /** 1-based line of the accounts file. */
  line: number;
  publicKey: bigint;
  /** USDC base units (6 decimals). */
  balance: bigint;
  /** As written (optional); block 0's builder checks it is the key's account address. */
  address?: bigint;
}

export class AccountsFileError extends Error {
  constructor(
    readonly path: string,
    readonly line: number | undefined,
    message: string,
  ) {
    super(`genesis: accounts file ${path}${line === undefined ? '' : ` line ${line}`}: ${message}`);
    this.name = 'GenesisError';
  }
}

const KEYS = new Set(['public_key', 'balance', 'address']);

/** One line of the file to an account (throws AccountsFileError naming the line). */
export function parseAccountLine(path: string, line: number, text: string): GenesisAccount {
  const bad = (m: string) => new AccountsFileError(path, line, m);
  if (text.trim() === '') throw bad('empty line (one JSON object per line, no blank lines)');
  let o: any;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw bad(`not valid JSON (${(e as Error).message}); the file is corrupted or truncated`);
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw bad('must be a JSON object {"public_key": "0x…", "balance": "…"}');
  for (const k of Object.keys(o)) if (!KEYS.has(k)) throw bad(`unknown key "${k}" (allowed: public_key, balance, address)`);
  if (o.public_key === undefined) throw bad('missing "public_key"');
  if (o.balance === undefined) throw bad('missing "balance"');
  let publicKey: bigint;
  let address: bigint | undefined;
  let balance: bigint;
  try {
    publicKey = parseFelt(o.public_key, 'public_key');
    if (o.address !== undefined) address = parseFelt(o.address, 'address');
    balance = parseDecimal(o.balance, 6, 'balance');
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (publicKey === 0n || publicKey >= 2n ** 251n) throw bad('public_key is not a stark key (nonzero, below 2^251)');
  if (balance > U128_MAX) throw bad('balance is too large');
  return address === undefined ? { line, publicKey, balance } : { line, publicKey, balance, address };
}

/**
 * The accounts of the file in batches of `batchSize`, in file order. Every line must end with a
 * newline: a last line without one is a truncated file. `count`, when given (the genesis'
 * `accounts_count`), must equal the number of accounts (a file cut at a line boundary).
 */
export async function* readAccountsFile(path: string, batchSize: number, count?: number): AsyncGenerator<GenesisAccount[]> {
  let stream;
  try {
    stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  } catch (e) {
    throw new AccountsFileError(path, undefined, `cannot read: ${(e as Error).message}`);
  }
  let rest = '';
  let line = 0;
  let batch: GenesisAccount[] = [];
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = rest + chunk;
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl < 0) break;
        line++;
        const l = text.charCodeAt(nl - 1) === 13 ? text.slice(start, nl - 1) : text.slice(start, nl);
        batch.push(parseAccountLine(path, line, l));
        start = nl + 1;
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
      rest = text.slice(start);
    }
  } catch (e) {
    if (e instanceof AccountsFileError) throw e;
    throw new AccountsFileError(path, undefined, `cannot read: ${(e as Error).message}`);
  }
  if (rest.length > 0) {
    // Name the problem the way it most likely happened: a cut-off last line.
    try {
      parseAccountLine(path, line + 1, rest);
    } catch (e) {
      throw new AccountsFileError(path, line + 1, `${(e as Error).message.replace(/^.*line \d+: /, '')} (the line has no end of line: the file is truncated)`);
    }
    throw new AccountsFileError(path, line + 1, 'the last line has no end of line: the file is truncated (every line, the last included, ends with \\n)');
  }
  if (line === 0) throw new AccountsFileError(path, undefined, 'holds no accounts');
  if (count !== undefined && count !== line) throw new AccountsFileError(path, undefined, `holds ${line} accounts but the genesis says accounts_count ${count}: the file is truncated or not the one the genesis was written for`);
  if (batch.length) yield batch;
}

/** SHA-256 of a file, streamed (hex). */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  } catch (e) {
    throw new AccountsFileError(path, undefined, `cannot read: ${(e as Error).message}`);
  }
  return h.digest('hex');
}
