import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Whether a command runs here; tests needing it are skipped with the install command, except in CI. */
export function toolSkip(command: string, install: string): { skip: boolean; reason: string } {
  const missing = spawnSync(command, ['--version'], { encoding: 'utf8' }).error !== undefined;
  const skip = missing && !process.env.CI;
  if (skip) console.warn(`skipping the ${command} checks: ${command} not found; install with ${install}`);
  return { skip, reason: skip ? ` (skipped: ${command} not found; install with ${install})` : '' };
}

/**
 * `docker-compose config` of the file packaging/docker/<name>, from a copy of the layout with an empty build context
 * (`config` insists the context exists). Returns its status, stdout and stderr.
 */
export function composeConfig(name: string): { status: number | null; stdout: string; stderr: string } {
  const root = mkdtempSync(join(tmpdir(), 'pb-compose-'));
  try {
    mkdirSync(join(root, 'dist/pkg/image'), { recursive: true });
    const file = join(root, 'packaging/docker', name);
    cpSync(fileURLToPath(new URL(`../../../packaging/docker/${name}`, import.meta.url)), file);
    const run = spawnSync('docker-compose', ['-f', file, 'config'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Each alert of a Prometheus rules file, and whether its promtool unit tests see it both firing and silent. */
export function alertTestCoverage(
  rules: string,
  tests: string,
): { alert: string; firing: boolean; silent: boolean }[] {
  return [...rules.matchAll(/^\s*- alert: (\S+)/gm)].map(([, alert = '']) => {
    const evaluations = [...tests.matchAll(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:(.*)`, 'g'))];
    return {
      alert,
      firing: evaluations.some((m) => m[1]?.trim() === ''),
      silent: evaluations.some((m) => m[1]?.trim() === '[]'),
    };
  });
}
