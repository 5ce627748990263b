import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNotifier, type NotifyExec, notifyArgs } from '../../../src/daemon/notify.js';

interface Call {
  file: string;
  args: readonly string[];
  env: Record<string, string>;
}

function recorder(fail = false): { exec: NotifyExec; calls: Call[] } {
  const calls: Call[] = [];
  const exec: NotifyExec = async (file, args, options) => {
    calls.push({ file, args, env: options.env });
    if (fail) throw new Error('Command failed with exit code 1: systemd-notify --ready');
  };
  return { exec, calls };
}

const ENV = { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/usr/bin:/bin', ADMIN_PASSWORD: 'hunter2' };
const ENV_CHILD = { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/usr/bin:/bin' };

describe('notifyArgs', () => {
  it.each([
    [{ ready: true }, ['--pid=42', '--ready']],
    [{ ready: true, status: 'ready' }, ['--pid=42', '--ready', '--status=ready']],
    [{ status: 'starting upstream agent' }, ['--pid=42', '--status=starting upstream agent']],
    [{ stopping: true, status: 'stopping' }, ['--pid=42', '--status=stopping', 'STOPPING=1']],
    [{ status: 'line one\nline two' }, ['--pid=42', '--status=line one line two']],
  ])('%j → %j', (message, expected) => {
    expect(notifyArgs(message, 42)).toEqual(expected);
  });

  it('masks a join-token agent ID in the status text', () => {
    const [, status] = notifyArgs({ status: 'attested as spiffe://td/spire/agent/join_token/abc-123' }, 1);
    expect(status).toMatch(/^--status=attested as spiffe:\/\/td\/spire\/agent\/join_token\/[0-9a-f]{12}…$/);
  });
});

describe('createNotifier', () => {
  it('runs systemd-notify with the daemon pid and only NOTIFY_SOCKET and PATH in its environment', async () => {
    const { exec, calls } = recorder();
    const notifier = createNotifier({ env: ENV, pid: 1234, exec });
    expect(notifier.enabled).toBe(true);
    await notifier.status('acquiring a join token');
    await notifier.ready('ready');
    await notifier.stopping();
    expect(calls).toEqual([
      { file: 'systemd-notify', args: ['--pid=1234', '--status=acquiring a join token'], env: ENV_CHILD },
      { file: 'systemd-notify', args: ['--pid=1234', '--ready', '--status=ready'], env: ENV_CHILD },
      { file: 'systemd-notify', args: ['--pid=1234', 'STOPPING=1'], env: ENV_CHILD },
    ]);
  });

  it('runs nothing when NOTIFY_SOCKET is unset or empty', async () => {
    for (const env of [{ PATH: '/usr/bin' }, { NOTIFY_SOCKET: '', PATH: '/usr/bin' }]) {
      const { exec, calls } = recorder();
      const notifier = createNotifier({ env, exec });
      expect(notifier.enabled).toBe(false);
      await notifier.ready('ready');
      await notifier.status('x');
      await notifier.stopping('bye');
      expect(calls).toEqual([]);
    }
  });

  it('logs a failure and carries on instead of throwing', async () => {
    const { exec } = recorder(true);
    const warnings: { obj: object; msg: string }[] = [];
    const notifier = createNotifier({
      env: ENV,
      pid: 7,
      exec,
      log: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    });
    await expect(notifier.ready()).resolves.toBeUndefined();
    expect(warnings).toEqual([
      {
        msg: 'systemd notification failed',
        obj: {
          command: 'systemd-notify',
          args: ['--pid=7', '--ready'],
          err: 'Command failed with exit code 1: systemd-notify --ready',
        },
      },
    ]);
  });
});

describe('createNotifier with the real exec', () => {
  it('runs the command with the arguments and a minimal environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'notify-'));
    try {
      const out = join(dir, 'out');
      const fake = join(dir, 'systemd-notify');
      await writeFile(fake, `#!/bin/sh\nprintf '%s\\n' "$@" > '${out}'\nenv | sort >> '${out}'\n`);
      await chmod(fake, 0o755);
      const notifier = createNotifier({ env: ENV, pid: 99, command: fake });
      await notifier.ready('all three children ready');
      const lines = (await readFile(out, 'utf8')).split('\n');
      expect(lines.slice(0, 3)).toEqual(['--pid=99', '--ready', '--status=all three children ready']);
      expect(lines).toContain('NOTIFY_SOCKET=/run/systemd/notify');
      expect(lines.join('\n')).not.toContain('hunter2');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
