/**
 * The devnet's built-in oracle feeder: signs ORACLE_UPDATE transactions with the devnet oracle
 * key, so marks move and funding, triggers and liquidations work out of the box. Prices follow
 * a seeded random walk (±0.2% a step by default, so the same seed gives the same prices) or are
 * replayed from a JSON file: [{ "t": 0, "prices": { "BTC-USD-PERP": "65000.5" } }, ...] with t in
 * seconds from the start. Outside devnet the feeder is an external process that submits signed
 * updates over RPC; this one runs only when the genesis holds an oracle private key.
 *
 * The exchange accepts at most one price update per market per block and takes the mark as the
 * median of the oracles' latest fresh reports (oracle_quorum): given several keys, the feeder
 * signs each tick with the next key in turn; an update refused because the open block already
 * moved a price (ORACLE_TOO_FREQUENT) is simply dropped, the next tick posts a newer one.
 */
import { readFileSync } from 'node:fs';
import { oracleUpdateHash, type OracleUpdateTx } from '../../contracts-ts/index.ts';
import type { ExchangeConfig } from '../../contracts-ts/config.ts';
import { markPriceOf } from '../../contracts-ts/exchange/ledger.ts';
import { sign } from '../crypto/index.ts';
import type { Logger } from '../log.ts';
import type { ExchangeService } from './exchange.ts';

export type FeederSource = { kind: 'walk'; seed: bigint; stepBps: bigint } | { kind: 'file'; path: string };

/** xorshift64*: a seeded generator for the devnet price walk (never used by state transitions). */
export function prng(seed: bigint): () => bigint {
  let x = seed & 0xffffffffffffffffn || 0x9e3779b97f4a7c15n;
  return () => {
    x ^= x >> 12n;
    x ^= (x << 25n) & 0xffffffffffffffffn;
    x ^= x >> 27n;
    return (x * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn;
  };
}

/** Parses a replay file; prices are decimal strings in whole USD. */
export function loadReplay(path: string): { t: number; prices: Record<string, bigint> }[] {
  const j = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(j)) throw new Error(`${path}: a replay file is a JSON array`);
  return j.map((e: any, i: number) => {
    if (!e || typeof e.t !== 'number' || !Number.isInteger(e.t) || e.t < 0 || typeof e.prices !== 'object') throw new Error(`${path}[${i}]: needs {t: seconds, prices: {market: "price"}}`);
    const prices: Record<string, bigint> = {};
    for (const [m, p] of Object.entries(e.prices)) {
      if (typeof p !== 'string' || !/^[0-9]+(\.[0-9]{1,8})?$/.test(p)) throw new Error(`${path}[${i}].prices.${m}: a decimal string`);
      const [w, f = ''] = p.split('.');
      prices[m] = BigInt(w!) * 10n ** 8n + BigInt(f.padEnd(8, '0'));
    }
    return { t: e.t, prices };
  });
}

export class OracleFeeder {
  private timer: NodeJS.Timeout | null = null;
  private rand: () => bigint = () => 0n;
  private replay: { t: number; prices: Record<string, bigint> }[] = [];
  private startedAt = 0;
  private lastTs = 0n;
  private readonly keys: { publicKey: bigint; privateKey: bigint }[];
  private turn = 0;

  constructor(
    private readonly exchange: ExchangeService,
    private readonly cfg: ExchangeConfig,
    key: { publicKey: bigint; privateKey: bigint } | { publicKey: bigint; privateKey: bigint }[],
    private readonly chainId: bigint,
    private readonly source: FeederSource,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {
    this.keys = Array.isArray(key) ? key : [key];
    if (this.keys.length === 0) throw new Error('the oracle feeder needs at least one oracle key');
    if (source.kind === 'walk') this.rand = prng(source.seed);
    else this.replay = loadReplay(source.path);
  }

  /** Starts the replay clock without the timer: prices then come only from `step()` calls (--block-time-ms 0). */
  prepare(): void {
    this.startedAt = Date.now();
  }

  start(): void {
    this.prepare();
    const tick = async () => {
      try {
        await this.step();
      } catch (e) {
        this.log.debug(`oracle update not applied: ${(e as Error).message}`);
      }
      if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
    };
    this.timer = setTimeout(tick, this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The next prices: a walk step from the current marks, or the replay entry due now. */
  nextPrices(): { market: string; price: bigint }[] {
    const st = this.exchange.readState();
    if (this.source.kind === 'walk') {
      const step = this.source.stepBps;
      return this.cfg.markets.map((m) => {
        const mark = markPriceOf(st, this.cfg, m) || m.initialPrice;
        const r = this.rand() % (2n * step + 1n); // 0..2·step
        let price = mark + (mark * (r - step)) / 10_000n;
        price -= price % m.tickSize;
        return { market: m.symbol, price: price > m.tickSize ? price : m.tickSize };
      });
    }
    const elapsed = (Date.now() - this.startedAt) / 1000;
    let due: Record<string, bigint> | undefined;
    for (const e of this.replay) if (e.t <= elapsed) due = e.prices;
    return due ? Object.entries(due).map(([market, price]) => ({ market, price })) : [];
  }

  /** Posts the next prices; returns them, or [] when none is due or one was posted this second. */
  async step(): Promise<{ market: string; price: bigint }[]> {
    const prices = this.nextPrices();
    if (!prices.length) return [];
    const ts = BigInt(Math.floor(Date.now() / 1000));
    if (ts <= this.lastTs) return []; // oracle timestamps must increase: at most one update a second
    this.lastTs = ts;
    const key = this.keys[this.turn++ % this.keys.length]!;
    const msgHash = oracleUpdateHash({ timestamp: ts, prices }, key.publicKey, this.chainId);
    const sig = sign(msgHash, key.privateKey);
    const tx: OracleUpdateTx = { type: 'ORACLE_UPDATE', signer: key.publicKey, timestamp: ts, prices, signature: [sig.r, sig.s] };
    await this.exchange.oracleUpdate(tx);
    return prices;
  }
}
