import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createBrokerMetrics } from '../../../src/broker/metrics.js';
import { alertTestCoverage } from './tool.js';

const dir = fileURLToPath(new URL('../../../packaging/prometheus/', import.meta.url));
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
const INSTALL = 'apt-get install -y prometheus (Debian/Ubuntu: /usr/bin/promtool)';
const promtool = (...args: string[]) => spawnSync(PROMTOOL, args, { cwd: dir, encoding: 'utf8' });
const missing = promtool('--version').error !== undefined;
const rules = readFileSync(`${dir}broker-alerts.yml`, 'utf8');

// SPIRE's telemetry names (DESIGN §5; pkg/common/api/middleware/names.go): counters without a _total suffix.
const SPIRE_METRICS = [
  'spire_server_rpc_agent_v1_agent_create_join_token',
  'spire_server_rpc_agent_v1_agent_attest_agent',
  'spire_server_rpc_svid_v1_svid_new_downstream_x509ca',
];

describe("the broker's and the SPIRE server's alert rules", () => {
  it("refer only to metrics the broker exposes, and to SPIRE's own names", async () => {
    const exposed = await createBrokerMetrics({ version: '0.0.0' }).text();
    const broker = [...new Set(rules.match(/\bpoller_bootstrap_broker_[a-z0-9_]+/g) ?? [])];
    expect(broker.length).toBeGreaterThan(2);
    expect(broker.filter((n) => !new RegExp(`^${n}[{ ]`, 'm').test(exposed))).toEqual([]);
    const spire = [...new Set(rules.match(/\bspire_server_[a-z0-9_]+/g) ?? [])].sort();
    expect(spire).toEqual([...SPIRE_METRICS].sort());
  });

  const skip = missing && !process.env.CI;
  if (skip) console.warn(`skipping the promtool rule checks: ${PROMTOOL} not found; install with ${INSTALL}`);
  const suffix = skip ? ` (skipped: ${PROMTOOL} not found; install with ${INSTALL})` : '';

  it.skipIf(skip)(`pass promtool check rules and their promtool unit tests${suffix}`, () => {
    expect(missing, `${PROMTOOL} not found; install with ${INSTALL}`).toBe(false);
    const check = promtool('check', 'rules', 'broker-alerts.yml');
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const test = promtool('test', 'rules', 'broker-alerts.test.yml');
    expect(test.status, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toContain('SUCCESS');
  });

  it('have a unit test for every alert, firing and not firing', () => {
    const tests = readFileSync(`${dir}broker-alerts.test.yml`, 'utf8');
    const coverage = alertTestCoverage(rules, tests);
    expect(coverage.map((c) => c.alert)).toEqual([
      'JoinTokenBrokerIssuanceFailing',
      'JoinTokenBrokerTokenLeftUnused',
      'JoinTokenBrokerUnauthorizedAttempts',
      'SpireServerJoinTokenCreationFailing',
      'SpireServerJoinTokenAttestationRefused',
      'SpireServerUnauthorizedDownstream',
    ]);
    for (const c of coverage) expect(c).toEqual({ alert: c.alert, firing: true, silent: true });
  });
});
