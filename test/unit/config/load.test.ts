import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, EXIT_CONFIG } from '../../../src/config/errors.js';
import { loadConfig, parseConfig, parseConfigText } from '../../../src/config/load.js';

const MINIMAL = {
  trust_domain: 'carverauto.dev',
  upstream: { server_address: 'spire.example.net', trust_bundle_path: '/etc/serviceradar/spire/bundle.pem' },
};

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => i.message);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('fills every default from a minimal file', () => {
    const config = parseConfig(MINIMAL);
    expect(config).toMatchObject({
      trustDomain: 'carverauto.dev',
      stateDir: '/var/lib/serviceradar/poller-bootstrap',
      runDir: '/run/spire/nested',
      logLevel: 'info',
      identitySafetyMarginSeconds: 300,
      upstream: {
        serverAddress: 'spire.example.net',
        serverPort: 8081,
        trustBundlePath: '/etc/serviceradar/spire/bundle.pem',
        insecureBootstrap: false,
      },
      upstreamAgent: { socketPath: '/run/spire/nested/upstream-agent/agent.sock', healthPort: 18088 },
      nestedServer: {
        bindAddress: '127.0.0.1',
        bindPort: 18081,
        socketPath: '/run/spire/nested/server/api.sock',
        healthPort: 18089,
      },
      downstreamAgent: {
        socketPath: '/run/spire/nested-workload/agent.sock',
        healthPort: 18090,
        socketGroup: null,
      },
      adminApi: null,
      spireServer: null,
      token: {
        sources: ['credentials', 'file'],
        credentialName: 'upstream-join-token',
        file: '/run/spire/nested/upstream-join-token',
        ttlSeconds: 900,
        maxPerHour: 6,
      },
      spire: {
        agentPath: '/opt/spire/bin/spire-agent',
        serverPath: '/opt/spire/bin/spire-server',
        version: { major: 1, minor: 13, patch: 3, prerelease: null },
      },
      downstream: {
        spiffeId: 'spiffe://carverauto.dev/ns/edge/poller-nested-spire',
        selectors: [{ type: 'unix', value: 'path:/opt/spire/bin/spire-server' }],
        x509SvidTtlSeconds: 3600,
        jwtSvidTtlSeconds: 300,
      },
      http: { listen: '127.0.0.1:9466', host: '127.0.0.1', port: 9466 },
    });
    expect(config.workloads.map((w) => [w.name, w.spiffeId])).toEqual([
      ['poller', 'spiffe://carverauto.dev/services/poller'],
      ['agent', 'spiffe://carverauto.dev/services/agent'],
    ]);
    expect(config.workloads[0]?.selectors.map((s) => `${s.type}:${s.value}`)).toEqual([
      'unix:uid:0',
      'unix:gid:0',
      'unix:user:root',
      'unix:group:root',
    ]);
  });

  it('derives sockets and the token file from run_dir, and the downstream selector from the server binary', () => {
    const config = parseConfig({
      ...MINIMAL,
      run_dir: '/run/pb/',
      spire: { server_path: '/usr/bin/spire-server' },
    });
    expect(config.upstreamAgent.socketPath).toBe('/run/pb/upstream-agent/agent.sock');
    expect(config.token.file).toBe('/run/pb/upstream-join-token');
    expect(config.downstream.selectors).toEqual([{ type: 'unix', value: 'path:/usr/bin/spire-server' }]);
  });

  it('turns on the admin-api and spire-server sources when their sections exist', () => {
    const config = parseConfig({
      ...MINIMAL,
      admin_api: { url: 'https://core.example.net', api_key_file: '/etc/pb/api-key' },
      spire_server: {},
    });
    expect(config.token.sources).toEqual(['credentials', 'file', 'admin-api', 'spire-server']);
    expect(config.adminApi).toEqual({
      url: 'https://core.example.net',
      caFile: null,
      allowHttp: false,
      credentials: { kind: 'api-key', apiKeyFile: '/etc/pb/api-key' },
      connectTimeoutMs: 5000,
      timeoutMs: 30000,
    });
    expect(config.spireServer).toEqual({ socketPath: '/tmp/spire-server/private/api.sock' });
  });

  it('keeps only file paths for secrets', () => {
    const config = parseConfig({
      ...MINIMAL,
      admin_api: { url: 'https://core.example.net', username: 'svc', password_file: '/etc/pb/password' },
    });
    expect(config.adminApi?.credentials).toEqual({
      kind: 'login',
      username: 'svc',
      passwordFile: '/etc/pb/password',
    });
  });

  it('returns a deeply frozen config', () => {
    const config = parseConfig(MINIMAL);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.upstream)).toBe(true);
    expect(Object.isFrozen(config.workloads[0]?.selectors)).toBe(true);
  });

  it('accepts insecure_bootstrap instead of a trust bundle', () => {
    const config = parseConfig({
      trust_domain: 'td',
      upstream: { server_address: '10.0.0.1', insecure_bootstrap: true },
    });
    expect(config.upstream).toMatchObject({ trustBundlePath: null, insecureBootstrap: true });
  });
});

describe('environment overrides', () => {
  it('lets environment variables win over the file', () => {
    const config = parseConfig(MINIMAL, {
      POLLER_BOOTSTRAP_TRUST_DOMAIN: 'env.example',
      POLLER_BOOTSTRAP_SERVER_PORT: '9081',
      POLLER_BOOTSTRAP_INSECURE_BOOTSTRAP: 'false',
      POLLER_BOOTSTRAP_TOKEN_SOURCES: 'file, credentials',
      POLLER_BOOTSTRAP_LOG_LEVEL: 'debug',
    });
    expect(config.trustDomain).toBe('env.example');
    expect(config.upstream.serverPort).toBe(9081);
    expect(config.token.sources).toEqual(['file', 'credentials']);
    expect(config.logLevel).toBe('debug');
  });

  it('honours the legacy entrypoint names', () => {
    const config = parseConfig(
      {},
      {
        POLLERS_TRUST_DOMAIN: 'carverauto.dev',
        SPIRE_SERVER_ADDR: 'spire-server.demo.svc:8081',
        NESTED_SPIRE_RUN_DIR: '/run/legacy',
        NESTED_SPIRE_UPSTREAM_JOIN_TOKEN_FILE: '/run/secrets/join-token',
        NESTED_SPIRE_UPSTREAM_TRUST_BUNDLE_FILE: '/run/secrets/bundle.pem',
      },
    );
    expect(config.trustDomain).toBe('carverauto.dev');
    expect(config.upstream).toMatchObject({
      serverAddress: 'spire-server.demo.svc',
      serverPort: 8081,
      trustBundlePath: '/run/secrets/bundle.pem',
    });
    expect(config.runDir).toBe('/run/legacy');
    expect(config.downstreamAgent.socketPath).toBe('/run/legacy-workload/agent.sock');
    expect(config.token.file).toBe('/run/secrets/join-token');
  });

  it('prefers our own names over the legacy ones, and ignores empty variables', () => {
    const config = parseConfig(MINIMAL, {
      POLLERS_TRUST_DOMAIN: 'legacy.example',
      POLLER_BOOTSTRAP_TRUST_DOMAIN: 'own.example',
      SPIRE_SERVER_ADDR: 'legacy.example:1',
      POLLER_BOOTSTRAP_SERVER_ADDRESS: 'own.example',
      NESTED_SPIRE_RUN_DIR: '',
    });
    expect(config.trustDomain).toBe('own.example');
    expect(config.upstream).toMatchObject({ serverAddress: 'own.example', serverPort: 1 });
    expect(config.runDir).toBe('/run/spire/nested');
  });

  it.each([
    ['10.1.2.3:8081', '10.1.2.3', 8081],
    ['[fd00::1]:443', 'fd00::1', 443],
    ['spire:1', 'spire', 1],
  ])('parses SPIRE_SERVER_ADDR=%s', (addr, host, port) => {
    const config = parseConfig(
      { trust_domain: 'td', upstream: { insecure_bootstrap: true } },
      { SPIRE_SERVER_ADDR: addr },
    );
    expect(config.upstream).toMatchObject({ serverAddress: host, serverPort: port });
  });

  it.each(['spire', 'spire:', 'spire:0', 'spire:65536', ':8081', 'fd00::1:8081', 'a b:1'])(
    'rejects SPIRE_SERVER_ADDR=%s',
    (addr) => {
      expect(issuesOf(() => parseConfig(MINIMAL, { SPIRE_SERVER_ADDR: addr }))).toEqual([
        `SPIRE_SERVER_ADDR: expected an address "<host>:<port>", got ${JSON.stringify(addr)}`,
      ]);
    },
  );

  it('names the environment variable when its value is bad', () => {
    expect(
      issuesOf(() =>
        parseConfig(MINIMAL, {
          POLLER_BOOTSTRAP_SERVER_PORT: 'eighty',
          POLLER_BOOTSTRAP_INSECURE_BOOTSTRAP: 'maybe',
          POLLERS_TRUST_DOMAIN: 'Not A Domain',
        }),
      ),
    ).toEqual([
      'POLLERS_TRUST_DOMAIN: expected a trust domain name (lowercase letters, digits, ".", "-" and "_"), got "Not A Domain"',
      'POLLER_BOOTSTRAP_SERVER_PORT: expected an integer from 1 to 65535, got "eighty"',
      'POLLER_BOOTSTRAP_INSECURE_BOOTSTRAP: expected true or false, got "maybe"',
    ]);
  });
});

describe('loadConfig', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pb-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the JSON file and applies the environment', async () => {
    const path = join(dir, 'ok.json');
    await writeFile(path, JSON.stringify(MINIMAL));
    const config = await loadConfig(path, { env: { POLLER_BOOTSTRAP_HTTP_LISTEN: '127.0.0.1:9999' } });
    expect(config.upstream.serverAddress).toBe('spire.example.net');
    expect(config.http.port).toBe(9999);
  });

  it('reports a missing file, unless the file is optional', async () => {
    const path = join(dir, 'missing.json');
    await expect(loadConfig(path, { env: {} })).rejects.toMatchObject({
      name: 'ConfigError',
      exitCode: EXIT_CONFIG,
      issues: [{ key: path, message: `${path}: cannot read the file (no such file)` }],
    });
    const config = await loadConfig(path, {
      env: {
        POLLERS_TRUST_DOMAIN: 'td',
        SPIRE_SERVER_ADDR: 'h:1',
        POLLER_BOOTSTRAP_INSECURE_BOOTSTRAP: 'true',
      },
      optional: true,
    });
    expect(config.upstream.insecureBootstrap).toBe(true);
  });

  it('reports a JSON syntax error with the file name', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{"trust_domain": ');
    const error = await loadConfig(path, { env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]?.message).toMatch(
      new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: expected JSON, got a syntax error: `),
    );
  });

  it('exports exit code 78 and puts every issue in the message', () => {
    expect(EXIT_CONFIG).toBe(78);
    const error = (() => {
      try {
        parseConfigText(
          '{"trust_domain": "td", "upstream": {"insecure_bootstrap": true}, "x": 1}',
          {},
          '/etc/pb.json',
        );
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error?.message).toBe(
      [
        'invalid configuration /etc/pb.json (2 problems):',
        '  - x: unknown key',
        '  - upstream.server_address: expected the upstream SPIRE server host name or IP address, got nothing',
      ].join('\n'),
    );
  });
});
