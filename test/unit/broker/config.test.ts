import { describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../../../src/broker/config.js';
import { ConfigError } from '../../../src/config/errors.js';

const MINIMAL = {
  trust_domain: 'example.org',
  tls: {
    cert_file: '/etc/serviceradar/join-token-broker/tls.crt',
    key_file: '/etc/serviceradar/join-token-broker/tls.key',
  },
  auth: { api_keys_file: '/etc/serviceradar/join-token-broker/api-keys.json' },
  policy: { templates: [{ name: 'poller', downstream_spiffe_id: '/ns/{name}/poller-nested-spire' }] },
};

function problems(raw: unknown): string[] {
  try {
    parseBrokerConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => i.message);
    throw error;
  }
  return [];
}

describe('the broker config', () => {
  it("fills the plan's defaults", () => {
    const c = parseBrokerConfig(MINIMAL);
    expect(c.policy).toMatchObject({ defaultTtlSeconds: 600, maxTtlSeconds: 86_400 });
    expect(c.rateLimit).toEqual({ perCallerPerMinute: 10, globalPerMinute: 60, globalBurst: 60 });
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 8443 });
    expect(c.spire).toMatchObject({ socketPath: '/tmp/spire-server/private/api.sock', pruneStale: false });
    expect(c.policy.templates[0]).toMatchObject({ selectorTypes: ['unix'], allowAdmin: false });
    expect(Object.isFrozen(c.policy.templates[0])).toBe(true);
  });

  it('names every bad key, echoes the value and says what is expected, all at once', () => {
    expect(
      problems({
        ...MINIMAL,
        colour: 'blue',
        listen: 'everywhere',
        policy: { max_ttl_seconds: 0, templates: [{ name: 'p', downstream_spiffe_id: '/ns/pre-{name}' }] },
        rate_limit: { per_caller_per_minute: -1 },
      }),
    ).toEqual([
      'colour: unknown key',
      'listen: expected an address "<host>:<port>", got "everywhere"',
      'policy.max_ttl_seconds: expected an integer from 1 to 2147483647, got 0',
      'policy.templates[0].downstream_spiffe_id: expected a SPIFFE ID path template such as "/ns/{name}/poller-nested-spire" (whole-segment placeholders, not under /spire), got "/ns/pre-{name}"',
      'rate_limit.per_caller_per_minute: expected an integer from 1 to 10000, got -1',
      'policy.templates[0]: expected client_spiffe_id and/or downstream_spiffe_id, got {"name":"p"}',
    ]);
  });

  it('plain HTTP only when allowed, and only on loopback', () => {
    const { tls: _tls, ...noTls } = MINIMAL;
    expect(problems(noTls)).toEqual([
      'tls: expected cert_file and key_file (HTTPS), or allow_http true with a loopback listen address, got nothing',
    ]);
    expect(problems({ ...noTls, allow_http: true, listen: '0.0.0.0:8080' })).toEqual([
      'listen: expected a loopback address when allow_http is true (plain HTTP carries credentials), got "0.0.0.0:8080"',
    ]);
    expect(problems({ ...noTls, allow_http: true, listen: '127.0.0.1:8080' })).toEqual([]);
  });

  it('logins need a signing key, and somebody must be able to authenticate', () => {
    expect(problems({ ...MINIMAL, auth: { users_file: '/etc/u.json' } })).toEqual([
      'auth.jwt_key_file: expected the JWT signing key (PEM) when users_file allows logins, got nothing',
    ]);
    expect(problems({ ...MINIMAL, auth: {} })).toEqual([
      'auth: expected users_file and/or api_keys_file: nobody could authenticate, got {}',
    ]);
  });
});
