/**
 * A stand-in chain for the p2p network tests: blocks with real Starknet headers, hashes and
 * sequencer signatures, and a toy "state transition" (new_root = poseidon(parent root, number,
 * tx count)) that a follower re-checks, so the p2p layer can be tested without the exchange.
 */
import { getStarkKey, poseidonHash, poseidonHashMany, sign } from '../../node/crypto/index.ts';
import { blockHash, type BlockHeader } from '../../node/chain/header.ts';
import type { Block } from '../../node/chain/block.ts';
import { BlockError, type BlockErrorCode, type P2PChain, type P2PService } from '../../node/p2p/index.ts';
import { createLogger, type Logger } from '../../node/log.ts';

export const SEQ_KEY = 0x1234567890abcdefn;
export const ROGUE_KEY = 0xdeadbeefn;

/** What the real chain's import throws for an invalid block (p2p/chain.ts): a typed BlockError. */
const reject = (code: BlockErrorCode, message: string) => new BlockError(code, message);

function header(number: bigint, parent: bigint, root: bigint, txCount: bigint): BlockHeader {
  const gp = { price_in_wei: 1n, price_in_fri: 1n };
  return {
    block_number: number,
    parent_hash: parent,
    new_root: root,
    timestamp: 1_700_000_000n + number,
    sequencer_address: 0x5e9n,
    l1_gas_price: gp,
    l1_data_gas_price: gp,
    l2_gas_price: gp,
    l1_da_mode: 'BLOB',
    starknet_version: '0.14.0',
    transaction_count: txCount,
    event_count: 0n,
    state_diff_length: 0n,
    state_diff_commitment: 0n,
    transaction_commitment: 0n,
    event_commitment: 0n,
    receipt_commitment: 0n,
  };
}

export const nextRoot = (parentRoot: bigint, n: bigint, txs: number) => poseidonHashMany([parentRoot, n, BigInt(txs)]);

/** Builds and signs block `n` on top of `parent` (with `padding` bytes of fake transactions). */
export function makeBlock(parent: Block, opts: { key?: bigint; root?: bigint; txs?: number; padding?: number; body?: unknown } = {}): Block {
  const n = parent.header.block_number + 1n;
  const txs = opts.txs ?? 0;
  const h = header(n, parent.hash, opts.root ?? nextRoot(parent.header.new_root, n, txs), BigInt(txs));
  const hash = blockHash(h);
  const s = sign(hash, opts.key ?? SEQ_KEY);
  const transactions = Array.from({ length: txs }, (_, i) => ({ hash: poseidonHash(n, BigInt(i)), signature: [], body: opts.body ?? { pad: 'x'.repeat(opts.padding ?? 0) } }));
  return { header: h, hash, signature: [s.r, s.s], transactions, receipts: transactions.map((t) => ({ transaction_hash: t.hash, events: [] })) };
}

export function genesisBlock(): Block {
  const h = header(0n, 0n, 0x9e9n, 0n);
  const hash = blockHash(h);
  const s = sign(hash, SEQ_KEY);
  return { header: h, hash, signature: [s.r, s.s], transactions: [], receipts: [] };
}

export class FakeChain implements P2PChain {
  readonly chainId = 'PERPNODE_P2P_TEST';
  readonly sequencerKey = getStarkKey(SEQ_KEY);
  readonly blocks: Block[] = [genesisBlock()];
  imports = 0;

  get tip(): Block {
    return this.blocks[this.blocks.length - 1]!;
  }

  async head() {
    return { number: this.tip.header.block_number, hash: this.tip.hash };
  }

  async block(n: bigint) {
    return this.blocks[Number(n)];
  }

  async signedHeader(n: bigint) {
    const b = this.blocks[Number(n)];
    return b && { header: b.header, hash: b.hash, signature: b.signature };
  }

  /** Sequencer side: seal the next block. */
  produce(opts: { txs?: number; padding?: number; body?: unknown } = {}): Block {
    const b = makeBlock(this.tip, opts);
    this.blocks.push(b);
    return b;
  }

  async importBlock(b: Block): Promise<void> {
    this.imports++;
    const { verify } = await import('../../node/crypto/index.ts');
    if (!verify(b.hash, this.sequencerKey, b.signature)) throw reject('BAD_SIGNATURE', 'signature');
    if (blockHash(b.header) !== b.hash) throw reject('BAD_HASH', 'hash');
    if (b.header.block_number !== this.tip.header.block_number + 1n) throw reject('NOT_NEXT', 'number');
    if (b.header.parent_hash !== this.tip.hash) throw reject('BAD_PARENT', 'parent');
    if (b.header.transaction_count !== BigInt(b.transactions.length)) throw reject('BAD_COMMITMENT', 'tx count');
    for (let i = 0; i < b.transactions.length; i++)
      if (b.transactions[i]!.hash !== poseidonHash(b.header.block_number, BigInt(i))) throw reject('BAD_TX_HASH', `tx ${i}`);
    if (nextRoot(this.tip.header.new_root, b.header.block_number, b.transactions.length) !== b.header.new_root) throw reject('BAD_STATE_ROOT', 'root');
    await new Promise((r) => setImmediate(r));
    this.blocks.push(b);
  }
}

export function testLog(scope: string): Logger {
  return createLogger((process.env.PERPNODE_TEST_LOG as any) ?? 'silent', scope);
}

export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Resolves once `from` knows that peer `to` subscribes to the blocks topic, i.e. once a message
 * `from` publishes goes to `to` (gossipsub sends to the topic peers it knows of). Replaces a
 * fixed wait for gossipsub to exchange subscriptions.
 */
export async function gossipReady(from: P2PService, to: P2PService | string, timeoutMs = 30_000): Promise<void> {
  const id = typeof to === 'string' ? to : to.peerId;
  const topic = from.names.blocksTopic;
  await until(() => from.host.services.pubsub.getSubscribers(topic).some((p) => p.toString() === id), timeoutMs, `${from.peerId} to see ${id} subscribed to ${topic}`);
}
