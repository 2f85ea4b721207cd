import { expect } from 'chai';
import { createLogger, progress } from '../../node/log.ts';

describe('logger: text and json formats, progress lines', () => {
  it('json: one parseable object per line with the event fields; text keeps the message', () => {
    const lines: string[] = [];
    const log = createLogger('info', 'node', (l) => lines.push(l), 'json').child('block');
    log.info('block 7 sealed: 2 txs', { event: 'block', block: 7, txs: 2 });
    log.debug('not written at info');
    expect(lines).to.have.length(1);
    const j = JSON.parse(lines[0]!);
    expect(j).to.include({ level: 'info', scope: 'block', msg: 'block 7 sealed: 2 txs', event: 'block', block: 7, txs: 2 });
    expect(Date.parse(j.time)).to.be.a('number').and.not.NaN;
    const text: string[] = [];
    createLogger('debug', 'rpc', (l) => text.push(l)).debug('x ok', { a: 1 });
    expect(text[0]).to.match(/ DEBUG \[rpc\] x ok$/);
    expect(createLogger('warn').enabled('info')).to.equal(false);
    expect(createLogger('silent').enabled('error')).to.equal(false);
  });

  it('progress: the first update at once, then at most one line per interval, and a final line', () => {
    const lines: string[] = [];
    let now = 0;
    const p = progress(createLogger('info', 'drill', (l) => lines.push(l)), 'step 1', 100, 2000, () => now);
    for (let i = 0; i < 100; i++) {
      p.update(i);
      now += 100; // 10 s in all
    }
    p.finish('100 done');
    const msgs = lines.map((l) => l.replace(/^.*\[drill\] /, ''));
    expect(msgs[0]).to.equal('step 1: 0/100 (0%), 0.0 s');
    expect(msgs.length).to.equal(5 + 1); // updates at 0, 2, 4, 6 and 8 s, then the final line
    expect(msgs[1]).to.equal('step 1: 20/100 (20%), 2.0 s');
    expect(msgs.at(-1)).to.equal('step 1: 100 done in 10.0 s');
  });
});
