import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { oracleUpdateHash, orderHash, type Order, type SignedOrder } from '../../contracts-ts/index.ts';
import { sign } from '../../node/crypto/index.ts';
import { startSequencer, type RunningNode, type StartOptions } from '../../node/node.ts';
import { createLogger } from '../../node/log.ts';
import { ROOT } from './proc.ts';

export const DEVNET_GENESIS = join(ROOT, 'genesis/devnet.json');

/** An in-process sequencer on ephemeral ports, feeder off, silent, data in `<dir>/data`. */
export function startTestSequencer(dir: string, overrides: Partial<StartOptions> = {}): Promise<RunningNode> {
  return startSequencer({ dataDir: join(dir, 'data'), genesisPath: DEVNET_GENESIS, rpcHost: '127.0.0.1', rpcPort: 0, adminPort: null, feeder: 'off', log: createLogger('silent'), ...overrides });
}

/** Writes the devnet genesis, changed by `edit` (its JSON form), to `<dir>/genesis.json`; returns its path. */
export function editedGenesis(dir: string, edit: (g: any) => void): string {
  const g = JSON.parse(readFileSync(DEVNET_GENESIS, 'utf8'));
  edit(g);
  const path = join(dir, 'genesis.json');
  writeFileSync(path, JSON.stringify(g));
  return path;
}

/**
 * Signs orders for the node's dev accounts: a GTC LIMIT BUY of `size` in the first market at its
 * initial price unless `f` says otherwise; each order gets a fresh salt.
 */
export function orderSigner(node: RunningNode, size: bigint): (who: { address: bigint; privateKey?: bigint }, f: Partial<Order>) => SignedOrder {
  const g = node.chain.genesis;
  const m = g.exchange.markets[0]!;
  let salt = 1n;
  return (who, f) => {
    const o: Order = { account: who.address, market: m.symbol, side: 'BUY', orderType: 'LIMIT', timeInForce: 'GTC', size, price: m.initialPrice, triggerPrice: 0n, reduceOnly: false, expiry: 4_000_000_000n, salt: salt++, ...f };
    const hash = orderHash(o, g.chainId);
    const s = sign(hash, who.privateKey!);
    return { order: o, hash, signature: [s.r, s.s] };
  };
}

/** Posts a first-market price in whole USD, signed by the first genesis oracle, one second after the last. */
export function pricePoster(node: RunningNode): (usd: bigint) => Promise<void> {
  const g = node.chain.genesis;
  const oracle = g.exchange.oracles[0]!;
  const market = g.exchange.markets[0]!.symbol;
  let ts = BigInt(Math.floor(Date.now() / 1000));
  return async (usd) => {
    const prices = [{ market, price: usd * 10n ** 8n }];
    ts += 1n;
    const s = sign(oracleUpdateHash({ timestamp: ts, prices }, oracle.publicKey, g.chainId), oracle.privateKey!);
    await node.exchange.oracleUpdate({ type: 'ORACLE_UPDATE', signer: oracle.publicKey, timestamp: ts, prices, signature: [s.r, s.s] });
  };
}
