import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exposedNames } from './exposed-names.js';
import { alertTestCoverage } from './tool.js';

const dir = fileURLToPath(new URL('../../../packaging/prometheus/', import.meta.url));
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
const INSTALL = 'apt-get install -y prometheus (Debian/Ubuntu: /usr/bin/promtool)';

const promtool = (...args: string[]) => spawnSync(PROMTOOL, args, { cwd: dir, encoding: 'utf8' });
const missing = promtool('--version').error !== undefined;

describe('Prometheus alert rules', () => {
  it('refers only to metrics the daemon exposes', async () => {
    const rules = readFileSync(`${dir}alerts.yml`, 'utf8');
    const used = [...new Set(rules.match(/\bpoller_bootstrap_[a-z0-9_]+/g) ?? [])];
    expect(used.length).toBeGreaterThan(0);
    const names = await exposedNames();
    expect(used.filter((n) => !names.has(n))).toEqual([]);
  });

  // CI must run these: there a missing promtool fails the test instead of skipping it.
  const skip = missing && !process.env.CI;
  if (skip) console.warn(`skipping the promtool rule checks: ${PROMTOOL} not found; install with ${INSTALL}`);
  const suffix = skip ? ` (skipped: ${PROMTOOL} not found; install with ${INSTALL})` : '';

  it.skipIf(skip)(`pass promtool check rules${suffix}`, () => {
    expect(missing, `${PROMTOOL} not found; install with ${INSTALL}`).toBe(false);
    const run = promtool('check', 'rules', 'alerts.yml');
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });

  it.skipIf(skip)(`pass their promtool unit tests, each alert firing and not firing${suffix}`, () => {
    expect(missing, `${PROMTOOL} not found; install with ${INSTALL}`).toBe(false);
    const run = promtool('test', 'rules', 'alerts.test.yml');
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('SUCCESS');
  });

  it('has a unit test for every alert', () => {
    const rules = readFileSync(`${dir}alerts.yml`, 'utf8');
    const tests = readFileSync(`${dir}alerts.test.yml`, 'utf8');
    const coverage = alertTestCoverage(rules, tests);
    expect(coverage.map((c) => c.alert)).toEqual([
      'PollerBootstrapNotReady',
      'PollerBootstrapTokenRequestsFailing',
      'PollerBootstrapTokenUnauthorized',
      'PollerBootstrapIdentityExpiringSoon',
      'PollerBootstrapChildFlapping',
    ]);
    for (const c of coverage) expect(c).toEqual({ alert: c.alert, firing: true, silent: true });
  });
});
