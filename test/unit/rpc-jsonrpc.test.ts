import { expect } from 'chai';
import { Dispatcher, type Methods } from '../../node/rpc/jsonrpc.ts';
import { E } from '../../node/rpc/errors.ts';

const methods: Methods<unknown> = {
  echo: { params: ['a', 'b?'], handler: (p) => ({ a: p.a, b: p.b ?? null }) },
  none: { params: [], handler: () => 'ok' },
  fails: { params: [], handler: () => { throw E.blockNotFound(); } },
  crashes: { params: [], handler: () => { throw new Error('secret internal detail at /some/path'); } },
};
const d = new Dispatcher(methods, { maxBatch: 3 });
const call = async (body: string) => {
  const out = await d.handleText(body, {});
  return out === null ? null : JSON.parse(out);
};

describe('JSON-RPC 2.0 dispatch', () => {
  it('echoes ids with their type', async () => {
    expect((await call('{"jsonrpc":"2.0","id":7,"method":"none"}')).id).to.equal(7);
    expect((await call('{"jsonrpc":"2.0","id":"7","method":"none"}')).id).to.equal('7');
    expect((await call('{"jsonrpc":"2.0","id":null,"method":"none"}')).id).to.equal(null);
  });
  it('params by name, by position, or absent', async () => {
    expect((await call('{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1,"b":2}}')).result).to.deep.equal({ a: 1, b: 2 });
    expect((await call('{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}')).result).to.deep.equal({ a: 1, b: null });
    expect((await call('{"jsonrpc":"2.0","id":1,"method":"none"}')).result).to.equal('ok');
  });
  it('-32602 names the bad parameter', async () => {
    const r = await call('{"jsonrpc":"2.0","id":1,"method":"echo","params":{}}');
    expect(r.error.code).to.equal(-32602);
    expect(r.error.data).to.contain('"a"');
    const r2 = await call('{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1,"zzz":2}}');
    expect(r2.error.data).to.contain('zzz');
    expect((await call('{"jsonrpc":"2.0","id":1,"method":"none","params":[1]}')).error.code).to.equal(-32602);
  });
  it('parse error is -32700 with id null', async () => {
    const r = await call('{"jsonrpc":"2.0","id":1,"method"');
    expect(r).to.deep.equal({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
  });
  it('invalid requests are -32600', async () => {
    for (const body of ['1', '"x"', '{"id":1,"method":"none"}', '{"jsonrpc":"2.0","id":1,"method":5}', '{"jsonrpc":"2.0","id":1,"method":"none","params":"x"}', '{"jsonrpc":"2.0","id":{},"method":"none"}'])
      expect((await call(body)).error.code, body).to.equal(-32600);
  });
  it('unknown method is -32601; prototype names are not methods', async () => {
    expect((await call('{"jsonrpc":"2.0","id":1,"method":"nope"}')).error.code).to.equal(-32601);
    expect((await call('{"jsonrpc":"2.0","id":1,"method":"constructor"}')).error.code).to.equal(-32601);
    expect((await call('{"jsonrpc":"2.0","id":1,"method":"__proto__"}')).error.code).to.equal(-32601);
  });
  it('domain errors keep their code; internal errors hide details', async () => {
    expect((await call('{"jsonrpc":"2.0","id":1,"method":"fails"}')).error).to.deep.equal({ code: 24, message: 'Block not found' });
    const r = await call('{"jsonrpc":"2.0","id":1,"method":"crashes"}');
    expect(r.error).to.deep.equal({ code: -32603, message: 'Internal error' });
    expect(JSON.stringify(r)).to.not.contain('secret');
  });
  it('batches: empty is an error, notifications get nothing, too long is refused', async () => {
    expect((await call('[]')).error.code).to.equal(-32600);
    const r = await call('[{"jsonrpc":"2.0","id":1,"method":"none"},{"jsonrpc":"2.0","method":"none"},{"jsonrpc":"2.0","id":2,"method":"nope"}]');
    expect(r).to.have.length(2);
    expect(r[0].result).to.equal('ok');
    expect(r[1].error.code).to.equal(-32601);
    expect(await call('[{"jsonrpc":"2.0","method":"none"}]')).to.equal(null);
    expect(await call('{"jsonrpc":"2.0","method":"none"}')).to.equal(null);
    expect((await call('[1,2,3,4]')).error.code).to.equal(11005);
    const bad = await call('[1]');
    expect(bad[0].error.code).to.equal(-32600);
  });
});
