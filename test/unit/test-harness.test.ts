import { expect } from 'chai';
import fc from 'fast-check';
import { startSequencer } from '../../node/node.ts';
import { selectedCrypto } from '../../contracts-ts/crypto.ts';

/*
 * The root hook's choices must reach every test file, including one whose imports reach a
 * top-level await (node/node.ts does): the backend the hook selected and the fixed fast-check
 * seed. A second module instance would leave both unset here.
 */
describe('test harness', () => {
  it('a file importing node/node.ts sees the hook-selected crypto backend and the fixed seed', () => {
    expect(typeof startSequencer).to.equal('function');
    expect(selectedCrypto(), 'crypto backend selected by test/helpers/backend-hook.ts').to.not.equal(undefined);
    if (process.env.FC_SEED !== 'random') expect(fc.readConfigureGlobal().seed).to.equal(Number(process.env.FC_SEED ?? '20261121'));
  });
});
