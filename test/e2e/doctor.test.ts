import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../sim/topology.js';
import { sandbox } from '../sim-tests/harness.js';
import { DAEMON, type Env, makeEnv, startDaemon, waitReady } from './harness.js';

const box = sandbox('e2e-doctor');
afterAll(() => box.cleanup());

interface Row {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix: string | null;
}

function doctor(env: Env) {
  const res = spawnSync(process.execPath, [DAEMON, 'doctor', '--config', env.configPath, '--json'], {
    encoding: 'utf8',
  });
  const report = JSON.parse(res.stdout) as { ok: boolean; checks: Row[] };
  return { code: res.status, report, row: (check: string) => report.checks.filter((r) => r.check === check) };
}

const rewrite = (env: Env, change: (c: Record<string, unknown>) => void) => {
  change(env.config);
  writeFileSync(env.configPath, JSON.stringify(env.config, null, 2));
};

describe('poller-bootstrap doctor', () => {
  it('finds nothing wrong on a host ready to enrol, and says what run will do', async () => {
    const env = await makeEnv(box.dir('fresh'));
    const { code, report, row } = doctor(env);
    expect(
      report.checks.filter((r) => r.status === 'fail'),
      JSON.stringify(report, null, 2),
    ).toEqual([]);
    expect(code).toBe(0);
    expect(row('spire.agent_path')[0]).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('is SPIRE 1.13.3'),
    });
    expect(row('upstream-agent')[0]).toMatchObject({
      status: 'warn',
      fix: 'nothing: run enrols with a join token',
    });
    expect(row('upstream.server_address')[0]?.status).toBe('ok');
    expect(row('admin_api')[0]).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('accepted the login'),
    });
    expect(row('clock')[0]?.status).toBe('ok');
  });

  it('says the ports are held by the running daemon, and the identities valid, once enrolled', async () => {
    const env = await makeEnv(box.dir('enrolled'));
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    const { code, row } = doctor(env);
    expect(code).toBe(0);
    expect(row('http.listen')[0]?.detail).toContain('held by the running daemon');
    expect(row('upstream-agent')[0]?.status).toBe('ok');
    await daemon.stop();
  });

  it('fails a trust bundle from another server, a refused login and a version mismatch, each with its fix', async () => {
    const env = await makeEnv(box.dir('broken'));
    const other = await startServer(join(env.dir, 'other'), { env: { SIM_TIME_SCALE: '0.05' } });
    const bundle = join(env.dir, 'wrong-bundle.pem');
    copyFileSync(other.bundlePath, bundle);
    const wrongPassword = join(env.dir, 'wrong-password');
    writeFileSync(wrongPassword, 'not-it', { mode: 0o600 });
    rewrite(env, (c) => {
      (c.upstream as Record<string, unknown>).trust_bundle_path = bundle;
      (c.admin_api as Record<string, unknown>).password_file = wrongPassword;
      (c.spire as Record<string, unknown>).version = '1.11.2';
    });
    const { code, row } = doctor(env);
    expect(code).toBe(1);
    expect(row('upstream.server_address')[0]).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining(`put the server's current bundle (spire-server bundle show) at ${bundle}`),
    });
    expect(row('admin_api')[0]).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('admin_api.username'),
    });
    expect(row('spire.agent_path')[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('is SPIRE 1.13.3, the configs are rendered for 1.11.2'),
      fix: 'set spire.version to "1.13.3", or to "auto"',
    });
  });
});
