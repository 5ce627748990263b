import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toolSkip } from './tool.js';

const UNIT = fileURLToPath(new URL('../../../systemd/poller-bootstrap.service', import.meta.url));
const text = readFileSync(UNIT, 'utf8');
const settings = (key: string) =>
  [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1] as string);
const { skip, reason } = toolSkip('systemd-analyze', 'apt-get install -y systemd');

describe('systemd/poller-bootstrap.service', () => {
  it.skipIf(skip)(`is rated at most 2.0 by systemd-analyze security --offline${reason}`, () => {
    const run = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', UNIT], {
      encoding: 'utf8',
    });
    const score = /Overall exposure level for poller-bootstrap\.service: ([\d.]+)/.exec(run.stdout)?.[1];
    expect(score, run.stdout + run.stderr).toBeDefined();
    expect(Number(score)).toBeLessThanOrEqual(2.0);
  });

  it('is a notify service that only its main process may notify, reloaded by SIGHUP', () => {
    expect(settings('Type')).toEqual(['notify']);
    expect(settings('NotifyAccess')).toEqual(['main']);
    expect(settings('WatchdogSec').length).toBe(1);
    expect(settings('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
  });

  it('runs as the serviceradar user with state kept across reboots and the runtime dirs across restarts', () => {
    expect([settings('User'), settings('Group'), settings('DynamicUser')]).toEqual([
      ['serviceradar'],
      ['serviceradar'],
      [],
    ]);
    expect(settings('StateDirectory')).toEqual(['serviceradar/poller-bootstrap']);
    expect(settings('RuntimeDirectory')).toEqual(['spire/nested spire/nested-workload']);
    expect(settings('RuntimeDirectoryPreserve')).toEqual(['restart']);
    expect(settings('ReadWritePaths')).toEqual([
      '/var/lib/serviceradar/poller-bootstrap /run/spire/nested /run/spire/nested-workload',
    ]);
    expect(settings('CapabilityBoundingSet')).toEqual(['']);
    // V8 needs writable, then executable memory: the daemon aborts under MemoryDenyWriteExecute.
    expect(settings('MemoryDenyWriteExecute')).toEqual([]);
    // The downstream agent must see the poller's /proc/<pid> to attest it, whichever user the poller is.
    expect(settings('ProtectProc')).toEqual([]);
    expect(settings('PrivateUsers')).toEqual([]);
  });

  it('passes no secret on the command line', () => {
    expect(settings('ExecStart')).toEqual([
      '/usr/bin/poller-bootstrap run --config /etc/serviceradar/poller-bootstrap.json',
    ]);
    const commands = [...settings('ExecStart'), ...settings('ExecReload'), ...settings('Environment')];
    expect(commands.join('\n')).not.toMatch(/-joinToken|--join-token|token=|password|api[-_]key/i);
  });
});
