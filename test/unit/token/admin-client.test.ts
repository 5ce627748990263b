import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AdminAuth, type AdminClient, createAdminClient } from '../../../src/token/admin-client.js';
import type { JoinTokenRequest } from '../../../src/token/admin-request.js';
import { rejection } from './rejection.js';

const TOKEN = '6d1a1b8e-6d1b-4c8e-9a43-0f1f2a3b4c5d';
const API_KEY = 'key-SECRET-0123456789';
const PASSWORD = 'pw-SECRET-9876543210';
const PARENT = `spiffe://carverauto.dev/spire/agent/join_token/${TOKEN}`;

const REQUEST: JoinTokenRequest = {
  ttlSeconds: 900,
  registerDownstream: true,
  downstream: {
    spiffeId: 'spiffe://carverauto.dev/ns/edge/poller-nested-spire',
    selectors: ['unix:uid:0', 'unix:path:/opt/spire/bin/spire-server'],
    x509SvidTtlSeconds: 14_400,
    jwtSvidTtlSeconds: 1800,
  },
};

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
type Handler = (req: Seen, res: ServerResponse) => void;

let dir: string;
let server: Server;
let base: string;
let seen: Seen[];
let handler: Handler;
let clients: AdminClient[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'admin-client-'));
  await writeFile(join(dir, 'api-key'), `${API_KEY}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'password'), PASSWORD, { mode: 0o600 });
  seen = [];
  clients = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function client(auth?: AdminAuth, extra: { timeoutMs?: number; now?: () => number } = {}) {
  const c = await createAdminClient({
    url: base,
    allowHttp: true,
    auth: auth ?? { kind: 'api-key', keyFile: join(dir, 'api-key') },
    ...extra,
  });
  clients.push(c);
  return c;
}
const login = (): AdminAuth => ({ kind: 'login', username: 'admin', passwordFile: join(dir, 'password') });

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    ...headers,
  });
  res.end(text);
}
const minted = (extra: Record<string, unknown> = {}) => ({
  token: TOKEN,
  expires_at: '2030-01-01T00:15:00Z',
  parent_spiffe_id: PARENT,
  downstream_entry_id: 'entry-1',
  ...extra,
});
describe('admin API client', () => {
  it('mints a token with the API key and sends the request ServiceRadar expects', async () => {
    handler = (_req, res) => reply(res, 201, minted());
    const result = await (await client()).mintJoinToken(REQUEST);
    expect(result).toEqual({
      token: TOKEN,
      fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/),
      expiresAt: new Date('2030-01-01T00:15:00Z'),
      parentId: PARENT,
      downstreamEntryId: 'entry-1',
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/admin/spire/join-tokens' });
    expect(seen[0]?.headers['x-api-key']).toBe(API_KEY);
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({
      ttl_seconds: 900,
      register_downstream: true,
      downstream: {
        spiffe_id: 'spiffe://carverauto.dev/ns/edge/poller-nested-spire',
        selectors: ['unix:uid:0', 'unix:path:/opt/spire/bin/spire-server'],
        x509_svid_ttl_seconds: 14_400,
        jwt_svid_ttl_seconds: 1800,
      },
    });
  });

  it('accepts the legacy spiffe_id parent field', async () => {
    handler = (_req, res) =>
      reply(res, 201, { token: TOKEN, expires_at: '2030-01-01T00:15:00Z', spiffe_id: PARENT });
    const result = await (await client()).mintJoinToken(REQUEST);
    expect(result.parentId).toBe(PARENT);
    expect(result.downstreamEntryId).toBeUndefined();
  });

  it('logs in, and logs in again once when the session has expired', async () => {
    let issued = 0;
    let valid = '';
    handler = (req, res) => {
      if (req.url === '/auth/login') {
        expect(JSON.parse(req.body)).toEqual({ username: 'admin', password: PASSWORD });
        valid = `jwt-${++issued}`;
        return reply(res, 200, { access_token: valid });
      }
      if (req.headers.authorization !== `Bearer ${valid}`) return reply(res, 401, 'unauthorized');
      reply(res, 201, minted());
    };
    const c = await client(login());
    await c.mintJoinToken(REQUEST);
    valid = 'expired-by-server';
    await expect(c.mintJoinToken(REQUEST)).resolves.toMatchObject({ token: TOKEN });
    expect(seen.map((s) => s.url)).toEqual([
      '/auth/login',
      '/api/admin/spire/join-tokens',
      '/api/admin/spire/join-tokens',
      '/auth/login',
      '/api/admin/spire/join-tokens',
    ]);
  });

  it('gives up after one re-login and names the refused credential', async () => {
    handler = (req, res) =>
      req.url === '/auth/login'
        ? reply(res, 200, { access_token: 'jwt-x' })
        : reply(res, 401, 'unauthorized');
    const c = await client(login());
    await rejection(c.mintJoinToken(REQUEST)); // fresh session refused: no second login
    const err = await rejection(c.mintJoinToken(REQUEST));
    expect(err.message).toBe('admin API refused the session of user "admin" (401 unauthorized)');
    expect(err).toMatchObject({ code: 'unauthorized', credential: 'login', status: 401, retry: 'slow' });
    expect(seen.filter((s) => s.url === '/auth/login')).toHaveLength(2);
  });

  it.each([
    [
      'api-key',
      401,
      'Invalid API key',
      'admin API refused the API key (401 Invalid API key)',
      { code: 'unauthorized', retry: 'slow', credential: 'api-key' },
    ],
    [
      'api-key',
      401,
      'unauthorized',
      'admin API refused the API key (401 unauthorized); with RBAC enabled, ServiceRadar refuses API keys on /api/admin/*: configure a login instead',
      { code: 'unauthorized', retry: 'slow', credential: 'api-key' },
    ],
    [
      'api-key',
      403,
      'insufficient permissions',
      'admin API denied the API key access to /api/admin/spire/join-tokens (403 insufficient permissions); it needs the admin role',
      { code: 'forbidden', retry: 'slow', credential: 'api-key' },
    ],
    [
      'api-key',
      403,
      { message: 'ttl_seconds 86400 is over the maximum 3600', status: 403, rule: 'ttl' },
      "the broker's policy refused the join token request (rule ttl: 403 ttl_seconds 86400 is over the maximum 3600); the request is outside what its templates allow",
      { code: 'policy-denied', retry: 'slow', credential: 'api-key' },
    ],
    [
      'api-key',
      403,
      { message: 'the admin role is required', status: 403, rule: 'role' },
      'admin API denied the API key access to /api/admin/spire/join-tokens (403 the admin role is required); it needs the admin role',
      { code: 'forbidden', retry: 'slow', credential: 'api-key' },
    ],
    [
      'api-key',
      400,
      { message: 'invalid selector "unix"', status: 400 },
      'admin API rejected the join token request (400 invalid selector "unix"); the server may have minted a token before rejecting it',
      { code: 'bad-request', retry: 'slow' },
    ],
    [
      'api-key',
      502,
      { message: 'failed to create join token', status: 502 },
      'admin API answered 502 failed to create join token for /api/admin/spire/join-tokens',
      { code: 'unavailable', retry: 'backoff', retryAfterMs: undefined },
    ],
    [
      'login',
      401,
      'invalid credentials',
      'admin API refused the login of user "admin" (401 invalid credentials)',
      { code: 'unauthorized', retry: 'slow', credential: 'login' },
    ],
  ] as const)('%s answered %i %j', async (kind, status, body, message, fields) => {
    handler = (_req, res) => reply(res, status, body);
    const err = await rejection(
      (await client(kind === 'login' ? login() : undefined)).mintJoinToken(REQUEST),
    );
    expect(err.message).toBe(message);
    expect(err).toMatchObject({ status, source: 'admin-api', ...fields });
  });

  it('reports 503 and 429 as retryable, honouring Retry-After in seconds or as a date', async () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    handler = (_req, res) =>
      seen.length === 1
        ? reply(res, 503, { message: 'SPIRE integration disabled', status: 503 }, { 'retry-after': '7' })
        : reply(res, 429, 'slow down', { 'retry-after': 'Tue, 01 Jan 2030 00:01:00 GMT' });
    const c = await client(undefined, { now: () => now });
    const first = await rejection(c.mintJoinToken(REQUEST));
    expect(first).toMatchObject({
      code: 'unavailable',
      retry: 'backoff',
      retryable: true,
      retryAfterMs: 7000,
    });
    expect(first.message).toBe(
      'admin API answered 503 SPIRE integration disabled for /api/admin/spire/join-tokens',
    );
    const second = await rejection(c.mintJoinToken(REQUEST));
    expect(second).toMatchObject({ code: 'unavailable', status: 429, retryAfterMs: 60_000 });
  });

  it.each([
    ['with a content-length', true],
    ['streamed without a length', false],
  ])('rejects a body over 64 KiB %s', async (_name, withLength) => {
    const big = JSON.stringify(minted({ padding: 'x'.repeat(70 * 1024) }));
    handler = (_req, res) => {
      res.writeHead(201, withLength ? { 'content-length': String(Buffer.byteLength(big)) } : {});
      res.write(big.slice(0, 40 * 1024));
      res.end(big.slice(40 * 1024));
    };
    const err = await rejection((await client()).mintJoinToken(REQUEST));
    expect(err.message).toBe(
      `admin API at ${base}/api/admin/spire/join-tokens answered 201 with a body over 65536 bytes`,
    );
    expect(err).toMatchObject({ code: 'protocol', retry: 'backoff' });
  });

  it.each([
    [
      'malformed JSON',
      '{"token": "abc',
      'admin API answered 201 for /api/admin/spire/join-tokens with a body that is not a JSON object',
    ],
    [
      'no expiry',
      { token: TOKEN, parent_spiffe_id: PARENT },
      'admin API answered 201 without an RFC 3339 expires_at (got null)',
    ],
    [
      'no parent',
      { token: TOKEN, expires_at: '2030-01-01T00:15:00Z' },
      'admin API answered 201 without a parent_spiffe_id',
    ],
    ['a bad token', minted({ token: 'two words' }), 'join token from the admin API contains whitespace'],
  ])('rejects a 201 with %s', async (_name, body, message) => {
    handler = (_req, res) => reply(res, 201, body);
    const err = await rejection((await client()).mintJoinToken(REQUEST));
    expect(err.message).toBe(message);
  });

  it('refuses http:// unless allowed, listing every option problem', async () => {
    const err = await rejection(
      createAdminClient({ url: 'http://core:8090', timeoutMs: 0, auth: { kind: 'api-key', keyFile: '/k' } }),
    );
    expect(err.message).toBe(
      'admin API options are invalid:\n' +
        '  url: http:// would send the credential in clear text; use https:// (or allowHttp), got "http://core:8090"\n' +
        '  timeoutMs: expected a positive integer, got 0',
    );
    expect(err).toMatchObject({ code: 'config', retry: 'never', retryable: false });
  });

  it('gives up when the server does not answer within the total timeout', async () => {
    handler = () => undefined; // never answers
    const err = await rejection((await client(undefined, { timeoutMs: 300 })).mintJoinToken(REQUEST));
    expect(err.message).toBe(`admin API at ${base}/api/admin/spire/join-tokens did not answer within 300 ms`);
    expect(err).toMatchObject({ code: 'timeout', retry: 'backoff' });
  });

  it('counts a connection lost after the mint request was sent as one that may have minted', async () => {
    handler = (_req, res) => res.socket?.destroy(); // read the whole request, then gone
    const err = await rejection((await client()).mintJoinToken(REQUEST));
    expect(err.message).toMatch(
      /closed the connection before answering \((ECONNRESET|UND_ERR_SOCKET|socket hang up)\)/,
    );
    expect(err).toMatchObject({
      code: 'unavailable',
      retry: 'backoff',
      requestSent: true,
      mayHaveMinted: true,
    });
  });

  it('does not count a refused connection as a mint', async () => {
    const closed = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise((r) => server.close(r));
    const c = await createAdminClient({
      url: closed,
      allowHttp: true,
      auth: { kind: 'api-key', keyFile: join(dir, 'api-key') },
    });
    clients.push(c);
    const err = await rejection(c.mintJoinToken(REQUEST));
    expect(err.message).toContain('cannot reach the admin API');
    expect(err).toMatchObject({ code: 'unavailable', requestSent: false, mayHaveMinted: false });
  });

  it('validates the request locally and sends nothing when it is wrong', async () => {
    handler = (_req, res) => reply(res, 201, minted());
    const bad: JoinTokenRequest = {
      ttlSeconds: 0,
      registerDownstream: true,
      clientSpiffeId: 'spiffe://Bad Domain/x',
      downstream: {
        spiffeId: 'spiffe://carverauto.dev',
        selectors: ['unix:uid:0', 'unix', ':x'],
        x509SvidTtlSeconds: 1.5,
      },
    };
    const err = await rejection((await client()).mintJoinToken(bad));
    expect(err.message).toBe(
      [
        'join token request is invalid:',
        '  client_spiffe_id: expected a trust domain of lowercase letters, digits, ".", "-" and "_", got "spiffe://Bad Domain/x"',
        '  ttl_seconds: expected a positive integer (seconds), got 0',
        '  downstream.spiffe_id: expected a SPIFFE ID with a path, got "spiffe://carverauto.dev"',
        '  downstream.selectors[1]: expected "type:value" (e.g. "unix:uid:0"), got "unix"',
        '  downstream.selectors[2]: expected "type:value" (e.g. "unix:uid:0"), got ":x"',
        '  downstream.x509_svid_ttl_seconds: expected a non-negative integer (seconds), got 1.5',
      ].join('\n'),
    );
    expect(seen).toHaveLength(0);
  });

  it('refuses a key file that others can read', async () => {
    await writeFile(join(dir, 'loose-key'), API_KEY, { mode: 0o644 });
    const err = await rejection(
      (await client({ kind: 'api-key', keyFile: join(dir, 'loose-key') })).mintJoinToken(REQUEST),
    );
    expect(err.message).toBe(
      `API key file ${join(dir, 'loose-key')} has mode 0644, so group or others can read it; expected 0600 (chmod 600 ${join(dir, 'loose-key')})`,
    );
    expect(seen).toHaveLength(0);
  });

  it('never puts the token, API key, password or session in an error message', async () => {
    // The server echoes every secret the client sent, and the token it minted (bare and inside the parent ID).
    const echoed = (auth: AdminAuth | undefined) =>
      `${TOKEN} ${PARENT} ${auth ? `${PASSWORD} jwt-SECRET-session` : API_KEY}`;
    const bodies: [number, (echo: string) => unknown][] = [
      [400, (echo) => ({ message: `bad request: ${echo}`, status: 400 })],
      [401, (echo) => `Invalid API key ${echo}`],
      [403, (echo) => echo],
      [503, (echo) => ({ message: echo, status: 503 })],
      [201, () => `{"token": "${TOKEN}`],
      [201, () => minted({ token: `${TOKEN} x`, expires_at: 'never' })],
      [201, () => ({ token: TOKEN, expires_at: TOKEN, spiffe_id: PARENT })],
    ];
    const messages: string[] = [];
    for (const [status, body] of bodies) {
      for (const auth of [undefined, login()]) {
        handler = (req, res) =>
          req.url === '/auth/login'
            ? reply(res, 200, { access_token: 'jwt-SECRET-session' })
            : reply(res, status, body(echoed(auth)));
        const err = await rejection((await client(auth)).mintJoinToken(REQUEST));
        messages.push(err.message);
      }
    }
    // A session that expired and a re-login that is refused: the dropped session is still scrubbed.
    const c = await client(login());
    handler = (req, res) =>
      req.url === '/auth/login'
        ? reply(res, 200, { access_token: 'jwt-SECRET-session' })
        : reply(res, 201, minted());
    await c.mintJoinToken(REQUEST);
    handler = (_req, res) => reply(res, 401, echoed(login()));
    messages.push((await rejection(c.mintJoinToken(REQUEST))).message);
    for (const message of messages) {
      for (const secret of [TOKEN, API_KEY, PASSWORD, 'jwt-SECRET-session'])
        expect(message).not.toContain(secret);
    }
    expect(messages).toHaveLength(15);
  });
});
