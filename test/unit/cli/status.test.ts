import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from './harness.js';

const STATUS = {
  phase: 'degraded',
  since: '2025-01-02T03:04:05.000Z',
  ready: false,
  children: [
    { name: 'upstream-agent', status: 'ready', pid: 101, restarts: 0, since: '2025-01-02T03:00:00.000Z' },
    { name: 'nested-server', status: 'waiting', pid: null, restarts: 2, since: null },
  ],
  identity: {
    upstream: {
      spiffeId: 'spiffe://carverauto.dev/spire/agent/join_token/0123456789ab…',
      expiresAt: '2025-01-02T04:00:00.000Z',
    },
  },
  lastError: { message: 'nested-server exited with code 1', at: '2025-01-02T03:04:05.000Z' },
  version: '0.1.0',
};

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

async function serve(status: number, body: string): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = [];
  server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

describe('poller-bootstrap status', () => {
  it('prints a summary of GET /status', async () => {
    const { url, paths } = await serve(200, JSON.stringify(STATUS));
    expect(await cli(['status', '--url', url])).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        'phase:      degraded since 2025-01-02T03:04:05.000Z (not ready)',
        'children:',
        '  upstream-agent    ready     pid 101  restarts 0  since 2025-01-02T03:00:00.000Z',
        '  nested-server     waiting   pid -  restarts 2  since -',
        'identity:',
        '  upstream          spiffe://carverauto.dev/spire/agent/join_token/0123456789ab…  expires 2025-01-02T04:00:00.000Z',
        'last error: nested-server exited with code 1 (at 2025-01-02T03:04:05.000Z)',
        'version:    0.1.0',
        '',
      ].join('\n'),
    });
    expect(paths).toEqual(['/status']);
  });

  it("finds the daemon at the config's http.listen", async () => {
    const { url, paths } = await serve(200, JSON.stringify(STATUS));
    const dir = mkdtempSync(join(tmpdir(), 'pb-status-'));
    const config = join(dir, 'config.json');
    const listen = new URL(url).host;
    const minimal = {
      trust_domain: 'example.org',
      upstream: { server_address: 'spire', insecure_bootstrap: true },
    };
    writeFileSync(config, JSON.stringify({ ...minimal, http: { listen } }));
    const { code, stdout } = await cli(['status', '--config', config]);
    expect(code).toBe(0);
    expect(stdout).toContain('phase:      degraded');
    expect(paths).toEqual(['/status']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('says what the daemon waits for, the cause code and the fix', async () => {
    const waiting = {
      ...STATUS,
      phase: 'backoff',
      pending: { timer: 'token-retry', agent: 'upstream-agent', dueAt: '2025-01-02T03:09:05.000Z' },
      identity: { 'upstream-agent': { spiffeId: null, expiresAt: null, status: 'missing', reason: 'none' } },
      lastError: {
        code: 'unauthorized',
        message: 'admin API refused the API key (401 Invalid API key)',
        hint: 'check the credential file named in admin_api',
        at: '2025-01-02T03:04:05.000Z',
      },
    };
    const { url } = await serve(200, JSON.stringify(waiting));
    const { stdout } = await cli(['status', '--url', url]);
    expect(stdout).toContain('waiting:    token-retry (upstream-agent) until 2025-01-02T03:09:05.000Z\n');
    expect(stdout).toContain('  upstream-agent    expires - (missing)\n');
    expect(stdout).toContain(
      'last error: [unauthorized] admin API refused the API key (401 Invalid API key) (at 2025-01-02T03:04:05.000Z)\n' +
        '  fix:      check the credential file named in admin_api\n',
    );
  });

  it('prints the JSON document with --json', async () => {
    const { url } = await serve(200, JSON.stringify(STATUS));
    const { code, stdout } = await cli(['status', '--json', '-u', `${url}/`]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(STATUS);
  });

  it('exits 69 when nothing listens', async () => {
    const { url } = await serve(200, '{}');
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    expect(await cli(['status', '--url', url])).toEqual({
      code: 69,
      stdout: '',
      stderr: `poller-bootstrap: cannot reach the daemon at ${url}/status: ECONNREFUSED\n`,
    });
  });

  it.each([
    [500, '{"error":"internal error"}', 'answered HTTP 500'],
    [200, 'not json', 'did not answer with a status document'],
    [200, '[1,2]', 'did not answer with a status document'],
  ])('exits 69 when the daemon answers %i %s', async (status, body, message) => {
    const { url } = await serve(status, body);
    const result = await cli(['status', '--url', url]);
    expect(result.code).toBe(69);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`poller-bootstrap: ${url}/status ${message}\n`);
  });

  it('rejects a URL that is not http as a usage error', async () => {
    const { code, stderr } = await cli(['status', '--url', 'unix:/run/pb.sock']);
    expect(code).toBe(64);
    expect(stderr).toMatch(
      /^poller-bootstrap: --url: expected an http:\/\/ URL, got "unix:\/run\/pb.sock"\n\nUsage: poller-bootstrap status/,
    );
  });
});
