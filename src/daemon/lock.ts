// One daemon per state directory: two would fight over the same identity, sockets and ports. The lock file
// names its holder (pid and start time), so a stale one left by a crash is recognised and taken over.
import { link, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../common/exit-codes.js';
import { isSameProcess, type ProcessIdentity, processStartTime } from '../supervisor/proc.js';
import { writeSecretFile } from '../token/secret-file.js';

/** Another daemon holds the state directory. */
export class LockError extends Error {
  override readonly name = 'LockError';
  readonly exitCode = EXIT.unavailable;
  readonly holder: number;

  constructor(stateDir: string, holder: number) {
    super(
      `another poller-bootstrap (pid ${holder}) is running with the state directory ${stateDir}; ` +
        'stop it first (systemctl stop poller-bootstrap), or give this one its own state_dir',
    );
    this.holder = holder;
  }
}

export interface StateLock {
  release(): Promise<void>;
}

async function holderOf(path: string): Promise<ProcessIdentity | null> {
  try {
    const held = JSON.parse(await readFile(path, 'utf8')) as Partial<ProcessIdentity>;
    return Number.isInteger(held.pid) && typeof held.startTime === 'string'
      ? (held as ProcessIdentity)
      : null;
  } catch {
    return null;
  }
}

/** Takes the lock of `stateDir` for this process; throws LockError naming the holder when it is taken. */
export async function lockStateDir(stateDir: string): Promise<StateLock> {
  const path = join(stateDir, 'daemon.lock');
  const me = { pid: process.pid, startTime: (await processStartTime(process.pid)) ?? '' };
  // Written whole first, then linked into place: link() fails if the lock exists, and a reader never sees it half.
  const mine = `${path}.${process.pid}`;
  await writeSecretFile(mine, `${JSON.stringify(me)}\n`);
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await link(mine, path);
        return { release: () => rm(path, { force: true }) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await holderOf(path);
      if (holder !== null && holder.pid !== process.pid && (await isSameProcess(holder))) {
        throw new LockError(stateDir, holder.pid);
      }
      // Left by a daemon that is gone: take it over.
      await rm(path, { force: true });
    }
    throw new Error(`cannot take the lock ${path}`);
  } finally {
    await rm(mine, { force: true });
  }
}
