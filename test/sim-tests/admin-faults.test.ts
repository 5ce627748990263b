import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { services } from '../../src/spire/proto.js';
import { parseAdminConfig } from '../sim/admin/config.js';
import { type AdminApi, startAdminApi } from '../sim/admin/server.js';

// The admin API's fault knobs (test/sim/common/faults.ts) as a client of core meets them.

const ADMIN = { username: 'alice', password: 'pw-alice-9f3c', roles: ['admin'] };
const JOIN = '/api/admin/spire/join-tokens';
let dir: string;
let socket: string;
let spire: grpc.Server;
const running: AdminApi[] = [];
const quiet = new Writable({ write: (_c, _e, done) => done() });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'admin-faults-'));
  socket = join(dir, 'api.sock');
  spire = new grpc.Server();
  spire.addService(services.agent.service, {
    CreateJoinToken: (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
      cb(null, { value: 'tok', expires_at: Math.floor(Date.now() / 1000) + 600 }),
  });
  await new Promise<void>((resolve, reject) =>
    spire.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
});
afterAll(async () => {
  await new Promise<void>((resolve) => spire.tryShutdown(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((api) => api.close()));
});

async function start(now?: () => number): Promise<AdminApi> {
  const config = parseAdminConfig({ users: [ADMIN] });
  const api = await startAdminApi({
    config,
    spireSocket: socket,
    trustDomain: 'example.org',
    out: quiet,
    ...(now ? { now } : {}),
  });
  running.push(api);
  return api;
}

async function setFaults(api: AdminApi, knobs: Record<string, unknown>): Promise<void> {
  expect(
    (await fetch(`${api.url}/_sim/faults`, { method: 'POST', body: JSON.stringify(knobs) })).status,
  ).toBe(200);
}

const post = (
  api: AdminApi,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
) => fetch(`${api.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal });

async function login(api: AdminApi): Promise<{ bearer: string; refresh: string }> {
  const res = await post(api, '/auth/login', { username: ADMIN.username, password: ADMIN.password });
  const body = (await res.json()) as { access_token: string; refresh_token: string };
  return { bearer: `Bearer ${body.access_token}`, refresh: body.refresh_token };
}

describe('admin API fault knobs', () => {
  it('latencyMs holds back the headers, so a client deadline fires before any answer', async () => {
    const api = await start();
    const { bearer } = await login(api);
    await setFaults(api, { latencyMs: 60_000 });
    await expect(post(api, JOIN, {}, { authorization: bearer }, AbortSignal.timeout(200))).rejects.toThrow(
      /aborted|timeout/i,
    );
  });

  it('slowBodyNext sends the headers at once and trickles the body', async () => {
    const api = await start();
    const { bearer } = await login(api);
    await setFaults(api, { slowBodyNext: 1, slowBodyMs: 60_000 });
    const controller = new AbortController();
    const res = await post(api, JOIN, {}, { authorization: bearer }, controller.signal);
    expect(res.status).toBe(201);
    const timer = setTimeout(() => controller.abort(), 200);
    await expect(res.text()).rejects.toThrow(/abort/i);
    clearTimeout(timer);
    expect((await post(api, JOIN, {}, { authorization: bearer })).status).toBe(201);
  });

  it.each([
    [401, 'application/json', '{"message":"Invalid bearer token","status":401}\n', null],
    [403, 'text/plain; charset=utf-8', 'insufficient permissions\n', null],
    [429, 'text/plain; charset=utf-8', 'Too Many Requests\n', '7'],
    [503, 'application/json', '{"message":"simulated failure","status":503}\n', '7'],
    [500, 'application/json', '{"message":"simulated failure","status":500}\n', null],
  ])(
    'failNext with %i answers as core would, Retry-After only on 429/503',
    async (status, type, text, retryAfter) => {
      const api = await start();
      const { bearer } = await login(api);
      await setFaults(api, { failNext: 1, failStatus: status, retryAfterSeconds: 7 });
      const res = await post(api, JOIN, {}, { authorization: bearer });
      expect([
        res.status,
        res.headers.get('content-type'),
        await res.text(),
        res.headers.get('retry-after'),
      ]).toEqual([status, type, text, retryAfter]);
    },
  );

  it('malformedNext answers a 201 that is not JSON', async () => {
    const api = await start();
    const { bearer } = await login(api);
    await setFaults(api, { malformedNext: 1 });
    const res = await post(api, JOIN, {}, { authorization: bearer });
    expect(res.status).toBe(201);
    await expect(res.json()).rejects.toThrow();
  });

  it('expireSessions ends every login: the bearer gets `Invalid bearer token`, the refresh fails, a new login works', async () => {
    const api = await start();
    const { bearer, refresh } = await login(api);
    expect((await post(api, JOIN, {}, { authorization: bearer })).status).toBe(201);
    await setFaults(api, { expireSessions: 1 });
    const refused = await post(api, JOIN, {}, { authorization: bearer });
    expect([refused.status, await refused.text()]).toEqual([
      401,
      '{"message":"Invalid bearer token","status":401}\n',
    ]);
    const renewed = await post(api, '/auth/refresh', { refresh_token: refresh });
    expect([renewed.status, await renewed.text()]).toEqual([401, 'token refresh failed\n']);
    const again = await login(api);
    expect((await post(api, JOIN, {}, { authorization: again.bearer })).status).toBe(201);
    expect(api.stats.snapshot()).toMatchObject({ sessions_expired: 1 });
  });

  it('throttleRate is a token bucket on join tokens: the burst, then 429 with Retry-After until it refills', async () => {
    let clock = 1_700_000_000_000;
    const api = await start(() => clock);
    const { bearer } = await login(api);
    await setFaults(api, { throttleRate: 4, throttleBurst: 2 });
    const mint = async () => {
      const res = await post(api, JOIN, {}, { authorization: bearer });
      await res.text();
      return [res.status, res.headers.get('retry-after')];
    };
    expect([await mint(), await mint(), await mint()]).toEqual([
      [201, null],
      [201, null],
      [429, '1'],
    ]);
    // Logins are not join tokens: the default scope lets them through.
    expect((await post(api, '/auth/login', ADMIN)).status).toBe(200);
    clock += 250; // a quarter of a second at 4/s: one token back
    expect([await mint(), await mint()]).toEqual([
      [201, null],
      [429, '1'],
    ]);
    clock += 10_000; // refilled to the burst, never beyond it
    expect([await mint(), await mint(), await mint()]).toEqual([
      [201, null],
      [201, null],
      [429, '1'],
    ]);
    await setFaults(api, { throttleScope: 'all' });
    expect((await post(api, '/auth/login', ADMIN)).status).toBe(429);
    await setFaults(api, { throttleRate: 0 });
    expect(await mint()).toEqual([201, null]);
    expect(api.stats.snapshot()).toMatchObject({ throttled: 4, join_tokens_429: 3, login_429: 1 });
  });

  it('a slow bucket says how long until its next token, in whole seconds', async () => {
    let clock = 1_700_000_000_000;
    const api = await start(() => clock);
    const { bearer } = await login(api);
    await setFaults(api, { throttleRate: 0.25, throttleBurst: 1 });
    expect((await post(api, JOIN, {}, { authorization: bearer })).status).toBe(201);
    clock += 1_500;
    const res = await post(api, JOIN, {}, { authorization: bearer });
    expect([res.status, res.headers.get('retry-after')]).toEqual([429, '3']);
  });

  it('refuses throttle knobs it cannot apply', async () => {
    const api = await start();
    for (const knobs of [{ throttleRate: -1 }, { throttleScope: 'logins' }, { throttleBurst: '5' }]) {
      const res = await fetch(`${api.url}/_sim/faults`, { method: 'POST', body: JSON.stringify(knobs) });
      expect(res.status, JSON.stringify(knobs)).toBe(400);
    }
  });
});
