// Fault matrix rows 3, 8 and 9: SPIRE children killed or crash-looping, a trust bundle that does not match the
// server, and the nested server's downstream entry deleted on the cluster server.
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchX509SvidsOnce } from '../sim/common/workload-client.js';
import { createEntries, deleteEntries, joinTokenAgentId, listEntries, startServer } from '../sim/topology.js';
import { sandbox } from '../sim-tests/harness.js';
import {
  bootReady,
  child,
  endCase,
  metric,
  section,
  stateDir,
  status,
  until,
  untilError,
  untilStatus,
  waitedMs,
} from './faults.js';
import { type Env, makeEnv, startDaemon, uid, waitReady } from './harness.js';

const box = sandbox('e2e-faults-children');
afterAll(() => box.cleanup());

/** SIGKILLs a child once it is ready with a pid other than `previous`; resolves with the pid killed. */
async function killWhenReady(env: Env, name: string, previous?: number) {
  const s = await untilStatus(
    env,
    (x) => child(x, name).status === 'ready' && child(x, name).pid !== previous,
    `${name} ready again`,
  );
  const pid = child(s, name).pid as number;
  process.kill(pid, 'SIGKILL');
  return pid;
}

describe('SPIRE children failing', () => {
  it.each(['upstream-agent', 'nested-server', 'downstream-agent'])(
    'restarts a SIGKILLed %s without a new token',
    async (name) => {
      const { env, daemon, token } = await bootReady(box.dir(`kill-${name}`));
      const killed = await killWhenReady(env, name);
      const s = await untilStatus(
        env,
        (x) => x.phase === 'ready' && child(x, name).restarts === 1 && child(x, name).pid !== killed,
        `${name} restarted`,
      );
      expect(s.children.filter((c) => c.name !== name).map((c) => c.restarts)).toEqual([0, 0]);
      expect(await metric(env, 'child_restarts_total', `{child="${name}"}`)).toBe(1);
      expect(await metric(env, 'child_failures_total', `{child="${name}",reason="child-killed"}`)).toBe(1);
      await endCase(env, daemon, { outcome: 'ready', maxTokens: 1, identity: token });
    },
  );

  it('backs off a crash-looping nested server, then gets ready', async () => {
    const { env, daemon, token } = await bootReady(box.dir('crash-loop'));
    let pid: number | undefined;
    for (let i = 0; i < 3; i++) pid = await killWhenReady(env, 'nested-server', pid);
    // Third crash in a row: restart.initialMs (500 ms) doubled twice, ±20 %.
    const waiting = await untilStatus(
      env,
      (x) => x.pending?.timer === 'restart' && child(x, 'nested-server').restarts === 3,
      'restart backoff',
    );
    expect(waiting.pending).toMatchObject({ timer: 'restart', child: 'nested-server' });
    expect(waiting.phase).toBe('degraded');
    expect(waitedMs(waiting)).toBeGreaterThanOrEqual(1_600);
    expect(waitedMs(waiting)).toBeLessThanOrEqual(2_400);
    expect(waiting.lastError).toMatchObject({ code: 'child-killed', source: 'nested-server' });
    await untilStatus(env, (x) => x.phase === 'ready', 'ready after the crash loop');
    expect(child(await status(env), 'nested-server').restarts).toBe(3);
    await endCase(env, daemon, { outcome: 'ready', maxTokens: 1, identity: token });
  });

  it('names a trust bundle that does not match the server, and restarts the agent as soon as it is fixed', async () => {
    const bundle = join(box.root, 'trust-bundle.pem');
    const env = await makeEnv(box.dir('trust-bundle'), (c) => {
      section(c, 'upstream').trust_bundle_path = bundle;
    });
    // The bundle of an unrelated server in the same trust domain: the agent cannot verify the real one.
    const other = await startServer(join(env.dir, 'other'), { env: { SIM_TIME_SCALE: '0.05' } });
    copyFileSync(other.bundlePath, bundle);
    await other.proc.stop();
    const daemon = startDaemon(env);
    const wrong = await untilError(env, 'trust-bundle-mismatch');
    expect(wrong.lastError?.hint).toContain(bundle);
    expect(wrong.phase).toBe('start-upstream-agent');

    copyFileSync(env.server.bundlePath, bundle);
    await waitReady(env, daemon);
    expect(daemon.lines.some((l) => l.includes('"msg":"trust bundle changed"'))).toBe(true);
    expect(
      daemon.lines.some((l) => /"child":"upstream-agent".*"reason":"input-changed"/.test(l)),
      'the agent was stopped because its input changed',
    ).toBe(true);
    expect(child(await status(env), 'upstream-agent').restarts).toBe(0);
    await endCase(env, daemon, { outcome: 'ready', maxTokens: 1 });
  });

  it('names the downstream entry missing on the cluster server when the nested server needs a new CA', async () => {
    const { env, daemon, token } = await bootReady(box.dir('entry-deleted'));
    const downstreamId = section(env.config, 'downstream').spiffe_id as string;
    const entry = (await listEntries(env.server.socket)).find((e) => e.spiffeId === downstreamId);
    expect(await deleteEntries(env.server.socket, [entry?.id as string])).toEqual([0]);
    // This test runs as the user the entry selects (unix:uid), so it sees what the nested server would get.
    const agentSocket = section(env.config, 'upstream_agent').socket_path as string;
    await until(
      () =>
        fetchX509SvidsOnce(agentSocket).then(
          (x) => x.map((v) => v.spiffe_id),
          (): string[] => [],
        ),
      (ids) => !ids.includes(downstreamId),
      'the upstream agent no longer issues the downstream identity',
    );
    // SPIRE reloads a journaled CA whose key it still holds without asking upstream (ca/manager NewManager):
    // only a server that lost its CA key has to mint a new CA through the upstream agent.
    rmSync(join(stateDir(env), 'server', 'keys', 'keys.json'));
    process.kill(child(await status(env), 'nested-server').pid as number, 'SIGKILL');
    const missing = await untilError(env, 'no-identity-issued');
    expect(missing.lastError?.message).toContain(downstreamId);
    expect(missing.phase).toBe('degraded');
    expect((await fetch(`${env.httpUrl}/readyz`)).status).not.toBe(200);

    // The entry back, as the cluster's operator would create it: the nested server's watch picks it up.
    await createEntries(env.server, [
      {
        spiffeId: downstreamId,
        parentId: joinTokenAgentId(env.server, token as string),
        selectors: [`unix:uid:${uid}`],
        downstream: true,
      },
    ]);
    await waitReady(env, daemon);
    await endCase(env, daemon, { outcome: 'ready', maxTokens: 1, identity: token });
  });
});
