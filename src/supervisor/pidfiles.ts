// One pid file per supervised child, so that the next daemon can stop what an earlier one left running (a
// SIGKILL, the OOM killer). A recorded process is stopped only if it is still the very process that was
// started: same pid, same start time, and the config file the daemon gave it in its argv.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { writeSecretFile } from '../token/secret-file.js';
import { isSameProcess, type ProcessIdentity, processArgv, processStartTime } from './proc.js';

interface Record_ extends ProcessIdentity {
  child: string;
  /** The -config argument the child was started with. */
  configFile: string;
}

export interface PidFiles {
  /** Records a freshly spawned child. */
  record(child: string, pid: number, configFile: string): Promise<void>;
  forget(child: string): Promise<void>;
}

export function pidFiles(dir: string): PidFiles {
  const path = (child: string) => join(dir, `${child}.pid`);
  return {
    async record(child, pid, configFile) {
      const startTime = await processStartTime(pid);
      if (startTime === null) return; // already gone
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeSecretFile(path(child), `${JSON.stringify({ child, pid, startTime, configFile })}\n`, {
        durable: false,
      });
    },
    async forget(child) {
      await rm(path(child), { force: true });
    },
  };
}

export interface Orphan {
  child: string;
  pid: number;
  /** How it ended: it exited after SIGTERM, or needed SIGKILL. */
  signal: 'SIGTERM' | 'SIGKILL';
}

async function readRecord(file: string): Promise<Record_ | null> {
  try {
    const r = JSON.parse(await readFile(file, 'utf8')) as Partial<Record_>;
    const ok =
      typeof r.child === 'string' &&
      Number.isInteger(r.pid) &&
      typeof r.startTime === 'string' &&
      typeof r.configFile === 'string';
    return ok ? (r as Record_) : null;
  } catch {
    return null;
  }
}

async function stillOurs(r: Record_): Promise<boolean> {
  return (await isSameProcess(r)) && ((await processArgv(r.pid)) ?? []).includes(r.configFile);
}

// A process that is not our child gives no exit event: look again until it is gone or the grace is over.
async function gone(r: Record_, graceMs: number): Promise<boolean> {
  for (let waited = 0; waited < graceMs; waited += 50) {
    if (!(await isSameProcess(r))) return true;
    await delay(50);
  }
  return !(await isSameProcess(r));
}

/** Stops every child an earlier daemon recorded in `dir` that still runs (SIGTERM, then SIGKILL), and forgets it. */
export async function stopOrphans(dir: string, graceMs: number): Promise<Orphan[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stopped: Orphan[] = [];
  for (const name of names.filter((n) => n.endsWith('.pid'))) {
    const file = join(dir, name);
    const r = await readRecord(file);
    if (r !== null && (await stillOurs(r))) {
      process.kill(r.pid, 'SIGTERM');
      let signal: Orphan['signal'] = 'SIGTERM';
      if (!(await gone(r, graceMs))) {
        signal = 'SIGKILL';
        if (await isSameProcess(r)) process.kill(r.pid, 'SIGKILL');
        await gone(r, graceMs);
      }
      stopped.push({ child: r.child, pid: r.pid, signal });
    }
    await rm(file, { force: true });
  }
  return stopped;
}
