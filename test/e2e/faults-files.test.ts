// Fault matrix rows 6, 7 and 10: the token's folder unusable mid-flight, a token file others can read, and the
// configuration file garbled, replaced or changed while the daemon runs.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEntries, joinTokenAgentId, listEntries, mintToken } from '../sim/topology.js';
import { sandbox } from '../sim-tests/harness.js';
import {
  adminControl,
  bootReady,
  endCase,
  metric,
  section,
  setFaults,
  stateDir,
  status,
  until,
  untilError,
  untilStats,
  untilStatus,
} from './faults.js';
import { adminStats, type Env, makeEnv, startDaemon, uid, waitReady } from './harness.js';

const box = sandbox('e2e-faults-files');
afterAll(() => box.cleanup());

const tokenFile = (env: Env) => section(env.config, 'token').file as string;
const sh = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;

// Root ignores file modes; a read-only bind mount is what makes a folder read-only for root too.
const probe = mkdtempSync(join(tmpdir(), 'pb-mount-probe-'));
const canMount = sh('mount', '--bind', probe, probe) && sh('umount', probe);
rmSync(probe, { recursive: true, force: true });

interface Unusable {
  name: string;
  /** Makes the token's folder unusable; the daemon must name the path and retry. */
  break(dir: string): void;
  restore(dir: string): void;
  errno: string;
  hint: string | null;
}

const UNUSABLE: Unusable[] = [
  {
    name: 'a regular file in its place',
    break(dir) {
      rmSync(dir, { recursive: true });
      writeFileSync(dir, 'not a folder');
    },
    restore(dir) {
      rmSync(dir);
      mkdirSync(dir, { mode: 0o700 });
    },
    errno: 'EEXIST',
    hint: null,
  },
  ...(canMount
    ? [
        {
          name: 'a read-only mount',
          break: (dir: string) =>
            expect(sh('mount', '--bind', dir, dir) && sh('mount', '-o', 'remount,bind,ro', dir)).toBe(true),
          restore: (dir: string) => expect(sh('umount', dir)).toBe(true),
          errno: 'EROFS',
          hint: 'free space on, or make writable, the file system named in the message',
        },
      ]
    : []),
];
if (!canMount) console.warn('skipping the read-only token folder case: mount --bind is not permitted here');

describe('files the daemon depends on', () => {
  it.each(UNUSABLE)(
    'retries writing the token when its folder is $name, then uses that one token',
    async (c) => {
      const env = await makeEnv(box.dir(`token-dir-${c.errno}`), (cfg) => {
        section(cfg, 'token').file = join(cfg.run_dir as string, 'token', 'upstream-join-token');
      });
      const folder = dirname(tokenFile(env));
      // The admin API answers after 1.5 s: the folder breaks while the token is being minted.
      await setFaults(adminControl(env), { latencyMs: 1_500 });
      const daemon = startDaemon(env);
      await untilStats(env, (s) => s.join_tokens_requested === 1, 'mint request in flight');
      c.break(folder);
      try {
        const failing = await untilStatus(
          env,
          (s) => s.lastError?.code === 'io' && s.pending?.timer === 'step-retry',
          'write failure shown',
        );
        expect(failing.lastError?.step).toBe('write-token');
        expect(failing.lastError?.message).toContain(folder);
        expect(failing.lastError?.message).toContain(c.errno);
        expect(failing.lastError?.hint).toBe(c.hint);
      } finally {
        c.restore(folder);
      }
      await waitReady(env, daemon);
      expect((await adminStats(env)).join_tokens_issued).toBe(1);
      await endCase(env, daemon, { outcome: 'ready', maxTokens: 1 });
    },
  );

  it('refuses a token file others can read until it is chmod 600, then uses it at once', async () => {
    const env = await makeEnv(box.dir('token-0644'), (cfg) => {
      delete section(cfg, 'token').sources; // the default sources: credentials, file, admin API
    });
    const token = await mintToken(env.server);
    await createEntries(env.server, [
      {
        spiffeId: section(env.config, 'downstream').spiffe_id as string,
        parentId: joinTokenAgentId(env.server, token.value),
        selectors: [`unix:uid:${uid}`],
        downstream: true,
      },
    ]);
    mkdirSync(dirname(tokenFile(env)), { recursive: true, mode: 0o700 });
    writeFileSync(tokenFile(env), token.value);
    chmodSync(tokenFile(env), 0o644);
    const daemon = startDaemon(env);
    const refused = await untilError(env, 'insecure-file');
    expect(refused.lastError?.message).toContain('mode 0644');
    expect(refused.lastError?.hint).toContain(`chmod 600 ${tokenFile(env)}`);
    const audit = readFileSync(join(stateDir(env), 'audit.jsonl'), 'utf8');
    expect(audit).toContain('"event":"token-refused-insecure"');
    expect((await adminStats(env)).requests ?? 0).toBe(0);
    expect(readFileSync(tokenFile(env), 'utf8')).toBe(token.value);
    expect(statSync(tokenFile(env)).mode & 0o777).toBe(0o644);

    chmodSync(tokenFile(env), 0o600);
    // The next try is minutes away: only the watch on the file can make this quick.
    await waitReady(env, daemon, 20_000);
    expect((await adminStats(env)).requests ?? 0).toBe(0);
    await endCase(env, daemon, { outcome: 'ready', maxTokens: 0, secrets: [token.value] });
  });

  it('keeps running on a garbled config, and clears the error once it is fixed', async () => {
    const { env, daemon, token } = await bootReady(box.dir('config-garbage'));
    const good = readFileSync(env.configPath, 'utf8');
    writeFileSync(env.configPath, '{ "trust_domain": ');
    const bad = await untilStatus(env, (s) => s.lastError?.step === 'reload', 'reload failure');
    expect(bad.phase).toBe('ready');
    expect(await metric(env, 'config_reloads_total', '{result="failure"}')).toBe(1);
    writeFileSync(env.configPath, good);
    await untilStatus(env, (s) => s.lastError === null, 'reload error cleared');
    expect(await metric(env, 'config_reloads_total', '{result="success"}')).toBe(1);
    await endCase(env, daemon, { outcome: 'ready', maxTokens: 1, identity: token });
  });

  it('reloads a config deleted and written again, registering the workload it adds', async () => {
    const { env, daemon, token } = await bootReady(box.dir('config-recreated'));
    const added = `spiffe://${env.server.trustDomain}/services/checker`;
    const workloads = env.config.workloads as unknown[];
    workloads.push({ name: 'checker', spiffe_id: added, selectors: [`unix:uid:${uid}`] });
    unlinkSync(env.configPath);
    writeFileSync(env.configPath, JSON.stringify(env.config, null, 2));
    const nestedSocket = section(env.config, 'nested_server').socket_path as string;
    await until(
      () => listEntries(nestedSocket),
      (entries) => entries.some((e) => e.spiffeId === added),
      'the added workload registered',
    );
    await endCase(env, daemon, { outcome: 'ready', maxTokens: 1, identity: token });
  });

  it('restarts every child with a changed spire.child_env on SIGHUP, counting no crash', async () => {
    const { env, daemon, token } = await bootReady(box.dir('child-env'));
    const before = (await status(env)).children.map((c) => c.pid);
    const spire = section(env.config, 'spire') as { child_env: string[] };
    spire.child_env = [...spire.child_env, 'POLLER_E2E_MARK=reloaded'];
    writeFileSync(env.configPath, JSON.stringify(env.config, null, 2));
    daemon.child.kill('SIGHUP');
    const after = await untilStatus(
      env,
      (s) => s.phase === 'ready' && s.children.every((c, i) => c.status === 'ready' && c.pid !== before[i]),
      'every child restarted',
    );
    for (const c of after.children) {
      expect(readFileSync(`/proc/${c.pid}/environ`, 'utf8').split('\0'), c.name).toContain(
        'POLLER_E2E_MARK=reloaded',
      );
      expect(c.restarts, c.name).toBe(0);
    }
    await endCase(env, daemon, { outcome: 'ready', maxTokens: 1, identity: token });
  });
});
