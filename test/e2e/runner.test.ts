import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchX509SvidsOnce } from '../sim/common/workload-client.js';
import { listEntries } from '../sim/topology.js';
import { sandbox } from '../sim-tests/harness.js';
import { ADMIN_PASSWORD, type Env, leakScan, makeEnv, startDaemon, uid, waitReady } from './harness.js';
import { expectNoSecrets, usedToken, usedTokens } from './secrets.js';

const box = sandbox('e2e-runner');
afterAll(() => box.cleanup());

const nestedSocket = (env: Env) => (env.config.nested_server as { socket_path: string }).socket_path;
const downstreamSocket = (env: Env) => (env.config.downstream_agent as { socket_path: string }).socket_path;

/** SPIFFE IDs of every entry on the nested server, through its admin socket as `spire-server entry show` does. */
const nestedEntryIds = async (env: Env) =>
  (await listEntries(nestedSocket(env))).map((e) => e.spiffeId).sort();

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const auditLines = (env: Env) =>
  readFileSync(join(env.config.state_dir as string, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; source: string; fingerprint: string });

describe('the runner applies what the machine decides', () => {
  it('registers a workload added by SIGHUP on the nested server', async () => {
    const env = await makeEnv(box.dir('reload-workload'));
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    const before = await nestedEntryIds(env);
    const added = `spiffe://${env.server.trustDomain}/services/checker`;
    expect(before).not.toContain(added);

    const workloads = env.config.workloads as unknown[];
    workloads.push({ name: 'checker', spiffe_id: added, selectors: [`unix:uid:${uid}`] });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(env.configPath, JSON.stringify(env.config, null, 2));
    daemon.child.kill('SIGHUP');

    const after = await until(
      () => nestedEntryIds(env),
      (ids) => ids.includes(added),
    );
    expect(after).toEqual([...before, added].sort());
    await daemon.stop();
  });

  it('audits and counts the downstream agent token like the upstream one', async () => {
    const env = await makeEnv(box.dir('downstream-audit'));
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    const audit = auditLines(env);
    const downstream = audit.filter((a) => a.source === 'nested-server');
    expect(downstream.map((a) => a.event)).toEqual(['token-acquired', 'token-consumed']);
    const scrape = await (await fetch(`${env.httpUrl}/metrics`)).text();
    expect(scrape).toContain(
      'poller_bootstrap_token_requests_total{source="nested-server",result="success"} 1',
    );
    await daemon.stop();
  });

  it('replaces a downstream token the nested server refuses, and the poller gets its SVID', async () => {
    const env = await makeEnv(box.dir('downstream-refused'), (c) => {
      const spire = c.spire as { child_env: string[] };
      // Only the nested server acts on this knob: it refuses (and burns) the first token it is offered.
      spire.child_env = [...spire.child_env, `SIM_FAULTS=${JSON.stringify({ rejectAttestations: 1 })}`];
    });
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    const downstream = auditLines(env).filter((a) => a.source === 'nested-server');
    expect(downstream.map((a) => a.event)).toEqual([
      'token-acquired',
      'token-rejected',
      'token-acquired',
      'token-consumed',
    ]);
    const ids = await until(
      () =>
        fetchX509SvidsOnce(downstreamSocket(env)).then(
          (x) => x.map((v) => v.spiffe_id),
          () => [],
        ),
      (x) => x.length > 0,
    );
    expect(ids).toEqual([`spiffe://${env.server.trustDomain}/services/poller`]);
    await expectNoSecrets(leakScan(env, daemon), [
      ...usedTokens(env.config.state_dir as string),
      usedToken(env.config.state_dir as string) ?? '',
      ADMIN_PASSWORD,
    ]);
    await daemon.stop();
  });
});
