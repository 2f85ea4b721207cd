import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { openDataDir } from '../../node/storage/open.ts';
import { lockDataDir, DataDirInUseError } from '../../node/storage/lock.ts';
import { encodeJson, metaKey } from '../../node/storage/schema.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('data directory lock and schema', () => {
  it('refuses a second open in the same process, naming the pid', async () => {
    const t = tempDir();
    const a = await openDataDir(t.path);
    try {
      let err: unknown;
      try {
        await openDataDir(t.path);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(DataDirInUseError);
      expect((err as Error).message).to.contain(`is in use by pid ${process.pid}`);
      // the failed second open must not have released the first one's lock
      expect(() => lockDataDir(t.path)).to.throw(DataDirInUseError);
    } finally {
      await a.close();
      t.cleanup();
    }
  });

  it('takes over a stale lock whose process is gone', async () => {
    const t = tempDir();
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid: number = await new Promise((r) => child.on('exit', () => r(child.pid!)));
    writeFileSync(join(t.path, 'perpnode.lock'), String(deadPid));
    const d = await openDataDir(t.path);
    await d.close();
    t.cleanup();
  });

  it('refuses an unknown schema version', async () => {
    const t = tempDir();
    const d = await openDataDir(t.path);
    await d.db.put(metaKey('schema_version'), encodeJson(999));
    await d.close();
    let err: unknown;
    try {
      await openDataDir(t.path);
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.match(/schema version 999/);
    // and the refusal released the lock
    const again = lockDataDir(t.path);
    again.release();
    t.cleanup();
  });
});
