import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENV_OVERRIDES, LEGACY_ENV_OVERRIDES } from '../../../src/config/env.js';
import { composeConfig, toolSkip } from './tool.js';

// No container engine here: the Dockerfile is checked for its structure, the Compose file by docker-compose.
const DIR = fileURLToPath(new URL('../../../packaging/docker/', import.meta.url));
const dockerfile = readFileSync(`${DIR}Dockerfile`, 'utf8');
const lines = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'));
const instructions = (name: string) =>
  lines.filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());
const compose = toolSkip('docker-compose', 'apt-get install -y docker-compose');

describe('packaging/docker/Dockerfile', () => {
  it('copies the SPIRE binaries from the official images of the version given as a build argument', () => {
    const from = instructions('FROM');
    expect(from.length).toBe(3);
    expect(from[0]).toMatch(/^ghcr\.io\/spiffe\/spire-agent:\$\{SPIRE_VERSION\} AS spire-agent$/);
    expect(from[1]).toMatch(/^ghcr\.io\/spiffe\/spire-server:\$\{SPIRE_VERSION\} AS spire-server$/);
    expect(from[2]).toBe('debian:bookworm-slim AS runtime');
    expect(lines[0]).toMatch(/^ARG SPIRE_VERSION=\d+\.\d+\.\d+$/);
    expect(instructions('COPY')).toEqual([
      '--from=spire-agent /opt/spire/bin/spire-agent /opt/spire/bin/spire-agent',
      '--from=spire-server /opt/spire/bin/spire-server /opt/spire/bin/spire-server',
      'poller-bootstrap /usr/local/bin/poller-bootstrap',
      'poller-bootstrap.json /etc/serviceradar/poller-bootstrap.json',
    ]);
  });

  it('runs the daemon under tini as a non-root user, with volumes for state and the socket', () => {
    expect(instructions('USER')).toEqual(['serviceradar:serviceradar']);
    expect(instructions('ENTRYPOINT')).toEqual([
      '["/usr/bin/tini", "--", "/usr/local/bin/poller-bootstrap"]',
    ]);
    expect(instructions('CMD')).toEqual(['["run", "--config", "/etc/serviceradar/poller-bootstrap.json"]']);
    expect(instructions('VOLUME')).toEqual([
      '["/var/lib/serviceradar/poller-bootstrap", "/run/spire/nested/workload"]',
    ]);
  });

  it('reports healthy only when /readyz answers 200', () => {
    const [healthcheck] = instructions('HEALTHCHECK');
    expect(healthcheck).toContain('/dev/tcp/127.0.0.1/9466');
    expect(healthcheck).toContain('GET /readyz');
    expect(healthcheck).toContain("grep -q ' 200 '");
  });

  it('bakes no secret into the image', () => {
    const declared = [...instructions('ENV'), ...instructions('ARG')].join(' ');
    expect(declared).not.toMatch(/TOKEN|PASSWORD|API_KEY|SECRET|BEARER/i);
    expect(instructions('COPY').join(' ')).not.toMatch(/token|password|key|bundle/i);
    expect(readFileSync(`${DIR}poller-bootstrap.json`, 'utf8')).not.toMatch(
      /token"\s*:\s*"|password"|api_key"/,
    );
  });
});

describe('packaging/docker/compose.yaml', () => {
  it.skipIf(compose.skip)(
    `is valid for docker-compose and wires the poller to the daemon${compose.reason}`,
    () => {
      const run = composeConfig('compose.yaml');
      expect(run.status, run.stderr).toBe(0);
      const out = run.stdout;
      expect(out).toContain('pid: service:poller-bootstrap');
      expect(out).toContain('condition: service_healthy');
      expect(out).toMatch(/poller-bootstrap-state:\/var\/lib\/serviceradar\/poller-bootstrap/);
      expect(out.match(/nested-spire-workload:\/run\/spire\/nested\/workload/g)?.length).toBe(2);
    },
  );

  it("passes the daemon only environment names it understands, the old entrypoint's among them", () => {
    const text = readFileSync(`${DIR}compose.yaml`, 'utf8');
    // The daemon's service without its build arguments (SPIRE_VERSION is the image's, not the daemon's).
    const daemon = text
      .slice(text.indexOf('  poller-bootstrap:'), text.indexOf('  poller:'))
      .replace(/ {4}build:[\s\S]*?(?=\n {4}restart:)/, '');
    const anchor = text.slice(text.indexOf('x-nested-spire-env'), text.indexOf('services:'));
    const names = [...`${anchor}${daemon}`.matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]);
    const known = new Set([...ENV_OVERRIDES, ...LEGACY_ENV_OVERRIDES].map(([name]) => name));
    known.add('SPIRE_SERVER_ADDR');
    expect(names.filter((n) => !known.has(n as string))).toEqual([]);
    expect(names).toEqual(
      expect.arrayContaining([
        'POLLERS_TRUST_DOMAIN',
        'NESTED_SPIRE_RUN_DIR',
        'NESTED_SPIRE_WORKLOAD_SOCKET',
        'SPIRE_SERVER_ADDR',
        'NESTED_SPIRE_UPSTREAM_JOIN_TOKEN_FILE',
        'NESTED_SPIRE_UPSTREAM_TRUST_BUNDLE_FILE',
      ]),
    );
  });
});
