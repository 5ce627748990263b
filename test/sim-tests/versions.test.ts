import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, SIM_BIN, spawnProc } from '../sim/launch.js';
import { mintToken, type SimServer, startAgent, startServer } from '../sim/topology.js';
import { sandbox } from './harness.js';

// SPIRE_SIM_VERSION picks the release the simulator plays: config keys (run.go's HCL structs at each tag),
// flags, bootstrap retries and shutdown behaviour.

const FAST = { SIM_TIME_SCALE: '0.05' };
const box = sandbox('sim-versions');
let server: SimServer;
beforeAll(async () => {
  server = await startServer(box.dir('server'), { env: FAST });
});
afterAll(() => box.cleanup());

const write = (name: string, text: string) => {
  const path = join(box.root, `${name}-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(path, text);
  return path;
};
const agentConf = (extra: string) =>
  write(
    'agent',
    `agent {
  data_dir = "${box.root}/cfg"
  server_address = "127.0.0.1"
  server_port = 1
  trust_domain = "example.org"
  ${extra}
}
plugins { KeyManager "memory" { plugin_data {} } NodeAttestor "join_token" { plugin_data {} } }
`,
  );
const runAgent = (version: string, conf: string, extra: string[] = []) =>
  spawnSync(join(SIM_BIN, 'spire-agent'), ['run', '-config', conf, ...extra], {
    env: { ...process.env, ...FAST, SPIRE_SIM_VERSION: version },
    encoding: 'utf8',
  });

describe('SPIRE_SIM_VERSION', () => {
  it.each(['1.11.2', '1.13.3', '1.14.0', '1.15.3'])('-version prints %s for both programs', (version) => {
    for (const program of ['spire-agent', 'spire-server']) {
      const res = spawnSync(join(SIM_BIN, program), ['-version'], {
        env: { ...process.env, SPIRE_SIM_VERSION: version },
        encoding: 'utf8',
      });
      expect([res.status, res.stderr]).toEqual([0, `${version}\n`]);
    }
  });

  it.each([
    ['retry_bootstrap = true', '1.13.3', true],
    ['retry_bootstrap = true', '1.14.0', false],
    ['join_token_file = "/dev/null"', '1.13.2', false],
    ['rebootstrap_mode = "never"', '1.12.4', false],
    ['rebootstrap_mode = "never"', '1.13.0', true],
    ['trust_bundle_unix_socket = "/x"', '1.12.0', false],
    ['log_selectors = true', '1.15.1', false],
    ['log_selectors = true', '1.15.2', true],
    ['disable_workload_api = false', '1.15.2', false],
    ['disable_workload_api = false', '1.15.3', true],
  ])('agent key `%s` on %s: known=%s', (line, version, known) => {
    const res = runAgent(version, agentConf(`insecure_bootstrap = true\n${line}`));
    expect(res.status).toBe(1);
    if (known) expect(res.stderr).not.toContain('unknown configuration detected');
    else expect(res.stderr.trim()).toBe('unknown configuration detected');
  });

  it('warns in 1.13 that retry_bootstrap is deprecated, and knows no -retryBootstrap flag from 1.14', () => {
    const conf = agentConf('insecure_bootstrap = true\nretry_bootstrap = false');
    expect(runAgent('1.13.3', conf).stdout).toMatch(
      /level=warning msg="The 'retry_bootstrap' configuration is deprecated. It will be removed in SPIRE 1.14. Please test without the flag before upgrading."/,
    );
    const res = runAgent('1.14.0', agentConf('insecure_bootstrap = true'), ['-retryBootstrap']);
    expect([res.status, res.stderr.trim()]).toEqual([1, 'flag provided but not defined: -retryBootstrap']);
  });

  it('1.15.3 knows trust_bundle_spiffe_workload_api as a third trust source, exclusive of the others', () => {
    const both = agentConf(
      'trust_bundle_path = "/x"\ntrust_bundle_spiffe_workload_api = "unix:///tmp/x.sock"',
    );
    expect(runAgent('1.15.3', both).stderr.trim()).toBe(
      'only one of trust_bundle_path or trust_bundle_spiffe_workload_api can be specified, not both',
    );
    expect(runAgent('1.15.3', agentConf('')).stderr.trim()).toBe(
      'trust_bundle_path, trust_bundle_url, or trust_bundle_spiffe_workload_api must be configured unless insecure_bootstrap is set',
    );
  });

  it.each([
    ['disable_jwt_svids = false', '1.13.3', false],
    ['disable_jwt_svids = false', '1.14.0', true],
    ['use_legacy_downstream_x509_ca_ttl = false', '1.12.4', true],
    ['use_legacy_downstream_x509_ca_ttl = false', '1.13.0', false],
  ])('server key `%s` on %s: known=%s', async (line, version, known) => {
    const dir = box.dir(`server-keys-${version}`);
    const conf = write(
      'server',
      `server {
  trust_domain = "example.org"
  data_dir = "${dir}/data"
  bind_address = "127.0.0.1"
  bind_port = "${await freePort()}"
  socket_path = "${dir}/api.sock"
  ${line}
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "${dir}/ds.sqlite3" } }
  KeyManager "memory" { plugin_data {} }
  NodeAttestor "join_token" { plugin_data {} }
}
`,
    );
    const proc = spawnProc('spire-server', join(SIM_BIN, 'spire-server'), ['run', '-config', conf], {
      ...FAST,
      SPIRE_SIM_VERSION: version,
    });
    if (known) {
      await proc.waitFor(/msg="Starting Server APIs".*network=unix/);
      await proc.stop();
    } else {
      expect((await proc.exited).code).toBe(1);
      expect(proc.lines).toContain('unknown configuration detected');
    }
  });

  it.each(['1.14.0', '1.15.3'])('%s always retries a failed attestation, then crashes', async (version) => {
    const agent = await startAgent(box.dir(`retry-${version}`), server, {
      joinToken: 'never-minted',
      env: { ...FAST, SPIRE_SIM_VERSION: version },
      waitReady: false,
    });
    expect((await agent.proc.exited).code).toBe(1);
    expect(
      agent.proc.lines.filter((l) => l.includes('Failed to retrieve attestation result')).length,
    ).toBeGreaterThan(1);
    expect(agent.proc.lines.at(-1)).toMatch(
      /msg="Agent crashed" error=".*join token does not exist or has already been used"/,
    );
  });

  it.each([
    ['1.13.3', 1, 'level=error msg="Agent crashed" error="context canceled"'],
    ['1.15.3', 0, 'level=info msg="Agent stopped gracefully"'],
  ])('SIGTERM while %s still attests exits %i', async (version, code, last) => {
    const agent = await startAgent(
      box.dir(`sigterm-${version}`),
      { ...server, port: await freePort() },
      {
        joinToken: 'x',
        env: { ...FAST, SPIRE_SIM_VERSION: version },
        waitReady: false,
      },
    );
    await agent.proc.waitFor(/Failed to retrieve attestation result/);
    agent.proc.child.kill('SIGTERM');
    expect((await agent.proc.exited).code).toBe(code);
    expect(agent.proc.lines.at(-1)).toContain(last);
  });

  it('1.15.3 warns about KeyManager "memory" with a join token, which cannot re-attest', async () => {
    const token = await mintToken(server);
    const agent = await startAgent(box.dir('memory-1153'), server, {
      joinToken: token.value,
      keyManager: 'memory',
      env: { ...FAST, SPIRE_SIM_VERSION: '1.15.3' },
    });
    expect(agent.proc.lines).toContainEqual(
      expect.stringContaining("Node attestation is not reattestable and the 'memory' key manager is in use"),
    );
    await agent.proc.stop();
  });
});
