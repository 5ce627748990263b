import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchX509SvidsOnce } from '../sim/common/workload-client.js';
import { createEntries, mintToken, startAgent } from '../sim/topology.js';
import { sandbox } from '../sim-tests/harness.js';
import {
  ADMIN_PASSWORD,
  adminStats,
  DAEMON,
  type Env,
  leakScan,
  makeEnv,
  startDaemon,
  uid,
  waitReady,
} from './harness.js';
import { expectNoSecrets, usedToken, usedTokens } from './secrets.js';

const box = sandbox('e2e-daemon');
afterAll(() => box.cleanup());

const tokenFile = (env: Env) => (env.config.token as { file: string }).file;
const stateDir = (env: Env) => env.config.state_dir as string;
const status = async (env: Env) =>
  (await (await fetch(`${env.httpUrl}/status`)).json()) as {
    phase: string;
    children: { name: string; pid: number; restarts: number; status: string }[];
  };

/** Puts a token where an operator (or the old shell scripts) would: the token file, 0600 in a 0700 folder. */
function dropToken(env: Env, token: string): void {
  mkdirSync(dirname(tokenFile(env)), { recursive: true, mode: 0o700 });
  writeFileSync(tokenFile(env), token, { mode: 0o600 });
}

/** Burns a token on the cluster server the way a previous boot would have, with a throwaway agent. */
async function burnedToken(env: Env): Promise<string> {
  const token = await mintToken(env.server);
  const agent = await startAgent(join(env.dir, 'burner'), env.server, {
    joinToken: token.value,
    env: { SIM_TIME_SCALE: '0.05' },
  });
  await agent.proc.stop();
  return token.value;
}

describe('poller-bootstrap run against the simulator', () => {
  it('bootstraps from nothing to ready with one token request, deletes the token and serves workloads', async () => {
    const env = await makeEnv(box.dir('fresh'));
    const daemon = startDaemon(env);
    await waitReady(env, daemon);

    expect(await adminStats(env)).toMatchObject({ join_tokens_requested: 1, join_tokens_issued: 1 });
    expect(existsSync(tokenFile(env))).toBe(false);
    const s = await status(env);
    expect(s.phase).toBe('ready');
    expect(s.children.map((c) => [c.name, c.status])).toEqual([
      ['upstream-agent', 'ready'],
      ['nested-server', 'ready'],
      ['downstream-agent', 'ready'],
    ]);
    // The poller's identity comes from the downstream agent, through the nested server; the agent entry needs
    // gid 4242, which this test process does not have.
    const socket = (env.config.downstream_agent as { socket_path: string }).socket_path;
    let ids: string[] = [];
    while (ids.length === 0)
      ids = await fetchX509SvidsOnce(socket).then(
        (x) => x.map((v) => v.spiffe_id),
        () => [],
      );
    expect(ids).toEqual(['spiffe://example.org/services/poller']);

    await expectNoSecrets(leakScan(env, daemon), [
      ...usedTokens(env.config.state_dir as string),
      usedToken(stateDir(env)) ?? '',
      ADMIN_PASSWORD,
    ]);

    // Restarting after ready asks for no new token: the agent loads its SVID from disk.
    await daemon.stop();
    expect((await daemon.exited).code).toBe(0);
    const again = startDaemon(env);
    await waitReady(env, again);
    expect((await adminStats(env)).join_tokens_requested).toBe(1);
    expect(again.lines.some((l) => l.includes('"msg":"SVID loaded"'))).toBe(true);
    await expectNoSecrets(leakScan(env, again), [
      ...usedTokens(env.config.state_dir as string),
      usedToken(stateDir(env)) ?? '',
      ADMIN_PASSWORD,
    ]);
    await again.stop();
  });

  it('replaces a used token with exactly one new one', async () => {
    const env = await makeEnv(box.dir('used'));
    const burned = await burnedToken(env);
    dropToken(env, burned);
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    expect((await adminStats(env)).join_tokens_requested).toBe(1);
    expect(daemon.lines.some((l) => l.includes('refused the join token from file'))).toBe(true);
    await expectNoSecrets(leakScan(env, daemon), [
      ...usedTokens(env.config.state_dir as string),
      burned,
      usedToken(stateDir(env)) ?? '',
      ADMIN_PASSWORD,
    ]);
    await daemon.stop();
  });

  it('replaces an expired token with exactly one new one', async () => {
    const env = await makeEnv(box.dir('expired'));
    const expired = await mintToken(env.server, 1);
    while (Date.now() <= expired.expires_at * 1000) await new Promise((r) => setTimeout(r, 50));
    dropToken(env, expired.value);
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    expect((await adminStats(env)).join_tokens_requested).toBe(1);
    expect(daemon.lines.some((l) => l.includes('it has expired'))).toBe(true);
    await expectNoSecrets(leakScan(env, daemon), [
      ...usedTokens(env.config.state_dir as string),
      expired.value,
      ADMIN_PASSWORD,
    ]);
    await daemon.stop();
  });

  it('restarts a SIGKILLed upstream agent without a new token, and SIGTERM leaves no child behind', async () => {
    const env = await makeEnv(box.dir('kill'));
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    const before = (await status(env)).children;
    const agent = before.find((c) => c.name === 'upstream-agent');
    process.kill(agent?.pid as number, 'SIGKILL');
    let after = await status(env);
    while (!(after.phase === 'ready' && after.children[0]?.restarts === 1)) after = await status(env);
    expect(after.children[0]?.pid).not.toBe(agent?.pid);
    expect((await adminStats(env)).join_tokens_requested).toBe(1);

    const pids = after.children.map((c) => c.pid);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`), `child ${pid} still running`).toBe(false);
  });

  it('gives a downstream agent that lost its identity a new token from the nested server', async () => {
    const env = await makeEnv(box.dir('downstream-lost'));
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    const downstream = (await status(env)).children.find((c) => c.name === 'downstream-agent');
    rmSync(join(stateDir(env), 'downstream-agent', 'data', 'agent-data.json'));
    process.kill(downstream?.pid as number, 'SIGKILL');
    let s = await status(env);
    while (!(s.phase === 'ready' && s.children[2]?.restarts === 1)) s = await status(env);
    // The upstream token was never needed again: the new token came from the nested server.
    expect((await adminStats(env)).join_tokens_requested).toBe(1);
    expect(existsSync(join(env.config.run_dir as string, 'downstream-join-token'))).toBe(false);
    await daemon.stop();
  });

  it('uses a token file dropped in while it waits, at once', async () => {
    const env = await makeEnv(box.dir('drop-in'), (c) => {
      (c.token as { sources: string[] }).sources = ['file'];
    });
    const daemon = startDaemon(env);
    let s = await status(env).catch(() => ({ phase: '' }));
    while (s.phase !== 'backoff') s = await status(env).catch(() => ({ phase: '' }));
    // With no source yielding, the next try is minutes away: only the file watch can make this quick.
    const token = await mintToken(env.server);
    const parentId = `spiffe://${env.server.trustDomain}/spire/agent/join_token/${token.value}`;
    await createEntries(env.server, [
      {
        spiffeId: 'spiffe://example.org/ns/edge/poller-nested-spire',
        parentId,
        selectors: [`unix:uid:${uid}`],
        downstream: true,
      },
    ]);
    dropToken(env, token.value);
    await waitReady(env, daemon, 30_000);
    expect(daemon.lines.some((l) => l.includes('a join token file arrived'))).toBe(true);
    expect(existsSync(tokenFile(env))).toBe(false);
    await expectNoSecrets(leakScan(env, daemon), [
      ...usedTokens(env.config.state_dir as string),
      token.value,
      ADMIN_PASSWORD,
    ]);
    await daemon.stop();
  });

  it('rides out an admin API answering 503 three times', async () => {
    const env = await makeEnv(box.dir('503'), () => {}, {
      SIM_FAULTS: JSON.stringify({ failNext: 3, failStatus: 503 }),
    });
    const daemon = startDaemon(env);
    await waitReady(env, daemon, 60_000);
    // The first three requests (the login among them) fail; then one token is issued.
    expect(await adminStats(env)).toMatchObject({
      faults_failed: 3,
      join_tokens_requested: 1,
      join_tokens_issued: 1,
    });
    await expectNoSecrets(leakScan(env, daemon), [
      ...usedTokens(env.config.state_dir as string),
      usedToken(stateDir(env)) ?? '',
      ADMIN_PASSWORD,
    ]);
    await daemon.stop();
  });

  it('exits 78 naming the field of a malformed config', async () => {
    const path = join(box.root, 'bad.json');
    writeFileSync(
      path,
      JSON.stringify({
        trust_domain: 'example.org',
        upstream: { server_address: 'x', server_port: 'eighty' },
      }),
    );
    const res = spawnSync(process.execPath, [DAEMON, 'run', '--config', path], { encoding: 'utf8' });
    expect(res.status).toBe(78);
    expect(res.stderr).toContain('upstream.server_port');
    expect(readFileSync(path, 'utf8')).toContain('eighty');
  });
});
