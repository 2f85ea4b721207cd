/**
 * The node's libp2p identity: an Ed25519 key kept in `<data-dir>/p2p.key` (libp2p protobuf
 * encoding, file mode 0600) so the peer id — and so every multiaddr an operator copied into a
 * follower's --bootstrap — survives restarts.
 */
import { closeSync, chmodSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import type { Logger } from '../log.ts';

export const KEY_FILE = 'p2p.key';

export async function loadOrCreatePeerKey(dataDir: string, log?: Logger): Promise<PrivateKey> {
  const path = join(dataDir, KEY_FILE);
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) {
      log?.warn(`${path} was readable by others (mode ${mode.toString(8)}); setting it to 0600`);
      chmodSync(path, 0o600);
    }
    try {
      return privateKeyFromProtobuf(new Uint8Array(readFileSync(path)));
    } catch (e) {
      throw new Error(`${path} does not hold a libp2p private key (${(e as Error).message}); move it away to make a new identity`);
    }
  }
  const key = await generateKeyPair('Ed25519');
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, privateKeyToProtobuf(key));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  log?.info(`created the p2p identity key ${path}`);
  return key;
}
