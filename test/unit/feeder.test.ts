import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadReplay, prng } from '../../node/sequencer/feeder.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('devnet oracle feeder', () => {
  it('the price walk is seeded: same seed, same sequence; another seed differs', () => {
    const a = prng(42n);
    const b = prng(42n);
    const c = prng(43n);
    const sa = Array.from({ length: 20 }, () => a());
    expect(Array.from({ length: 20 }, () => b())).to.deep.equal(sa);
    expect(Array.from({ length: 20 }, () => c())).to.not.deep.equal(sa);
    expect(new Set(sa).size).to.equal(20);
  });
  it('replay files parse to 1e-8 prices and bad ones are refused with the entry named', () => {
    const t = tempDir();
    try {
      const good = join(t.path, 'good.json');
      writeFileSync(good, JSON.stringify([{ t: 0, prices: { 'BTC-USD-PERP': '65000.5' } }, { t: 3, prices: { 'BTC-USD-PERP': '64000' } }]));
      expect(loadReplay(good)).to.deep.equal([
        { t: 0, prices: { 'BTC-USD-PERP': 6_500_050_000_000n } },
        { t: 3, prices: { 'BTC-USD-PERP': 6_400_000_000_000n } },
      ]);
      const bad = join(t.path, 'bad.json');
      writeFileSync(bad, JSON.stringify([{ t: 0, prices: { 'BTC-USD-PERP': 65000 } }]));
      expect(() => loadReplay(bad)).to.throw(/\[0\]\.prices\.BTC-USD-PERP/);
      writeFileSync(bad, JSON.stringify({}));
      expect(() => loadReplay(bad)).to.throw(/JSON array/);
    } finally {
      t.cleanup();
    }
  });
});
