// The real broker process against the simulated cluster SPIRE server: every policy rule denies before anything
// is minted (tokens counted on the server), the limits answer 429 with Retry-After, roles and sessions decide
// who may mint, and the audit trail says which rule — never the token.
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/broker/hash.js';
import { loadSigningKey } from '../../src/broker/sessions.js';
import { serverClient } from '../../src/spire/server-client.js';
import { sandbox } from '../sim-tests/harness.js';
import {
  API_KEYS,
  BROKER_PASSWORD,
  type Broker,
  downstreamRequest,
  login,
  post,
  startBroker,
  VIEWER_PASSWORD,
} from './broker-harness.js';

const box = sandbox('e2e-broker');
const JOIN = '/api/admin/spire/join-tokens';
const adminKey = { 'x-api-key': API_KEYS['admin-key'] };
let broker: Broker;
let td: string;
/** Every token the broker handed out in this file: none may show in its log or audit trail. */
const issued: string[] = [];

beforeAll(async () => {
  broker = await startBroker(box.dir('policy'), {
    config: { rate_limit: { per_caller_per_minute: 1000, global_per_minute: 1000 } },
  });
  td = broker.server.trustDomain;
});
afterAll(() => box.cleanup());

const lastAudit = () => broker.audit().at(-1) ?? {};

describe('policy: denied before anything is minted', () => {
  const ds = (extra: Record<string, unknown>) => downstreamRequest('example.org', 'site-1', extra);
  it.each([
    [
      'a TTL above the maximum',
      { ...ds({}), ttl_seconds: 86_401 },
      403,
      'ttl',
      /ttl_seconds: 86401 is above the maximum of 86400/,
    ],
    [
      'another trust domain',
      downstreamRequest('other.org', 'site-1'),
      403,
      'trust-domain',
      /trust domain "example.org"/,
    ],
    [
      'a path no template has',
      {
        ...ds({}),
        downstream: { spiffe_id: 'spiffe://example.org/anything/else', selectors: ['unix:uid:0'] },
      },
      403,
      'template',
      /match no template/,
    ],
    [
      'a placeholder value with unsafe characters',
      {
        ...ds({}),
        downstream: {
          spiffe_id: 'spiffe://example.org/ns/Site_1/poller-nested-spire',
          selectors: ['unix:uid:0'],
        },
      },
      403,
      'template',
      /match no template/,
    ],
    [
      'client and downstream naming different sites',
      { ...ds({}), client_spiffe_id: 'spiffe://example.org/ns/site-2/poller-agent' },
      403,
      'template',
      /the same in both IDs/,
    ],
    [
      'a selector without a value',
      ds({ selectors: ['unix'] }),
      400,
      'request',
      /downstream\.selectors\[0\]: expected "type:value"/,
    ],
    [
      'a selector type the template does not allow',
      ds({ selectors: ['k8s:ns:default'] }),
      403,
      'selector',
      /type "k8s" is not allowed by template "poller"/,
    ],
    ['admin: true', ds({ admin: true }), 403, 'admin', /downstream\.admin: true is not allowed/],
    [
      'dns_names',
      ds({ dns_names: ['poller.example.org'] }),
      403,
      'dns-names',
      /downstream\.dns_names is not allowed/,
    ],
    [
      'federates_with',
      ds({ federates_with: ['spiffe://partner.org'] }),
      403,
      'federates-with',
      /federates_with is not allowed/,
    ],
    ['store_svid', ds({ store_svid: true }), 403, 'store-svid', /store_svid: true is not allowed/],
    [
      'a field the contract does not have',
      { ...ds({}), ttl: 60 },
      400,
      'request',
      /ttl: not part of the join-token request/,
    ],
    [
      'a TTL that is not an integer',
      { ...ds({}), ttl_seconds: '600' },
      400,
      'request',
      /ttl_seconds: expected an integer, got "600"/,
    ],
    [
      'neither a client ID nor a downstream entry',
      { ttl_seconds: 60 },
      403,
      'template',
      /neither client_spiffe_id nor a downstream entry/,
    ],
    ['a body that is not JSON', '{"ttl_seconds":', 400, 'request', /not JSON/],
  ])('%s: %i %s', async (_what, body, status, rule, message) => {
    const before = await broker.tokensMinted();
    const res = await post(broker, JOIN, body, adminKey);
    expect([res.status, res.json.rule, res.json.status]).toEqual([status, rule, status]);
    expect(res.json.message).toMatch(message);
    expect(await broker.tokensMinted()).toBe(before);
    expect(lastAudit()).toMatchObject({
      event: 'request-denied',
      result: 'denied',
      rule,
      caller: 'admin-key',
      auth_method: 'api-key',
      fingerprint: null,
    });
  });

  it('a template the caller may not use is named', async () => {
    // admin-key may use only "poller"; "gateway" would admit this request.
    const res = await post(
      broker,
      JOIN,
      {
        register_downstream: true,
        downstream: { spiffe_id: `spiffe://${td}/gateways/gw-1`, selectors: ['unix:uid:0'] },
      },
      adminKey,
    );
    expect([res.status, res.json.rule]).toEqual([403, 'template']);
    expect(res.json.message).toBe(
      'the request matches template "gateway", which API key "admin-key" may not use',
    );
  });
});

describe('oversized requests', () => {
  it('a body over 64 KiB is answered 413, not cut off with a reset, and mints nothing', async () => {
    const before = await broker.tokensMinted();
    const res = await fetch(`${broker.url}${JOIN}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...adminKey },
      body: JSON.stringify({ ttl_seconds: 600, padding: 'x'.repeat(70_000) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { message: string }).message).toBe('request body over 65536 bytes');
    expect(await broker.tokensMinted()).toBe(before);
  });
});

describe('who may mint', () => {
  it('an API key with the admin role gets a token and its downstream entry (201), by X-API-Key or Bearer', async () => {
    for (const headers of [adminKey, { authorization: `Bearer ${API_KEYS['admin-key']}` }]) {
      const before = await broker.tokensMinted();
      const res = await post(
        broker,
        JOIN,
        { ...downstreamRequest(td, 'site-2'), client_spiffe_id: `spiffe://${td}/ns/site-2/poller-agent` },
        headers,
      );
      expect(res.status).toBe(201);
      const token = res.json.token as string;
      issued.push(token);
      expect(res.json.parent_spiffe_id).toBe(`spiffe://${td}/spire/agent/join_token/${token}`);
      expect(Date.parse(res.json.expires_at as string)).toBeGreaterThan(Date.now());
      expect(await broker.tokensMinted()).toBe(before + 1);
      const client = serverClient(broker.server.socket);
      try {
        const entries = await client.entriesFor(`spiffe://${td}/ns/site-2/poller-nested-spire`);
        const entry = entries.find((e) => e.id === res.json.downstream_entry_id);
        expect(entry).toMatchObject({ parentId: res.json.parent_spiffe_id, downstream: true });
        expect(entry?.hint).toMatch(/^poller-bootstrap-broker exp=\d+$/);
        // The alias entry SPIRE makes for client_spiffe_id.
        expect(
          (await client.entriesFor(`spiffe://${td}/ns/site-2/poller-agent`)).map((e) => e.parentId),
        ).toContain(res.json.parent_spiffe_id);
      } finally {
        client.close();
      }
      expect(lastAudit()).toMatchObject({
        event: 'token-issued',
        result: 'issued',
        caller: 'admin-key',
        auth_method: 'api-key',
        downstream_spiffe_id: `spiffe://${td}/ns/site-2/poller-nested-spire`,
        ttl_seconds: 600,
        entry_id: res.json.downstream_entry_id,
        remote_address: '127.0.0.1',
      });
      expect(lastAudit().fingerprint).toMatch(/^[0-9a-f]{12}$/);
      expect(lastAudit().parent_id).toBe(`spiffe://${td}/spire/agent/join_token/${lastAudit().fingerprint}…`);
    }
  });

  it('a logged-in admin gets a token with the default TTL when none is asked for', async () => {
    const bearer = await login(broker, 'edge-bootstrap', BROKER_PASSWORD);
    const { ttl_seconds: _ttl, ...body } = downstreamRequest(td, 'site-3');
    const res = await post(broker, JOIN, body, { authorization: `Bearer ${bearer}` });
    expect(res.status).toBe(201);
    issued.push(res.json.token as string);
    expect(lastAudit()).toMatchObject({ caller: 'edge-bootstrap', auth_method: 'bearer', ttl_seconds: 600 });
  });

  it.each([
    ['a viewer API key', async () => ({ 'x-api-key': API_KEYS['viewer-key'] }), 'viewer-key'],
    [
      'a logged-in viewer',
      async () => ({ authorization: `Bearer ${await login(broker, 'auditor', VIEWER_PASSWORD)}` }),
      'auditor',
    ],
  ])('%s is refused with 403, nothing minted', async (_what, headers, caller) => {
    const before = await broker.tokensMinted();
    const res = await post(broker, JOIN, downstreamRequest(td, 'site-4'), await headers());
    expect([res.status, res.json.rule]).toEqual([403, 'role']);
    expect(res.json.message).toMatch(/^insufficient permissions: .* has role "viewer"/);
    expect(await broker.tokensMinted()).toBe(before);
    expect(lastAudit()).toMatchObject({ event: 'request-denied', rule: 'role', caller });
  });

  it('an expired bearer is refused with 401 Invalid bearer token, as core answered it', async () => {
    const key = await loadSigningKey(broker.jwtKeyPath);
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await new SignJWT({ typ: 'access' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
      .setIssuer('poller-bootstrap-broker')
      .setAudience('join-token-broker')
      .setSubject('edge-bootstrap')
      .setIssuedAt(past - 900)
      .setExpirationTime(past)
      .sign(key);
    const before = await broker.tokensMinted();
    const res = await post(broker, JOIN, downstreamRequest(td, 'site-5'), {
      authorization: `Bearer ${expired}`,
    });
    expect(res.json).toEqual({ message: 'Invalid bearer token', status: 401, rule: 'unauthenticated' });
    expect(await broker.tokensMinted()).toBe(before);
    expect(lastAudit()).toMatchObject({
      event: 'request-denied',
      rule: 'unauthenticated',
      auth_method: 'bearer',
      caller: null,
    });
  });

  it.each([
    ['no credential', {}, 'Authentication required'],
    ['an unknown API key', { 'x-api-key': 'k-not-a-key-of-this-broker-0000000000' }, 'Invalid API key'],
  ])('%s: 401 %s', async (_what, headers, message) => {
    const res = await post(broker, JOIN, downstreamRequest(td, 'site-6'), headers);
    expect(res.json).toEqual({ message, status: 401, rule: 'unauthenticated' });
  });

  it('a wrong password is refused without saying whether the user exists', async () => {
    for (const username of ['edge-bootstrap', 'nobody']) {
      const res = await post(broker, '/auth/login', { username, password: 'wrong-password' });
      expect(res.json).toEqual({
        message: 'login failed: invalid credentials',
        status: 401,
        rule: 'unauthenticated',
      });
    }
    expect(lastAudit()).toMatchObject({ event: 'login-denied', caller: 'nobody', auth_method: 'password' });
  });

  it('a refresh token gives a new session, and is no bearer itself', async () => {
    const pair = (
      await post(broker, '/auth/login', { username: 'edge-bootstrap', password: BROKER_PASSWORD })
    ).json;
    const refreshed = await post(broker, '/auth/refresh', { refresh_token: pair.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(Object.keys(refreshed.json).sort()).toEqual(['access_token', 'expires_at', 'refresh_token']);
    const misuse = await post(broker, JOIN, downstreamRequest(td, 'site-7'), {
      authorization: `Bearer ${pair.refresh_token}`,
    });
    expect(misuse.json.message).toBe('Invalid bearer token');
  });
});

describe('rate limits', () => {
  let limited: Broker;
  beforeAll(async () => {
    limited = await startBroker(box.dir('limits'), {
      config: { rate_limit: { per_caller_per_minute: 2, global_per_minute: 3 } },
    });
  });

  it('a caller past its limit, then everybody past the global one, get 429 with Retry-After and nothing minted', async () => {
    const ltd = limited.server.trustDomain;
    for (let i = 0; i < 2; i++) {
      const res = await post(limited, JOIN, downstreamRequest(ltd, `a-${i}`), adminKey);
      expect(res.status).toBe(201);
      issued.push(res.json.token as string);
    }
    const minted = await limited.tokensMinted();
    const own = await post(limited, JOIN, downstreamRequest(ltd, 'a-2'), adminKey);
    expect([own.status, own.json.rule]).toEqual([429, 'rate-limit']);
    expect(Number(own.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(own.json.message).toMatch(/^this caller may have 2 join tokens a minute \(per broker replica\)/);
    const bearer = { authorization: `Bearer ${await login(limited, 'edge-bootstrap', BROKER_PASSWORD)}` };
    const other = await post(limited, JOIN, downstreamRequest(ltd, 'b-0'), bearer);
    expect(other.status).toBe(201);
    issued.push(other.json.token as string);
    const global = await post(limited, JOIN, downstreamRequest(ltd, 'b-1'), bearer);
    expect([global.status, global.json.rule]).toEqual([429, 'global-rate-limit']);
    expect(Number(global.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(await limited.tokensMinted()).toBe(minted + 1);
    const audit = limited.audit().filter((a) => a.event === 'request-denied');
    expect(audit.map((a) => [a.caller, a.rule])).toEqual([
      ['admin-key', 'rate-limit'],
      ['edge-bootstrap', 'global-rate-limit'],
    ]);
    const metrics = await (await fetch(`${limited.url}/metrics`)).text();
    expect(metrics).toContain('poller_bootstrap_broker_rate_limited_total{scope="caller"} 1');
    expect(metrics).toContain('poller_bootstrap_broker_rate_limited_total{scope="global"} 1');
    expect(metrics).toContain('poller_bootstrap_broker_tokens_issued_total 3');
  });

  afterAll(() => {
    for (const token of issued) {
      expect(limited.proc.lines.join('\n')).not.toContain(token);
      expect(readFileSync(limited.auditPath, 'utf8')).not.toContain(token);
    }
  });
});

describe('credentials', () => {
  it('an edit of the API keys file takes effect without a restart; SIGHUP reloads too', async () => {
    const file = join(broker.dir, 'api-keys.json');
    const keys = JSON.parse(readFileSync(file, 'utf8')) as { api_keys: Record<string, unknown>[] };
    const late = 'k-late-5e6f7a8b9c0d1e2f5e6f7a8b9c0d1e2f';
    keys.api_keys.push({ name: 'late-key', hash: hashApiKey(late), role: 'viewer' });
    // Replaced as editors and config management do: a new file renamed over the old one.
    writeFileSync(`${file}.new`, JSON.stringify(keys), { mode: 0o600 });
    renameSync(`${file}.new`, file);
    await broker.proc.waitFor(/"msg":"credentials reloaded"/);
    const res = await post(broker, JOIN, downstreamRequest(td, 'site-8'), { 'x-api-key': late });
    expect([res.status, res.json.rule]).toEqual([403, 'role']);
    // A file that no longer loads keeps the loaded credentials (the edit and the SIGHUP each try to reload).
    writeFileSync(file, '{"api_keys": [{"name": "broken"}]}', { mode: 0o600 });
    broker.proc.child.kill('SIGHUP');
    await broker.proc.waitFor(/"msg":"credentials reload failed, keeping the loaded ones"/);
    expect((await post(broker, JOIN, downstreamRequest(td, 'site-8'), { 'x-api-key': late })).json.rule).toBe(
      'role',
    );
  });
});

describe('what the broker shows', () => {
  it('/healthz, /readyz (the SPIRE admin socket answers) and /metrics', async () => {
    expect((await fetch(`${broker.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${broker.url}/readyz`)).text()).toBe('ready\n');
    const metrics = await (await fetch(`${broker.url}/metrics`)).text();
    expect(metrics).toMatch(/^poller_bootstrap_broker_requests_denied_total\{rule="ttl"\} 1$/m);
    expect(metrics).toMatch(/^poller_bootstrap_broker_requests_denied_total\{rule="role"\} 4$/m);
    expect(metrics).toMatch(/^poller_bootstrap_broker_credential_reloads_total\{result="failure"\} [12]$/m);
  });

  it('no token it issued shows in its log or its audit trail, which is 0600', async () => {
    expect(issued.length).toBeGreaterThan(3);
    const log = broker.proc.lines.join('\n');
    const audit = readFileSync(broker.auditPath, 'utf8');
    for (const token of issued) {
      expect(log.includes(token), 'token in the log').toBe(false);
      expect(audit.includes(token), 'token in the audit trail').toBe(false);
    }
    for (const secret of [...Object.values(API_KEYS), BROKER_PASSWORD, VIEWER_PASSWORD]) {
      expect(log.includes(secret) || audit.includes(secret), 'a credential in the log or audit').toBe(false);
    }
    expect(statSync(broker.auditPath).mode & 0o777).toBe(0o600);
  });
});
