import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sandbox } from '../sim-tests/harness.js';
import { ADMIN_PASSWORD, DAEMON, leakScan, makeEnv, startDaemon, waitReady } from './harness.js';
import { expectNoSecrets, usedToken, usedTokens } from './secrets.js';

const box = sandbox('e2e-observability');
afterAll(() => box.cleanup());

/** Sample values of one metric family from a Prometheus text scrape, keyed by their label text. */
function samples(scrape: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of scrape.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (m) out[m[1] ?? ''] = Number(m[2]);
  }
  return out;
}

// promtool (Debian package prometheus) is the reference parser; a newcomer without it gets a visible skip, CI
// (which installs it) a failure.
const promtoolMissing = spawnSync('promtool', ['--version']).error !== undefined;
const skipPromtool = promtoolMissing && !process.env.CI;
const promtoolNote = skipPromtool
  ? ' (skipped: promtool not found; install with apt-get install -y prometheus)'
  : '';
if (skipPromtool) console.warn(`skipping promtool check metrics:${promtoolNote.slice(10, -1)}`);
let firstScrape: string | undefined;

describe('metrics, status, audit', () => {
  it('show what happened in a bootstrap and a child restart, and hold no secret', async () => {
    const env = await makeEnv(box.dir('observe'));
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    const scrape = await (await fetch(`${env.httpUrl}/metrics`)).text();

    expect(samples(scrape, 'poller_bootstrap_phase')['{phase="ready"}']).toBe(1);
    expect(samples(scrape, 'poller_bootstrap_bootstrap_attempts_total')).toMatchObject({
      '{result="success"}': 1,
      '{result="failure"}': 0,
    });
    expect(
      samples(scrape, 'poller_bootstrap_token_requests_total')['{source="admin-api",result="success"}'],
    ).toBe(1);
    expect(
      samples(scrape, 'poller_bootstrap_token_request_duration_seconds_count')['{source="admin-api"}'],
    ).toBe(1);
    expect(Object.values(samples(scrape, 'poller_bootstrap_child_up'))).toEqual([1, 1, 1]);
    const expiry = samples(scrape, 'poller_bootstrap_identity_expiry_timestamp_seconds');
    for (const identity of ['upstream-agent', 'nested-server', 'downstream-agent']) {
      expect(expiry[`{identity="${identity}"}`], identity).toBeGreaterThan(Date.now() / 1000);
    }
    expect(samples(scrape, 'poller_bootstrap_token_file_present')['']).toBe(0);
    expect(samples(scrape, 'poller_bootstrap_entries_reconciled_total')['{action="created"}']).toBe(2);

    firstScrape = scrape;

    // The audit trail has the token's life by fingerprint, in a private file.
    const audit = join(env.config.state_dir as string, 'audit.jsonl');
    expect(statSync(audit).mode & 0o777).toBe(0o600);
    const events = readFileSync(audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; source: string; fingerprint: string });
    expect(events.map((e) => [e.event, e.source])).toEqual([
      ['token-acquired', 'admin-api'],
      ['token-consumed', 'admin-api'],
      ['token-acquired', 'nested-server'],
      ['token-consumed', 'nested-server'],
    ]);

    // A killed upstream agent moves its restart counter.
    const status = JSON.parse(
      spawnSync(process.execPath, [DAEMON, 'status', '--json', '--url', env.httpUrl], { encoding: 'utf8' })
        .stdout,
    ) as { children: { name: string; pid: number; restarts: number }[] };
    process.kill(status.children[0]?.pid as number, 'SIGKILL');
    let restarts: Record<string, number> = {};
    let ready = 0;
    while (restarts['{child="upstream-agent"}'] !== 1 || ready !== 1) {
      const again = await (await fetch(`${env.httpUrl}/metrics`)).text();
      restarts = samples(again, 'poller_bootstrap_child_restarts_total');
      ready = samples(again, 'poller_bootstrap_phase')['{phase="ready"}'] ?? 0;
    }

    const token = usedToken(env.config.state_dir as string) ?? '';
    const everything = [scrape, readFileSync(audit, 'utf8')].join('\n');
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(ADMIN_PASSWORD);
    await expectNoSecrets(leakScan(env, daemon), [
      ...usedTokens(env.config.state_dir as string),
      token,
      ADMIN_PASSWORD,
    ]);
    await daemon.stop();
  });

  it.skipIf(skipPromtool)(`expose metrics that promtool check metrics accepts${promtoolNote}`, () => {
    expect(firstScrape, 'the scrape of the test above').toBeDefined();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: firstScrape, encoding: 'utf8' });
    expect(check.error, 'promtool must be installed (.ci/run installs Debian prometheus)').toBeUndefined();
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });
});
