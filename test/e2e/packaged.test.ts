import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAddonFile } from '../../src/daemon/notify-socket.js';
import { sandbox } from '../sim-tests/harness.js';
import { ADMIN_PASSWORD, adminStats, leakScan, makeEnv, startDaemon, waitReady } from './harness.js';
import { expectNoSecrets, usedToken, usedTokens } from './secrets.js';

// `npm run package` builds these; the suite is skipped without them, except in CI where they are required.
const root = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/dist\/$/, '/');
const EXE = join(root, 'dist/pkg/poller-bootstrap');
const ADDON = join(root, 'dist/pkg/build/sd-notify.node');
const CONFFILE = join(root, 'packaging/etc/poller-bootstrap.json');
const built = existsSync(EXE) && existsSync(ADDON);
const skip = !built && !process.env.CI;
if (skip) console.warn('skipping the packaged executable tests: run `npm run package` first');
const reason = skip ? ' (skipped: dist/pkg/poller-bootstrap not built; run `npm run package`)' : '';

// PATH without any folder that holds a node binary: the executable must not need one.
const NO_NODE_PATH = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => dir !== '' && !existsSync(join(dir, 'node')))
  .join(delimiter);
// Started from / with env --chdir: nothing may be looked up relative to the working directory.
const FROM_ROOT = ['/usr/bin/env', '--chdir=/', EXE];

const box = sandbox('e2e-packaged');
afterAll(() => box.cleanup());

describe.skipIf(skip)(`the packaged executable${reason}`, () => {
  it('exists: npm run package built it', () => {
    expect(built, 'dist/pkg/poller-bootstrap and dist/pkg/build/sd-notify.node').toBe(true);
  });

  it('prints its version and renders the shipped config from / with no node on PATH', () => {
    const env = { PATH: NO_NODE_PATH };
    const version = spawnSync(EXE, ['--version'], { cwd: '/', env, encoding: 'utf8' });
    expect([version.status, version.stdout]).toEqual([0, 'poller-bootstrap 0.1.0\n']);
    expect(spawnSync('sh', ['-c', 'command -v node'], { env }).status).not.toBe(0);

    const render = spawnSync(EXE, ['render', '--config', CONFFILE], { cwd: '/', env, encoding: 'utf8' });
    expect(render.status, render.stderr).toBe(0);
    expect(render.stdout).toContain('# /run/spire/nested/conf/upstream-agent.conf');
    expect(render.stdout).toContain('socket_path = "/run/spire/nested-workload/agent.sock"');
    expect(render.stdout).toContain('join_token_file = "/run/spire/nested/upstream-join-token"');
  });

  it('renders for SPIRE 1.11.2 and 1.15.3, differing only in the join token file (docs/upgrade-spire.md)', () => {
    const render = (version: string) =>
      spawnSync(EXE, ['render', '--config', CONFFILE], {
        cwd: '/',
        env: { PATH: NO_NODE_PATH, POLLER_BOOTSTRAP_SPIRE_VERSION: version },
        encoding: 'utf8',
      }).stdout.split('\n');
    const old = render('1.11.2');
    const current = render('1.15.3');
    expect(current.filter((l) => !old.includes(l))).toEqual([
      '  join_token_file = "/run/spire/nested/upstream-join-token"',
      '  join_token_file = "/run/spire/nested/downstream-join-token"',
    ]);
    expect(old.filter((l) => !current.includes(l))).toEqual([]);
  });

  it('bootstraps to ready, tells systemd from its own PID, pings the watchdog and stops cleanly', async () => {
    const env = await makeEnv(box.dir('packaged'), (c) => {
      const spire = c.spire as { child_env: string[] };
      // The simulator is node scripts; the daemon gives its children only PATH (here without node) and these.
      spire.child_env = [...spire.child_env, `SIM_NODE=${process.execPath}`];
    });
    // A stand-in for systemd's notification socket; it reads each sender's PID as systemd does.
    const addon = loadAddonFile(ADDON);
    const notifySocket = join(env.dir, 'notify.sock');
    const fd = addon.bind(notifySocket);
    expect(fd).toBeGreaterThanOrEqual(0);
    const received = () => {
      const out: { pid: number; message: string }[] = [];
      for (let m = addon.receive(fd); m !== null; m = addon.receive(fd)) out.push(m);
      return out;
    };
    // Read as systemd does, all along: the kernel queues only a few datagrams (net.unix.max_dgram_qlen).
    const drained: { pid: number; message: string }[] = [];
    const drain = setInterval(() => drained.push(...received()), 20);
    try {
      const daemon = startDaemon(
        env,
        { PATH: NO_NODE_PATH, NOTIFY_SOCKET: notifySocket, WATCHDOG_USEC: '2000000' },
        FROM_ROOT,
      );
      await waitReady(env, daemon);
      drained.push(...received());
      const pid = daemon.child.pid;
      expect(await adminStats(env)).toMatchObject({ join_tokens_requested: 1, join_tokens_issued: 1 });

      const untilReady = drained.splice(0);
      expect(untilReady.filter((m) => m.pid !== pid)).toEqual([]);
      expect(untilReady.map((m) => m.message)).toContain('WATCHDOG=1');
      expect(untilReady.filter((m) => m.message.includes('READY=1')).map((m) => m.message)).toEqual([
        'READY=1\nSTATUS=ready',
      ]);
      await expectNoSecrets(leakScan(env, daemon), [
        ...usedTokens(env.config.state_dir as string),
        usedToken(env.config.state_dir as string) ?? '',
        ADMIN_PASSWORD,
      ]);

      await daemon.stop();
      expect((await daemon.exited).code).toBe(0);
      drained.push(...received());
      const atStop = drained.splice(0);
      expect(atStop.map((m) => m.message)).toContain('STOPPING=1\nSTATUS=stopping');
      expect(atStop.filter((m) => m.pid !== pid)).toEqual([]);
      const everything = [...untilReady, ...atStop].map((m) => m.message).join('\n');
      expect(everything).not.toContain(ADMIN_PASSWORD);
      expect(everything).not.toContain(usedToken(env.config.state_dir as string));
    } finally {
      clearInterval(drain);
      addon.close(fd);
    }
  });

  it('refuses to run without the SPIRE binaries, naming the path and the key (exit 69)', () => {
    const dir = box.dir('no-spire');
    mkdirSync(dir, { recursive: true });
    const configPath = join(dir, 'poller-bootstrap.json');
    const config = {
      trust_domain: 'example.org',
      state_dir: join(dir, 'state'),
      run_dir: join(dir, 'run'),
      upstream: { server_address: '127.0.0.1', insecure_bootstrap: true },
      spire: { agent_path: join(dir, 'spire-agent'), server_path: '/bin/sh' },
    };
    writeFileSync(configPath, JSON.stringify(config));
    const run = spawnSync(EXE, ['run', '--config', configPath], {
      cwd: '/',
      env: { PATH: NO_NODE_PATH },
      encoding: 'utf8',
    });
    expect(run.status).toBe(69);
    expect(run.stderr).toContain(
      `spire.agent_path: ${config.spire.agent_path} does not exist; install SPIRE there or set spire.agent_path`,
    );
    // Nothing was started or created.
    expect(existsSync(config.state_dir)).toBe(false);
  });
});
