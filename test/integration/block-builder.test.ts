/**
 * One definition of a block (node/chain/block-builder.ts), proven against a recorded chain:
 * test/vectors/recorded-chain.json holds blocks with trades, a cancel, funding, an oracle price
 * drop and liquidation steps, recorded by test/helpers/recorded-chain.ts with the code from
 * before the builder existed. The follower's import (rebuild and compare), the builder on its
 * own, and the sequencer recording the same script again must all give the same block hashes
 * and state roots.
 *
 * A change that is meant to change blocks (a new exchange rule, a new header field) fails this
 * test on purpose: say so in the commit and record the vector again with
 * `npx tsx test/helpers/recorded-chain.ts test/vectors/recorded-chain.json`.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTx } from '../../contracts-ts/index.ts';
import { blockFromJson, blockToJson, type Block } from '../../node/chain/block.ts';
import { BlockBuildError, BlockBuilder } from '../../node/chain/block-builder.ts';
import { BlockRejected, importBlock } from '../../node/chain/replay.ts';
import { createLogger } from '../../node/log.ts';
import { openChain, type Chain } from '../../node/node.ts';
import { ROOT } from '../helpers/proc.ts';
import { recordChain } from '../helpers/recorded-chain.ts';
import { tempDir } from '../helpers/tmp.ts';

const recording = JSON.parse(readFileSync(join(ROOT, 'test/vectors/recorded-chain.json'), 'utf8'));
const blocks: Block[] = recording.blocks.map(blockFromJson);

describe('block builder: one definition of a block, checked against a recorded chain', function () {
  this.timeout(120_000);
  let t: ReturnType<typeof tempDir>;
  let c: Chain;
  const open = async (name: string) => {
    const path = join(t.path, `${name}.genesis.json`);
    writeFileSync(path, JSON.stringify(recording.genesis));
    return openChain({ dataDir: join(t.path, name), genesisPath: path, log: createLogger('silent') });
  };
  const parentOf = async (chain: Chain) => {
    const head = (await chain.chain.head())!;
    return { hash: head.hash, header: (await chain.chain.header(head.number))!.header };
  };
  before(() => (t = tempDir('perpnode-builder-')));
  afterEach(async () => c?.close());
  after(() => t.cleanup());

  it('the recording holds trades, a cancel, funding, an oracle update and liquidations', () => {
    const types = new Set(blocks.flatMap((b) => b.transactions.map((x) => parseTx(x.body).type)));
    for (const k of ['TRADE', 'CANCEL', 'ORACLE_UPDATE', 'LIQUIDATE']) expect(types, k).to.include(k);
    expect(types.has('FUNDING') || types.has('FUNDING_SAMPLE'), 'a funding transaction').to.equal(true);
    expect(blocks.length).to.be.at.least(8);
  });

  it("a follower's import rebuilds every block to the recorded hash and root", async () => {
    c = await open('import');
    for (const b of blocks) {
      await importBlock(c.db, b, await parentOf(c), c.world, c.genesis);
      expect(c.world.root, `root after block ${b.header.block_number}`).to.equal(b.header.new_root);
    }
    const head = (await c.chain.head())!;
    expect(head.number).to.equal(blocks.at(-1)!.header.block_number);
    expect(head.hash).to.equal(blocks.at(-1)!.hash);
  });

  it('open → add → seal on its own gives each recorded header; a duplicate is refused and changes nothing', async () => {
    c = await open('builder');
    for (const b of blocks) {
      const builder = BlockBuilder.open(c.world, c.genesis, await parentOf(c), b.header.timestamp);
      for (const x of b.transactions) builder.add(parseTx(x.body));
      if (b.transactions.length) {
        const diff = builder.pending.previewDiff();
        expect(() => builder.add(parseTx(b.transactions[0]!.body))).to.throw(BlockBuildError, 'already in the pending block');
        expect(builder.pending.previewDiff()).to.deep.equal(diff);
      }
      const sealed = await builder.seal();
      expect(sealed.header).to.deep.equal(b.header);
      expect(sealed.hash).to.equal(b.hash);
      await importBlock(c.db, b, await parentOf(c), c.world, c.genesis); // commit, to build the next on it
    }
  });

  it('a block with a transaction left out or one of another block is rejected, and nothing is written', async () => {
    c = await open('tamper');
    for (const b of blocks.slice(0, 4)) await importBlock(c.db, b, await parentOf(c), c.world, c.genesis);
    const liq = blocks[4]!; // the oracle update and the first liquidation steps
    const head = await c.chain.head();
    const root = c.world.root;
    const without: Block = { ...liq, transactions: liq.transactions.slice(0, -1), receipts: liq.receipts.slice(0, -1) };
    const foreign: Block = { ...liq, transactions: [...liq.transactions.slice(0, -1), blocks[5]!.transactions[0]!], receipts: [...liq.receipts.slice(0, -1), blocks[5]!.receipts[0]!] };
    for (const bad of [without, foreign]) {
      const e = await importBlock(c.db, bad, await parentOf(c), c.world, c.genesis).then(
        () => null,
        (x) => x,
      );
      expect(e).to.be.instanceOf(BlockRejected);
      expect(['bad_state_root', 'bad_commitment', 'bad_receipt', 'tx_failed']).to.include(e.reason);
      expect(await c.chain.head()).to.deep.equal(head);
      expect(c.world.root).to.equal(root);
    }
    await importBlock(c.db, liq, await parentOf(c), c.world, c.genesis);
    expect(c.world.root).to.equal(liq.header.new_root);
  });

  it('the sequencer records the same script again: the same blocks, byte for byte', async () => {
    const again = await recordChain();
    expect(again.blocks.map((b) => b.hash)).to.deep.equal(recording.blocks.map((b: any) => b.hash));
    expect(again.blocks).to.deep.equal(recording.blocks);
    expect(again.blocks.map(blockFromJson).map(blockToJson)).to.deep.equal(recording.blocks);
  });
});
