import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { pathLayout } from '../../../src/config/layout.js';
import { parseConfig } from '../../../src/config/load.js';
import { prepareDirectories, resolveGroup } from '../../../src/daemon/directories.js';

const root = mkdtempSync(join(tmpdir(), 'pb-dirs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (path: string) => statSync(path).mode & 0o777;

function configIn(dir: string, extra: Record<string, unknown> = {}) {
  return parseConfig({
    trust_domain: 'example.org',
    upstream: { server_address: 'spire', insecure_bootstrap: true },
    state_dir: join(dir, 'state'),
    run_dir: join(dir, 'run/nested'),
    ...extra,
  });
}

describe('prepareDirectories', () => {
  it('keeps the run dir with the tokens private and opens only the socket folder to its group', async () => {
    const dir = join(root, 'layout');
    mkdirSync(join(dir, 'run/nested'), { recursive: true, mode: 0o755 });
    const config = configIn(dir);
    await prepareDirectories(pathLayout(config), config);
    expect(config.downstreamAgent.socketPath).toBe(join(dir, 'run/nested-workload/agent.sock'));
    expect(mode(join(dir, 'run/nested-workload'))).toBe(0o750);
    // A run dir that existed with a looser mode is tightened.
    expect(mode(join(dir, 'run/nested'))).toBe(0o700);
    expect(mode(join(dir, 'state'))).toBe(0o700);
    expect(mode(join(dir, 'run/nested/server'))).toBe(0o700);
  });

  it('gives the socket folder the configured group (numeric here: the test runs as one user)', async () => {
    const dir = join(root, 'group');
    const gid = process.getgid?.() ?? 0;
    const config = configIn(dir, { downstream_agent: { socket_group: String(gid) } });
    await prepareDirectories(pathLayout(config), config);
    expect(statSync(join(dir, 'run/nested-workload')).gid).toBe(gid);
  });
});

describe('resolveGroup', () => {
  it('finds a name in the group file and names the key for an unknown one', () => {
    const file = join(root, 'group-file');
    writeFileSync(file, 'root:x:0:\nspire-workload:x:4242:poller\n');
    expect(resolveGroup('spire-workload', file)).toBe(4242);
    expect(resolveGroup('77', file)).toBe(77);
    expect(() => resolveGroup('nope', file)).toThrow(ConfigError);
    expect(() => resolveGroup('nope', file)).toThrow(/downstream_agent\.socket_group: no group "nope"/);
  });
});

describe('the socket folder', () => {
  it('cannot be the run dir, which holds the tokens', () => {
    expect(() =>
      configIn(join(root, 'clash'), {
        downstream_agent: { socket_path: join(root, 'clash/run/nested/agent.sock') },
      }),
    ).toThrow(
      /downstream_agent\.socket_path: expected a socket in a folder of its own, not the folder of run_dir/,
    );
  });

  it("follows the old entrypoint's NESTED_SPIRE_WORKLOAD_SOCKET, so daemon and poller agree on the path", () => {
    const config = parseConfig(
      { trust_domain: 'example.org', upstream: { server_address: 'spire', insecure_bootstrap: true } },
      { NESTED_SPIRE_WORKLOAD_SOCKET: '/run/spire/nested/workload/agent.sock' },
    );
    expect(config.downstreamAgent.socketPath).toBe('/run/spire/nested/workload/agent.sock');
  });
});
