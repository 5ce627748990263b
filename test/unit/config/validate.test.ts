import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { parseConfig } from '../../../src/config/load.js';

const BASE = {
  trust_domain: 'carverauto.dev',
  upstream: { server_address: 'spire.example.net', trust_bundle_path: '/etc/pb/bundle.pem' },
};
const ADMIN = { url: 'https://core.example.net', api_key_file: '/etc/pb/api-key' };

function issuesOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => i.message);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

// Shallow-merges sections into the valid base config.
function withBase(extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...BASE };
  for (const [key, value] of Object.entries(extra)) {
    const base = out[key];
    out[key] =
      typeof value === 'object' && value !== null && !Array.isArray(value) && typeof base === 'object'
        ? { ...base, ...value }
        : value;
  }
  return out;
}

describe('one message per problem, naming the key, echoing the value, saying what is expected', () => {
  it.each<[string, Record<string, unknown>, string]>([
    [
      'missing trust domain',
      { trust_domain: undefined },
      'trust_domain: expected a trust domain name, e.g. "carverauto.dev", got nothing',
    ],
    [
      'bad trust domain',
      { trust_domain: 'Carver Auto' },
      'trust_domain: expected a trust domain name (lowercase letters, digits, ".", "-" and "_"), got "Carver Auto"',
    ],
    [
      'newline injection',
      { trust_domain: 'td"\n}\nplugins {' },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal "${" is what is tested
      'trust_domain: expected text without control characters, "${" or "%{", got "td\\"\\n}\\nplugins {"',
    ],
    [
      'template injection',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal "${" is what is tested
      { state_dir: '/var/${HOME}' },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal "${" is what is tested
      'state_dir: expected text without control characters, "${" or "%{", got "/var/${HOME}"',
    ],
    ['relative path', { run_dir: 'run/spire' }, 'run_dir: expected an absolute path, got "run/spire"'],
    ['empty string', { state_dir: '' }, 'state_dir: expected an absolute path, got ""'],
    ['wrong type', { state_dir: 7 }, 'state_dir: expected an absolute path, got 7'],
    [
      'log level',
      { log_level: 'verbose' },
      'log_level: expected one of "trace", "debug", "info", "warn", "error", "fatal", got "verbose"',
    ],
    [
      'safety margin',
      { identity_safety_margin_seconds: -1 },
      'identity_safety_margin_seconds: expected an integer from 0 to 86400, got -1',
    ],
    [
      'port range',
      { upstream: { server_port: 70000 } },
      'upstream.server_port: expected an integer from 1 to 65535, got 70000',
    ],
    [
      'port as string',
      { upstream: { server_port: '8081' } },
      'upstream.server_port: expected an integer from 1 to 65535, got "8081"',
    ],
    [
      'host',
      { upstream: { server_address: 'spire server' } },
      'upstream.server_address: expected a host name or IP address, got "spire server"',
    ],
    [
      'missing server address',
      { upstream: { server_address: undefined } },
      'upstream.server_address: expected the upstream SPIRE server host name or IP address, got nothing',
    ],
    [
      'no trust bundle',
      { upstream: { trust_bundle_path: undefined } },
      'upstream.trust_bundle_path: expected the path of the upstream trust bundle (or upstream.insecure_bootstrap: true), got nothing',
    ],
    [
      'bundle and insecure',
      { upstream: { insecure_bootstrap: true } },
      'upstream.insecure_bootstrap: expected false when upstream.trust_bundle_path is set, got true',
    ],
    [
      'bool',
      { upstream: { insecure_bootstrap: 'no' } },
      'upstream.insecure_bootstrap: expected true or false, got "no"',
    ],
    ['section type', { upstream: 'spire:8081' }, 'upstream: expected an object, got "spire:8081"'],
    [
      'spiffe id form',
      { downstream: { spiffe_id: 'spiffe://carverauto.dev' } },
      'downstream.spiffe_id: expected a SPIFFE ID "spiffe://<trust domain>/<path>", got "spiffe://carverauto.dev"',
    ],
    [
      'spiffe id dot segment',
      { downstream: { spiffe_id: 'spiffe://carverauto.dev/a/../b' } },
      'downstream.spiffe_id: expected a SPIFFE ID "spiffe://<trust domain>/<path>", got "spiffe://carverauto.dev/a/../b"',
    ],
    [
      'spiffe id trust domain',
      { downstream: { spiffe_id: 'spiffe://other.dev/poller' } },
      'downstream.spiffe_id: expected a SPIFFE ID in trust domain "carverauto.dev", got "spiffe://other.dev/poller"',
    ],
    [
      'selectors empty',
      { downstream: { selectors: [] } },
      'downstream.selectors: expected a non-empty list, got []',
    ],
    [
      'selector form',
      { downstream: { selectors: ['unix:uid:0', 'uid0'] } },
      'downstream.selectors[1]: expected a selector "<type>:<value>", e.g. "unix:uid:0", got "uid0"',
    ],
    [
      'ttl',
      { downstream: { x509_svid_ttl_seconds: 0 } },
      'downstream.x509_svid_ttl_seconds: expected an integer from 1 to 2147483647, got 0',
    ],
    [
      'workload name',
      { workloads: [{ name: 'Poller', spiffe_id: 'spiffe://carverauto.dev/p' }] },
      'workloads[0].name: expected a name of lowercase letters, digits, "-" and "_", got "Poller"',
    ],
    [
      'workload without spiffe id',
      { workloads: [{ name: 'poller' }] },
      'workloads[0].spiffe_id: expected a SPIFFE ID "spiffe://<trust domain>/<path>", got nothing',
    ],
    [
      'duplicate workload',
      {
        workloads: [
          { name: 'poller', spiffe_id: 'spiffe://carverauto.dev/a' },
          { name: 'poller', spiffe_id: 'spiffe://carverauto.dev/b' },
        ],
      },
      'workloads[1].name: expected a name not used by another workload, got "poller"',
    ],
    ['workloads type', { workloads: {} }, 'workloads: expected a list, got {}'],
    ['workload null', { workloads: [null] }, 'workloads[0]: expected a value, got null'],
    [
      'token source name',
      { token: { sources: ['file', 'vault'] } },
      'token.sources[1]: expected one of "credentials", "file", "admin-api", "spire-server", got "vault"',
    ],
    [
      'token source repeated',
      { token: { sources: ['file', 'file'] } },
      'token.sources: expected a list without repeated names, got ["file","file"]',
    ],
    [
      'admin-api without section',
      { token: { sources: ['admin-api'] } },
      'token.sources: expected "admin-api" only together with an admin_api section, got ["admin-api"]',
    ],
    [
      'credential name',
      { token: { credential_name: 'creds/token' } },
      'token.credential_name: expected a credential name (a file name, without "/"), got "creds/token"',
    ],
    [
      'max per hour',
      { token: { max_per_hour: 0 } },
      'token.max_per_hour: expected an integer from 1 to 3600, got 0',
    ],
    [
      'spire version',
      { spire: { version: '1.13' } },
      'spire.version: expected a SPIRE version "<major>.<minor>.<patch>", e.g. "1.13.3", or "auto" (ask spire.agent_path), got "1.13"',
    ],
    ['listen', { http: { listen: '9466' } }, 'http.listen: expected an address "<host>:<port>", got "9466"'],
    [
      'admin url',
      { admin_api: { ...ADMIN, url: 'ftp://core' } },
      'admin_api.url: expected an https:// URL without credentials in it, got "ftp://core"',
    ],
    [
      'admin url with credentials',
      { admin_api: { ...ADMIN, url: 'https://u:p@core' } },
      'admin_api.url: expected an https:// URL without credentials in it, got "https://u:p@core"',
    ],
    [
      'admin http',
      { admin_api: { ...ADMIN, url: 'http://core:8090' } },
      'admin_api.url: expected an https:// URL (or admin_api.allow_http: true), got "http://core:8090"',
    ],
    [
      'admin url missing',
      { admin_api: { api_key_file: '/k' } },
      'admin_api.url: expected an https:// URL, got nothing',
    ],
    [
      'no credential',
      { admin_api: { url: 'https://core' } },
      'admin_api: expected one credential: api_key_file, username with password_file, or bearer_token_file, got nothing',
    ],
    [
      'two credentials',
      { admin_api: { ...ADMIN, bearer_token_file: '/b' } },
      'admin_api: expected one credential: api_key_file, username with password_file, or bearer_token_file, got ["api_key_file","bearer_token_file"]',
    ],
    [
      'username without password',
      { admin_api: { url: 'https://core', username: 'svc' } },
      'admin_api.password_file: expected the password file for admin_api.username, got nothing',
    ],
    [
      'password without username',
      { admin_api: { url: 'https://core', password_file: '/p' } },
      'admin_api.username: expected the user name for admin_api.password_file, got nothing',
    ],
    [
      'timeout',
      { admin_api: { ...ADMIN, timeout_seconds: 0 } },
      'admin_api.timeout_seconds: expected a number of seconds greater than 0, got 0',
    ],
    [
      'port clash',
      { downstream_agent: { health_port: 18089 } },
      'downstream_agent.health_port: expected a port not already used by nested_server.health_port, got 18089',
    ],
    [
      'http port clash',
      { http: { listen: '127.0.0.1:18081' } },
      'http.listen: expected a port not already used by nested_server.bind_port, got "127.0.0.1:18081"',
    ],
    [
      'socket clash',
      { nested_server: { socket_path: '/run/spire/nested-workload/agent.sock' } },
      'downstream_agent.socket_path: expected a socket path not already used by nested_server.socket_path, got "/run/spire/nested-workload/agent.sock"',
    ],
  ])('%s', (_name, extra, message) => {
    expect(issuesOf(withBase(extra))).toEqual([message]);
  });
});

describe('collecting problems', () => {
  it('reports unknown keys, sorted, at every depth', () => {
    expect(
      issuesOf({
        ...BASE,
        zeta: 1,
        alpha: 2,
        upstream: { ...BASE.upstream, port: 8081 },
        workloads: [{ name: 'p', spiffe_id: 'spiffe://carverauto.dev/p', ttl: 5 }],
      }),
    ).toEqual([
      'alpha: unknown key',
      'upstream.port: unknown key',
      'workloads[0].ttl: unknown key',
      'zeta: unknown key',
    ]);
  });

  it('reports every problem at once, not just the first', () => {
    expect(
      issuesOf({
        trust_domain: 'carverauto.dev',
        upstream: { server_port: 0 },
        log_level: 'verbose',
        extra: true,
        admin_api: { url: 'http://core' },
      }),
    ).toEqual([
      'extra: unknown key',
      'log_level: expected one of "trace", "debug", "info", "warn", "error", "fatal", got "verbose"',
      'upstream.server_port: expected an integer from 1 to 65535, got 0',
      'upstream.server_address: expected the upstream SPIRE server host name or IP address, got nothing',
      'upstream.trust_bundle_path: expected the path of the upstream trust bundle (or upstream.insecure_bootstrap: true), got nothing',
      'admin_api.url: expected an https:// URL (or admin_api.allow_http: true), got "http://core"',
      'admin_api: expected one credential: api_key_file, username with password_file, or bearer_token_file, got nothing',
    ]);
  });

  it('rejects a top level that is not an object', () => {
    expect(issuesOf([])).toEqual(['(top level): expected an object, got []']);
  });

  it('does not call a bad value missing as well', () => {
    expect(issuesOf(withBase({ trust_domain: 'BAD' }))).toEqual([
      'trust_domain: expected a trust domain name (lowercase letters, digits, ".", "-" and "_"), got "BAD"',
    ]);
  });

  it('allows http only when asked', () => {
    const config = parseConfig(
      withBase({ admin_api: { ...ADMIN, url: 'http://core:8090', allow_http: true } }),
    );
    expect(config.adminApi).toMatchObject({ url: 'http://core:8090', allowHttp: true });
  });

  it('shortens very long echoed values', () => {
    const [message] = issuesOf(withBase({ run_dir: 'x'.repeat(500) }));
    expect(message).toBe(`run_dir: expected an absolute path, got "${'x'.repeat(116)}...`);
  });
});

describe('spire.child_env', () => {
  it('becomes the extra environment of the SPIRE children', () => {
    const config = parseConfig(withBase({ spire: { child_env: ['GODEBUG=x509sha1=1', 'EMPTY='] } }));
    expect(config.spire.childEnv).toEqual({ GODEBUG: 'x509sha1=1', EMPTY: '' });
    expect(parseConfig(BASE).spire.childEnv).toEqual({});
  });

  const assignment = 'a "NAME=value" environment assignment on one line';
  it.each([
    ['NO_EQUALS', assignment],
    ['1BAD=x', assignment],
    ['MULTI=line\nEVIL=1', 'text without control characters, "${" or "%{"'],
  ])('refuses %j', (entry, expected) => {
    expect(issuesOf(withBase({ spire: { child_env: [entry] } }))).toEqual([
      `spire.child_env[0]: expected ${expected}, got ${JSON.stringify(entry)}`,
    ]);
  });
});
