// The broker's packaged pieces: its unit (hardened, gated like the daemon's), its example config (valid), and
// the Compose sidecar.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../../../src/broker/config.js';
import { composeConfig, toolSkip } from './tool.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UNIT = `${ROOT}systemd/poller-bootstrap-broker.service`;
const text = readFileSync(UNIT, 'utf8');
const settings = (key: string) =>
  [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1] as string);
const { skip, reason } = toolSkip('systemd-analyze', 'apt-get install -y systemd');

describe('systemd/poller-bootstrap-broker.service', () => {
  it.skipIf(skip)(`is rated at most 2.0 by systemd-analyze security --offline${reason}`, () => {
    const run = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', UNIT], {
      encoding: 'utf8',
    });
    const score = /Overall exposure level for poller-bootstrap-broker\.service: ([\d.]+)/.exec(
      run.stdout,
    )?.[1];
    expect(score, run.stdout + run.stderr).toBeDefined();
    expect(Number(score)).toBeLessThanOrEqual(2.0);
  });

  it("runs the broker as serviceradar in the SPIRE admin socket's group, reloaded by SIGHUP, no secret in argv", () => {
    expect(settings('ExecStart')).toEqual([
      '/usr/bin/poller-bootstrap broker --config /etc/serviceradar/join-token-broker.json',
    ]);
    expect(settings('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect([settings('User'), settings('Group'), settings('SupplementaryGroups')]).toEqual([
      ['serviceradar'],
      ['serviceradar'],
      ['spire'],
    ]);
    expect(settings('StateDirectory')).toEqual(['serviceradar/join-token-broker']);
    expect(settings('CapabilityBoundingSet')).toEqual(['']);
    expect(settings('RestartPreventExitStatus')).toEqual(['78']);
    expect([...settings('ExecStart'), ...settings('Environment')].join('\n')).not.toMatch(
      /token=|password|api[-_]key/i,
    );
  });

  it("the example config is valid, and its audit file is in the unit's state directory", () => {
    const config = parseBrokerConfig(
      JSON.parse(readFileSync(`${ROOT}packaging/examples/join-token-broker.json`, 'utf8')),
    );
    expect(config.audit.file.startsWith('/var/lib/serviceradar/join-token-broker/')).toBe(true);
    expect(config.spire.socketPath.startsWith('/tmp/')).toBe(false);
    expect(config.tls).not.toBeNull();
  });

  it('is shipped by both packages, never enabled by them', () => {
    expect(readFileSync(`${ROOT}scripts/package/stage.ts`, 'utf8')).toContain(
      "'systemd/poller-bootstrap-broker.service'",
    );
    expect(readFileSync(`${ROOT}packaging/rpm/poller-bootstrap.spec`, 'utf8')).toContain(
      '/usr/lib/systemd/system/poller-bootstrap-broker.service',
    );
    for (const script of ['packaging/deb/postinst', 'packaging/rpm/poller-bootstrap.spec']) {
      expect(readFileSync(`${ROOT}${script}`, 'utf8')).not.toMatch(/enable poller-bootstrap-broker/);
    }
  });
});

const compose = toolSkip('docker-compose', 'apt-get install -y docker-compose');

describe('packaging/docker/broker.compose.yaml', () => {
  it.skipIf(compose.skip)(
    `runs the broker as the SPIRE server's sidecar, sharing its admin socket${compose.reason}`,
    () => {
      const run = composeConfig('broker.compose.yaml');
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.match(/spire-server-socket:\/run\/spire\/server\/private/g)?.length).toBe(2);
      expect(run.stdout).toContain('/etc/serviceradar/join-token-broker/join-token-broker.json');
      expect(run.stdout).toMatch(/user: 0:10001/);
    },
  );

  it("the image has the broker's state folder for its audit trail, owned by the service user", () => {
    expect(readFileSync(`${ROOT}packaging/docker/Dockerfile`, 'utf8')).toContain(
      'install -d -m 0700 -o serviceradar -g serviceradar /var/lib/serviceradar/join-token-broker',
    );
  });
});
