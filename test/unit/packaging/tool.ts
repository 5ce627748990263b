import { spawnSync } from 'node:child_process';

/** Whether a command runs here; tests needing it are skipped with the install command, except in CI. */
export function toolSkip(command: string, install: string): { skip: boolean; reason: string } {
  const missing = spawnSync(command, ['--version'], { encoding: 'utf8' }).error !== undefined;
  const skip = missing && !process.env.CI;
  if (skip) console.warn(`skipping the ${command} checks: ${command} not found; install with ${install}`);
  return { skip, reason: skip ? ` (skipped: ${command} not found; install with ${install})` : '' };
}
