/** What RPC handlers may use: one typed modules object. */
import type { ChainStore } from '../chain/store.ts';
import type { Genesis } from '../chain/genesis.ts';
import type { WorldState } from '../state/index.ts';
import type { Producer } from '../sequencer/producer.ts';
import type { ExchangeService } from '../sequencer/exchange.ts';
import type { BlockHeader } from '../chain/header.ts';
import { E } from './errors.ts';
import type { BlockId } from './params.ts';

export interface RpcModules {
  chain: ChainStore;
  world: WorldState;
  genesis: Genesis;
  /** Present on a sequencer; followers have none. */
  producer?: Producer;
  /** The order book service (sequencer only). */
  exchange?: ExchangeService;
}

export type ResolvedBlock = { kind: 'confirmed'; number: bigint; hash: bigint; header: BlockHeader } | { kind: 'pre_confirmed'; number: bigint; timestamp: bigint };

/** Resolves a block id. `l1_accepted`: perpnode settles on no L1, so it is block 0 (documented). */
export async function resolveBlock(m: RpcModules, id: BlockId): Promise<ResolvedBlock> {
  if ('tag' in id) {
    if (id.tag === 'pre_confirmed') {
      const open = m.producer?.openBlock;
      const head = await m.chain.head();
      if (!head) throw E.noBlocks();
      if (open) return { kind: 'pre_confirmed', number: open.number, timestamp: open.timestamp };
      const h = await m.chain.header(head.number);
      return { kind: 'pre_confirmed', number: head.number + 1n, timestamp: h!.header.timestamp };
    }
    const n = id.tag === 'latest' ? (await m.chain.head())?.number : 0n;
    if (n === undefined) throw E.noBlocks();
    const h = await m.chain.header(n);
    if (!h) throw E.blockNotFound();
    return { kind: 'confirmed', number: n, hash: h.hash, header: h.header };
  }
  const n = 'number' in id ? id.number : await m.chain.numberOf(id.hash);
  if (n === undefined) throw E.blockNotFound();
  const h = await m.chain.header(n);
  if (!h) throw E.blockNotFound();
  return { kind: 'confirmed', number: n, hash: h.hash, header: h.header };
}
