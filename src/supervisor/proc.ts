// What Linux's /proc says about a process: enough to tell whether a pid still names the process we started,
// and not one that reused its number (the start time, in clock ticks since boot, never repeats for a pid).
import { readFile } from 'node:fs/promises';

export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat. */
  startTime: string;
}

/** The process's start time, or null when it does not exist (or /proc is not there). */
export async function processStartTime(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself contain spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** The process's argv, or null when it does not exist. */
export async function processArgv(pid: number): Promise<string[] | null> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
  } catch {
    return null;
  }
}

/** True while `who` is still the same process (same pid, same start time). */
export async function isSameProcess(who: ProcessIdentity): Promise<boolean> {
  return (await processStartTime(who.pid)) === who.startTime;
}
