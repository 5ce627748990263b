import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { services } from '../../src/spire/proto.js';
import { type AdminConfig, type AdminConfigError, parseAdminConfig } from '../sim/admin/config.js';
import { type AdminApi, startAdminApi } from '../sim/admin/server.js';

// The simulated core admin API against an in-process fake of the cluster SPIRE server's Agent and Entry APIs.

const TD = 'example.org';
const ADMIN = { username: 'alice', password: 'pw-alice-9f3c', roles: ['admin'] };
const VIEWER = { username: 'bob', password: 'pw-bob-77aa', roles: ['user'] };
const API_KEY = 'key-5d1e0c2b7a';

interface Fake {
  tokenCalls: Record<string, unknown>[];
  entryCalls: Record<string, unknown>[];
  issued: string[];
  /** Status code the next BatchCreateEntry result carries (0 OK, 6 ALREADY_EXISTS, …). */
  entryCode: number;
}

const fake: Fake = { tokenCalls: [], entryCalls: [], issued: [], entryCode: 0 };
let dir: string;
let socket: string;
let grpcServer: grpc.Server;
let nowMs = Date.UTC(2030, 0, 2, 3, 4, 5);
const logs: string[] = [];
const running: AdminApi[] = [];

const sink = new Writable({
  write(chunk, _enc, done) {
    logs.push(String(chunk));
    done();
  },
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'admin-sim-'));
  socket = join(dir, 'api.sock');
  grpcServer = new grpc.Server();
  grpcServer.addService(services.agent.service, {
    CreateJoinToken: (
      call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
      cb: grpc.sendUnaryData<unknown>,
    ) => {
      fake.tokenCalls.push(call.request);
      const value = randomBytes(8).toString('hex');
      fake.issued.push(value);
      cb(null, { value, expires_at: Math.floor(nowMs / 1000) + Number(call.request.ttl) });
    },
  });
  grpcServer.addService(services.entry.service, {
    BatchCreateEntry: (
      call: grpc.ServerUnaryCall<{ entries: Record<string, unknown>[] }, unknown>,
      cb: grpc.sendUnaryData<unknown>,
    ) => {
      fake.entryCalls.push(...call.request.entries);
      const code = fake.entryCode;
      const message = code === 6 ? 'similar entry already exists' : code === 0 ? 'OK' : 'boom';
      const entry = code === 0 ? { id: 'entry-new' } : code === 6 ? { id: 'entry-existing' } : null;
      cb(null, { results: [{ status: { code, message }, entry }] });
    },
  });
  await new Promise<void>((resolve, reject) =>
    grpcServer.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
});

afterAll(async () => {
  await new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  fake.tokenCalls.length = 0;
  fake.entryCalls.length = 0;
  fake.entryCode = 0;
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((api) => api.close()));
});

async function start(overrides: Record<string, unknown> = {}, spireSocket = socket): Promise<AdminApi> {
  const config = parseAdminConfig({ users: [ADMIN, VIEWER], api_keys: [{ key: API_KEY }], ...overrides });
  const api = await startAdminApi({ config, spireSocket, trustDomain: TD, out: sink, now: () => nowMs });
  running.push(api);
  return api;
}

async function call(api: AdminApi, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${api.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function bearer(api: AdminApi, user: { username: string; password: string }): Promise<string> {
  const res = await call(api, '/auth/login', { username: user.username, password: user.password });
  expect(res.status).toBe(200);
  return `Bearer ${(JSON.parse(res.text) as { access_token: string }).access_token}`;
}

const asAdmin = async (api: AdminApi) => ({ authorization: await bearer(api, ADMIN) });
const JOIN = '/api/admin/spire/join-tokens';
const json = (message: string, status: number) => `${JSON.stringify({ message, status })}\n`;

describe('authentication and RBAC (as core answers them)', () => {
  it.each([
    ['no credentials, an API key configured', {}, 401, json('Invalid API key', 401)],
    ['a wrong API key', { 'x-api-key': 'nope' }, 401, json('Invalid API key', 401)],
    ['the right API key under RBAC (no user attached)', { 'x-api-key': API_KEY }, 401, 'unauthorized\n'],
    [
      'a bearer that is not ours',
      { authorization: 'Bearer abc.def.ghi' },
      401,
      json('Invalid bearer token', 401),
    ],
  ])('refuses %s', async (_name, headers, status, body) => {
    const api = await start();
    const res = await call(api, JOIN, {}, headers);
    expect([res.status, res.text]).toEqual([status, body]);
    expect(fake.tokenCalls).toHaveLength(0);
  });

  it('answers `Authentication required` when no API key is configured and none is sent', async () => {
    const api = await start({ api_keys: [] });
    const res = await call(api, JOIN, {});
    expect([res.status, res.text]).toEqual([401, json('Authentication required', 401)]);
  });

  it('forbids a bearer without the admin role in plain text', async () => {
    const api = await start();
    const res = await call(api, JOIN, {}, { authorization: await bearer(api, VIEWER) });
    expect([res.status, res.headers.get('content-type'), res.text]).toEqual([
      403,
      'text/plain; charset=utf-8',
      'insufficient permissions\n',
    ]);
    expect(api.stats.snapshot()).toMatchObject({ forbidden: 1, join_tokens_requested: 1 });
  });

  it('mints with an admin bearer, and refuses the same bearer once it has expired', async () => {
    const api = await start({ jwt_ttl_seconds: 60 });
    const headers = await asAdmin(api);
    expect((await call(api, JOIN, {}, headers)).status).toBe(201);
    nowMs += 60_000;
    const res = await call(api, JOIN, {}, headers);
    expect([res.status, res.text]).toEqual([401, json('Invalid bearer token', 401)]);
    expect(fake.tokenCalls).toHaveLength(1);
  });

  it('accepts an API key alone when RBAC is off', async () => {
    const api = await start({ rbac: false });
    expect((await call(api, JOIN, {}, { 'x-api-key': API_KEY })).status).toBe(201);
  });
});

describe('login', () => {
  it.each([
    ['a wrong password', { username: 'alice', password: 'x' }, 401, 'login failed: invalid credentials\n'],
    ['an unknown user', { username: 'carol', password: 'x' }, 401, 'login failed: user not found\n'],
    ['a body that is not JSON', '{user', 400, 'invalid request\n'],
  ])('refuses %s in plain text', async (_name, body, status, text) => {
    const api = await start();
    const res = await call(api, '/auth/login', body);
    expect([res.status, res.text]).toEqual([status, text]);
  });

  it('returns core’s token pair, and the refresh token yields a working bearer', async () => {
    const api = await start({ jwt_ttl_seconds: 120 });
    const res = await call(api, '/auth/login', { username: ADMIN.username, password: ADMIN.password });
    const body = JSON.parse(res.text) as Record<string, string>;
    expect(Object.keys(body)).toEqual(['access_token', 'refresh_token', 'expires_at']);
    expect(body.expires_at).toBe(
      new Date(Math.floor(nowMs / 1000) * 1000 + 120_000).toISOString().replace('.000Z', 'Z'),
    );
    const again = await call(api, '/auth/refresh', { refresh_token: body.refresh_token });
    const access = (JSON.parse(again.text) as Record<string, string>).access_token;
    expect((await call(api, JOIN, {}, { authorization: `Bearer ${access}` })).status).toBe(201);
    const misuse = await call(api, '/auth/refresh', { refresh_token: body.access_token });
    expect([misuse.status, misuse.text]).toEqual([401, 'token refresh failed\n']);
  });
});

const DOWNSTREAM = {
  spiffe_id: `spiffe://${TD}/ns/edge/poller-nested-spire`,
  selectors: ['unix:uid:0', 'unix:path:/opt/spire/bin/spire-server'],
  x509_svid_ttl_seconds: 3600,
  admin: true,
};

describe('POST /api/admin/spire/join-tokens', () => {
  it('mints a token, registers the downstream entry under its agent ID and answers 201', async () => {
    const api = await start();
    const res = await call(
      api,
      JOIN,
      {
        client_spiffe_id: `spiffe://${TD}/edge/p1`,
        ttl_seconds: 600,
        register_downstream: true,
        downstream: DOWNSTREAM,
      },
      await asAdmin(api),
    );
    const token = fake.issued.at(-1);
    const parent = `spiffe://${TD}/spire/agent/join_token/${token}`;
    expect(res.status).toBe(201);
    expect(JSON.parse(res.text)).toEqual({
      token,
      expires_at: new Date((Math.floor(nowMs / 1000) + 600) * 1000).toISOString().replace('.000Z', 'Z'),
      parent_spiffe_id: parent,
      downstream_entry_id: 'entry-new',
    });
    expect(fake.tokenCalls).toMatchObject([{ ttl: 600, agent_id: { trust_domain: TD, path: '/edge/p1' } }]);
    expect(fake.entryCalls).toMatchObject([
      {
        parent_id: { trust_domain: TD, path: `/spire/agent/join_token/${token}` },
        spiffe_id: { trust_domain: TD, path: '/ns/edge/poller-nested-spire' },
        selectors: [
          { type: 'unix', value: 'uid:0' },
          { type: 'unix', value: 'path:/opt/spire/bin/spire-server' },
        ],
        x509_svid_ttl: 3600,
        jwt_svid_ttl: 0,
        admin: true,
        downstream: true,
      },
    ]);
  });

  it('uses the server-side default TTL and omits the entry id when nothing is registered', async () => {
    const api = await start();
    const res = await call(api, JOIN, {}, await asAdmin(api));
    expect(Object.keys(JSON.parse(res.text))).toEqual(['token', 'expires_at', 'parent_spiffe_id']);
    expect(fake.tokenCalls).toMatchObject([{ ttl: 900, agent_id: null }]);
  });

  it('counts ALREADY_EXISTS as success and reports the existing entry', async () => {
    fake.entryCode = 6;
    const api = await start();
    const res = await call(
      api,
      JOIN,
      { register_downstream: true, downstream: DOWNSTREAM },
      await asAdmin(api),
    );
    expect([res.status, JSON.parse(res.text).downstream_entry_id]).toEqual([201, 'entry-existing']);
  });

  it('names the parent `spiffe_id` when configured as the older plan did', async () => {
    const api = await start({ parent_field: 'spiffe_id' });
    const body = JSON.parse((await call(api, JOIN, {}, await asAdmin(api))).text);
    expect(body.spiffe_id).toBe(`spiffe://${TD}/spire/agent/join_token/${fake.issued.at(-1)}`);
    expect(body).not.toHaveProperty('parent_spiffe_id');
  });

  it.each([
    ['a body that is not JSON', '{"ttl_seconds":', 'Invalid request body'],
    ['a field of the wrong type', { ttl_seconds: '600' }, 'Invalid request body'],
  ])('answers 400 JSON for %s before minting', async (_name, body, message) => {
    const api = await start();
    const res = await call(api, JOIN, body, await asAdmin(api));
    expect([res.status, res.text]).toEqual([400, json(message, 400)]);
    expect(fake.tokenCalls).toHaveLength(0);
  });

  it.each([
    ['no downstream section', { register_downstream: true }, 'downstream configuration is required'],
    [
      'no selectors',
      { register_downstream: true, downstream: { spiffe_id: DOWNSTREAM.spiffe_id } },
      'at least one selector is required',
    ],
    [
      'a selector without a colon',
      { register_downstream: true, downstream: { ...DOWNSTREAM, selectors: ['unix'] } },
      'invalid selector format: "unix"',
    ],
  ])('answers 400 for %s only after the token was minted', async (_name, body, message) => {
    const api = await start();
    const res = await call(api, JOIN, body, await asAdmin(api));
    expect([res.status, res.text]).toEqual([400, json(message, 400)]);
    expect(fake.tokenCalls).toHaveLength(1);
    expect(fake.entryCalls).toHaveLength(0);
    expect(api.stats.snapshot()).toMatchObject({ join_tokens_requested: 1, join_tokens_issued: 1 });
  });

  it('answers 502 with Go’s rendering of the gRPC error when the SPIRE server is down', async () => {
    const api = await start({}, join(dir, 'missing.sock'));
    const res = await call(api, JOIN, {}, await asAdmin(api));
    expect(res.status).toBe(502);
    expect(JSON.parse(res.text).message).toMatch(
      /^spire admin: create join token: rpc error: code = Unavailable desc = /,
    );
  });

  it.each([
    [
      'an invalid client_spiffe_id',
      { client_spiffe_id: 'edge/p1' },
      'spire admin: invalid agent spiffe_id: scheme is missing or invalid',
      0,
    ],
    [
      'a failed entry result',
      { register_downstream: true, downstream: { ...DOWNSTREAM, selectors: ['unix:uid:0'] } },
      'spire admin: downstream entry create failed: boom',
      1,
    ],
  ])('answers 502 JSON for %s', async (_name, body, message, minted) => {
    fake.entryCode = 13;
    const api = await start();
    const res = await call(api, JOIN, body, await asAdmin(api));
    expect([res.status, res.text]).toEqual([502, json(message, 502)]);
    expect(fake.tokenCalls).toHaveLength(minted);
  });

  it('answers 503 JSON when the SPIRE integration is disabled', async () => {
    const api = await start({ integration_enabled: false });
    const res = await call(api, JOIN, {}, await asAdmin(api));
    expect([res.status, res.text]).toEqual([503, json('SPIRE admin integration is not enabled', 503)]);
  });

  it('answers 429 with Retry-After once the throttle is exhausted', async () => {
    const api = await start({ rbac: false, throttle: { max_requests: 1, per_seconds: 60 } });
    expect((await call(api, JOIN, {}, { 'x-api-key': API_KEY })).status).toBe(201);
    const res = await call(api, JOIN, {}, { 'x-api-key': API_KEY });
    expect([res.status, res.headers.get('retry-after'), res.text]).toEqual([
      429,
      '60',
      'Too Many Requests\n',
    ]);
    expect(fake.tokenCalls).toHaveLength(1);
  });
});

async function setFaults(api: AdminApi, knobs: Record<string, unknown>) {
  const res = await fetch(`${api.url}/_sim/faults`, { method: 'POST', body: JSON.stringify(knobs) });
  expect(res.status).toBe(200);
}

describe('fault knobs', () => {
  it('fails the next request with the configured status, then succeeds', async () => {
    const api = await start({ rbac: false });
    await setFaults(api, { failNext: 1, failStatus: 500 });
    const first = await call(api, JOIN, {}, { 'x-api-key': API_KEY });
    expect([first.status, first.text]).toEqual([500, json('simulated failure', 500)]);
    expect((await call(api, JOIN, {}, { 'x-api-key': API_KEY })).status).toBe(201);
    const stats = (await (await fetch(`${api.url}/_sim/stats`)).json()) as Record<string, number>;
    expect(stats).toMatchObject({ join_tokens_requested: 2, join_tokens_issued: 1, faults_failed: 1 });
  });

  it('corrupts a 201 body after really minting the token', async () => {
    const api = await start({ rbac: false });
    await setFaults(api, { malformedNext: 1 });
    const res = await call(api, JOIN, {}, { 'x-api-key': API_KEY });
    expect(res.status).toBe(201);
    expect(() => JSON.parse(res.text)).toThrow();
    expect(fake.tokenCalls).toHaveLength(1);
  });

  it('sends a 201 body larger than 1 MiB', async () => {
    const api = await start({ rbac: false });
    await setFaults(api, { oversizeNext: 1 });
    const res = await call(api, JOIN, {}, { 'x-api-key': API_KEY });
    expect(res.status).toBe(201);
    expect(res.text.length).toBeGreaterThan(1024 * 1024);
  });

  it('drops the connection of the next request without minting', async () => {
    const api = await start({ rbac: false });
    await setFaults(api, { dropNext: 1 });
    await expect(call(api, JOIN, {}, { 'x-api-key': API_KEY })).rejects.toThrow();
    expect((await call(api, JOIN, {}, { 'x-api-key': API_KEY })).status).toBe(201);
    expect(fake.tokenCalls).toHaveLength(1);
  });
});

describe('logs', () => {
  it('are JSON lines that never carry a password, API key, bearer or join token', async () => {
    logs.length = 0;
    const api = await start();
    const headers = await asAdmin(api);
    await call(api, '/auth/login', { username: VIEWER.username, password: 'wrong-pw-0a1b' });
    await call(api, JOIN, {}, { 'x-api-key': API_KEY });
    await call(api, JOIN, { register_downstream: true, downstream: DOWNSTREAM }, headers);
    const text = logs.join('');
    expect(text).toContain('"msg":"listening"');
    for (const line of text.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    const secrets = [
      ADMIN.password,
      'wrong-pw-0a1b',
      API_KEY,
      headers.authorization.slice(7),
      ...fake.issued,
    ];
    expect(secrets.filter((s) => text.includes(s))).toEqual([]);
  });
});

describe('config', () => {
  it('collects every problem, naming the key and echoing the value', () => {
    let error: AdminConfigError | undefined;
    try {
      parseAdminConfig({
        users: [{ username: 'a', roles: 'admin' }],
        rbac: 'yes',
        parent_field: 'parent',
        extra: 1,
      });
    } catch (err) {
      error = err as AdminConfigError;
    }
    expect(error?.problems).toEqual([
      'config: unknown keys `extra`',
      'Expected `parent_field` to be "parent_spiffe_id" or "spiffe_id", got "parent" (string)',
      'Expected `users[0].password` to be a non-empty string, got undefined (undefined)',
      'Expected `users[0].roles` to be an array of strings, got "admin" (string)',
      'Expected `rbac` to be a boolean, got "yes" (string)',
    ]);
  });

  it('fills core’s defaults', () => {
    const config: AdminConfig = parseAdminConfig({});
    expect(config).toMatchObject({
      rbac: true,
      defaultTokenTtlSeconds: 900,
      parentField: 'parent_spiffe_id',
    });
  });
});
