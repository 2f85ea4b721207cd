/**
 * `npx tsx bench/liquidation-scan.ts [--holders N] [--blocks B] [--seed K]`
 *
 * What one seal's liquidation check costs with N position holders: the full scan over every
 * holder (`findLiquidations` over the on-chain holder lists) against the liquidation index
 * (`node/sequencer/liquidation-index.ts`: candidates, then `findLiquidations` over them only).
 * N accounts get random long or short positions at 2-9x leverage (a tenth of them in both
 * markets: cross margin) in a MemoryState; then B "blocks" each move the BTC mark by a random
 * -3..+3 % and advance funding, and both ways are asked what to liquidate. Reports Poseidon
 * permutations (counted, load-independent), accounts checked and milliseconds per block, and
 * checks that both propose the same transactions.
 */

import { findLiquidations, MemoryState, parseExchangeGenesis, applyGenesis, type ExecContext } from '../contracts-ts/index.ts';
import { applyFill, mSet } from '../contracts-ts/exchange/ledger.ts';
import { addCollateral } from '../contracts-ts/exchange/ledger.ts';
import { MKT } from '../contracts-ts/layout.ts';
import { LiquidationIndex } from '../node/sequencer/liquidation-index.ts';
import { useCounting } from './lib/counting.ts';
import { readFileSync } from 'node:fs';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function main(): Promise<void> {
  const holders = arg('--holders', 100_000);
  const blocks = arg('--blocks', 20);
  let seed = BigInt(arg('--seed', 1));
  const rnd = (n: bigint) => {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    return (seed >> 16n) % n;
  };
  const counting = await useCounting('auto'); // native when the addon loads, counted
  const dev = JSON.parse(readFileSync(new URL('../genesis/devnet.json', import.meta.url), 'utf8'));
  delete dev.exchange.dev_accounts;
  dev.exchange.vault_initial_balance = '1000000000';
  for (const m of dev.exchange.markets) m.open_interest_cap = '100000000000';
  const cfg = parseExchangeGenesis(dev.exchange);
  const st = new MemoryState();
  const ctx: ExecContext = { block: { blockNumber: 1n, timestamp: 1_767_225_600n, chainId: 1n, sequencerAddress: 0n }, verify: () => true };
  applyGenesis(st, cfg, ctx);
  const [btc, eth] = cfg.markets;
  const t0 = performance.now();
  // Positions written through the ledger (holder lists, open interest, costs) against the vault.
  for (let i = 0; i < holders; i++) {
    const a = 0x1000000n + BigInt(i);
    const collateral = 1_000n * 10n ** 6n + rnd(9_000n) * 10n ** 6n;
    addCollateral(st, cfg, a, collateral);
    const inMarket = (m: typeof btc, share: bigint) => {
      const lev = 2n + rnd(8n); // 2-9x (the initial margin allows 10x)
      const notional = (collateral * lev * share) / 100n; // USDC base units
      const size = ((notional * 10n ** 10n) / m!.initialPrice / m!.stepSize) * m!.stepSize;
      if (size === 0n) return;
      const long = rnd(2n) === 0n;
      const cash = (size * m!.initialPrice) / 10n ** 10n;
      applyFill(st, cfg, a, m!, long ? size : -size, cash);
      applyFill(st, cfg, cfg.vaultAddress, m!, long ? -size : size, cash);
    };
    if (rnd(10n) === 0n) {
      inMarket(btc, 60n);
      inMarket(eth, 40n);
    } else inMarket(rnd(2n) === 0n ? btc : eth, 100n);
  }
  const setupS = (performance.now() - t0) / 1000;
  const c0 = counting.total();
  const tb = performance.now();
  const ix = LiquidationIndex.build(st, cfg);
  const build = { ms: performance.now() - tb, hashes: counting.total() - c0 };
  const scan = { ms: 0, hashes: 0, checked: 0 };
  const viaIndex = { ms: 0, hashes: 0, checked: 0 };
  let proposals = 0;
  let mark = btc!.initialPrice;
  let index = 0n;
  for (let b = 0; b < blocks; b++) {
    mark = mark + (mark * (rnd(601n) - 300n)) / 10_000n;
    index += (mark * 1_000n) / 1n; // funding moves the index every block
    mSet(st, cfg, btc!, MKT.oraclePrice, mark);
    mSet(st, cfg, btc!, MKT.fundingIndex, index);
    let h = counting.total();
    let t = performance.now();
    const full = findLiquidations(st, cfg, { block: 1n });
    scan.ms += performance.now() - t;
    scan.hashes += counting.total() - h;
    scan.checked += ix.accounts().length;
    h = counting.total();
    t = performance.now();
    const cands = ix.candidates(st);
    const fast = findLiquidations(st, cfg, { block: 1n, accounts: cands });
    viaIndex.ms += performance.now() - t;
    viaIndex.hashes += counting.total() - h;
    viaIndex.checked += cands.length;
    if (JSON.stringify(fast, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) !== JSON.stringify(full, (_, v) => (typeof v === 'bigint' ? v.toString() : v)))
      throw new Error(`block ${b}: the index proposed something else than the full scan`);
    proposals += full.length;
  }
  const per = (x: { ms: number; hashes: number; checked: number }) => `${(x.hashes / blocks).toFixed(0)} Poseidon, ${(x.checked / blocks).toFixed(0)} accounts checked, ${(x.ms / blocks).toFixed(1)} ms`;
  process.stdout.write(
    [
      `holders ${holders.toLocaleString('en-US')} (${ix.stats.entries.toLocaleString('en-US')} index entries), ${blocks} blocks, ${proposals} liquidation proposals in all (identical both ways); set-up ${setupS.toFixed(1)} s`,
      `index build (once, at the first seal): ${build.hashes} Poseidon, ${build.ms.toFixed(0)} ms`,
      `full scan per block:        ${per(scan)}`,
      `index per block:            ${per(viaIndex)}`,
    ].join('\n') + '\n',
  );
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
