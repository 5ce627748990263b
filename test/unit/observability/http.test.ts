import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HttpServerError,
  type HttpServerHandle,
  isLoopbackHost,
  startHttpServer,
} from '../../../src/observability/http.js';
import { maskJoinTokenIds } from '../../../src/observability/status.js';

const TOKEN = '8c4a0b5e-1f2d-4c3b-9a8e-7d6f5e4c3b2a';
// A document that (wrongly) holds a raw join-token agent ID: the endpoint masks it all the same.
const DOC = { phase: 'ready', agent: `spiffe://carverauto.dev/spire/agent/join_token/${TOKEN}` };

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(url: string, path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startHttpServer', () => {
  let server: HttpServerHandle | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const start = async (ready: () => boolean | { ready: boolean; reason: string }) => {
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      isReady: ready,
      getStatus: () => DOC,
      extraRoutes: { '/metrics': () => ({ status: 200, contentType: 'text/plain', body: 'm 1\n' }) },
    });
    return server.url;
  };

  it('serves /healthz, /readyz, /status, extra routes, 404 and 405', async () => {
    const url = await start(() => true);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await call(url, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await call(url, '/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
    const status = await call(url, '/status?verbose=1');
    expect(status.status).toBe(200);
    expect(status.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(status.body)).toEqual({ phase: 'ready', agent: maskJoinTokenIds(DOC.agent) });
    expect(status.body).not.toContain(TOKEN);
    expect(await call(url, '/metrics')).toMatchObject({ status: 200, body: 'm 1\n' });
    expect(await call(url, '/nope')).toMatchObject({ status: 404, body: 'not found\n' });
    const post = await call(url, '/status', 'POST');
    expect(post).toMatchObject({ status: 405, body: 'method not allowed\n' });
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(await call(url, '/healthz', 'HEAD')).toMatchObject({ status: 200, body: '' });
  });

  it('answers /readyz 503 with a JSON reason while not ready', async () => {
    let state: { ready: boolean; reason: string } = { ready: false, reason: 'phase acquire-token' };
    const url = await start(() => state);
    expect(await call(url, '/readyz')).toMatchObject({
      status: 503,
      body: '{"ready":false,"reason":"phase acquire-token"}\n',
    });
    state = { ready: true, reason: 'ready' };
    expect((await call(url, '/readyz')).status).toBe(200);
  });

  it('answers 500 without details when getStatus throws', async () => {
    const seen: string[] = [];
    server = await startHttpServer({
      port: 0,
      isReady: () => false,
      getStatus: () => {
        throw new Error(`secret ${TOKEN}`);
      },
      onError: (_error, path) => seen.push(path),
    });
    expect(await call(server.url, '/status')).toMatchObject({
      status: 500,
      body: '{"error":"internal error"}\n',
    });
    expect(await call(server.url, '/readyz')).toMatchObject({
      status: 503,
      body: '{"ready":false,"reason":"not ready"}\n',
    });
    expect(seen).toEqual(['/status']);
  });

  it.each(['0.0.0.0', '::', '192.0.2.10'])('refuses %s without allowNonLoopback', async (host) => {
    const attempt = startHttpServer({ host, port: 0, isReady: () => true, getStatus: () => ({}) });
    await expect(attempt).rejects.toThrow(HttpServerError);
    await expect(attempt).rejects.toThrow(
      `refusing to serve /status on ${host}:0: not a loopback address; ` +
        'listen on 127.0.0.1 or ::1, or allow non-loopback addresses explicitly',
    );
  });

  it('serves 0.0.0.0 when allowed explicitly', async () => {
    server = await startHttpServer({
      host: '0.0.0.0',
      port: 0,
      allowNonLoopback: true,
      isReady: () => true,
      getStatus: () => ({}),
    });
    expect(server.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
  });

  it('reports a port in use as a listen failure', async () => {
    const url = await start(() => true);
    const port = Number(new URL(url).port);
    await expect(startHttpServer({ port, isReady: () => true, getStatus: () => ({}) })).rejects.toThrow(
      `cannot listen on 127.0.0.1:${port} (EADDRINUSE)`,
    );
  });

  it('refuses to replace a built-in route', async () => {
    const attempt = startHttpServer({
      port: 0,
      isReady: () => true,
      getStatus: () => ({}),
      extraRoutes: { '/status': () => ({ status: 200, contentType: 'text/plain', body: '' }) },
    });
    await expect(attempt).rejects.toThrow('HTTP route /status is already defined');
  });

  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['example.com', false],
  ])('isLoopbackHost(%s) is %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('a malformed request target', () => {
  it('is answered 400 and the server keeps serving', async () => {
    const { startHttpServer: start } = await import('../../../src/observability/http.js');
    const server = await start({ host: '127.0.0.1', port: 0, getStatus: () => ({}), isReady: () => true });
    const { port } = new URL(server.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write('GET //[ HTTP/1.1\r\nHost: x\r\n\r\n'),
      );
      let data = '';
      socket.on('data', (d) => {
        data += d.toString();
        socket.end();
      });
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await server.close();
  });
});
