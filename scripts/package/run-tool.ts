// Runs a build tool with inherited output; a missing tool or a failure throws with the command line and a hint.

import { spawnSync } from 'node:child_process';

/** Runs `file args…`; `hint` names what to install when the tool is missing; `quiet` shows stderr only on failure. */
export function runTool(file: string, args: readonly string[], hint: string, quiet = false): void {
  const run = spawnSync(file, args, {
    stdio: ['ignore', 'inherit', quiet ? 'pipe' : 'inherit'],
    encoding: 'utf8',
  });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`${file} not found: ${hint}`);
  }
  if (run.error) throw run.error;
  if (run.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} failed with exit code ${run.status}\n${run.stderr ?? ''}`);
  }
}

/** Runs a tool and returns its stdout (for queries such as `dpkg --print-architecture`). */
export function toolOutput(file: string, args: readonly string[], hint: string): string {
  const run = spawnSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (run.error) throw new Error(`${file} not found: ${hint}`);
  if (run.status !== 0) throw new Error(`${file} ${args.join(' ')} failed with exit code ${run.status}`);
  return run.stdout.trim();
}
