/**
 * docs/rpc.md is the reference wallets read: it must list every method the node serves (HTTP
 * and WebSocket), every exchange revert code with its number, and every node error code.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../../contracts-ts/index.ts';
import { E, RpcError } from '../../node/rpc/errors.ts';
import { WS_ONLY_METHODS } from '../../node/rpc/methods.ts';
import { HTTP_METHODS } from '../integration/rpc.fixtures.ts';
import { ROOT } from '../helpers/proc.ts';

const doc = readFileSync(join(ROOT, 'docs/rpc.md'), 'utf8');

describe('docs/rpc.md covers the API', () => {
  it('lists every method with its parameters', () => {
    for (const m of [...HTTP_METHODS, ...WS_ONLY_METHODS]) expect(doc, m).to.contain('`' + m + '`');
    for (const p of ['order, signature', 'cancel {account, orderHash}, signature', 'cancel_all {account, market, nonce}, signature', 'withdraw {account, amount, recipient, nonce}, signature', 'transfer {account, recipient, amount, nonce}, signature', 'public_key, signature', 'market, depth?', 'market, limit?', 'address, amount'])
      expect(doc, p).to.contain(p);
  });

  it('documents every exchange revert code with the number the RPC answers', () => {
    for (const [code, { rpc }] of Object.entries(ERROR_CODES)) expect(doc, code).to.match(new RegExp(`\\| ${rpc} \\| \`${code}\` \\|`));
  });

  it('documents every node error code', () => {
    const codes = Object.values(E)
      .map((f) => (f as (...a: string[]) => RpcError)('x', 'y').code)
      .filter((c, i, a) => a.indexOf(c) === i);
    for (const c of codes) expect(doc, String(c)).to.match(new RegExp(`(^|[^0-9-])${c}([^0-9]|$)`, 'm'));
  });
});
