import { expect } from 'chai';
import { CloseStack } from '../../node/close-stack.ts';

describe('CloseStack (one stop for a node and for a failed start)', () => {
  it('closes newest first, each step once, even when close is called twice', async () => {
    const ran: string[] = [];
    const s = new CloseStack();
    s.defer('database', () => ran.push('database'));
    const rpc = s.defer('rpc', async () => {
      await new Promise((r) => setImmediate(r));
      ran.push('rpc');
    });
    s.defer('producer', () => ran.push('producer'));
    s.defer('rpc again (closes before the producer)', rpc);
    await Promise.all([s.close(), s.close()]);
    await s.close();
    expect(ran).to.deep.equal(['rpc', 'producer', 'database']);
  });

  it('runs every step when one fails and rethrows the first failure, naming its step', async () => {
    const ran: string[] = [];
    const s = new CloseStack();
    s.defer('database', () => ran.push('database'));
    s.defer('p2p', () => {
      throw new Error('hung up');
    });
    s.defer('websocket', async () => {
      throw new Error('second');
    });
    const err = await s.close().then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.equal('closing websocket: second');
    expect(ran).to.deep.equal(['database']);
  });
});
