import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminClient } from '../../../src/token/admin-client.js';
import { selfSignedCert } from '../../fixtures/tls.js';
import { rejection } from './rejection.js';

const REQUEST = { ttlSeconds: 900, registerDownstream: false };
let dir: string;
let server: Server;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'admin-tls-'));
  const tls = selfSignedCert(dir, 'poller-bootstrap-test');
  await writeFile(join(dir, 'api-key'), 'tls-test-key', { mode: 0o600 });
  server = createServer({ key: await readFile(tls.key), cert: await readFile(tls.cert) }, (_req, res) => {
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        token: 'tls-token',
        expires_at: '2030-01-01T00:00:00Z',
        parent_spiffe_id: 'spiffe://td/spire/agent/join_token/tls-token',
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('admin API client over TLS', () => {
  it('trusts the server through the configured CA file', async () => {
    const client = await createAdminClient({
      url,
      caFile: join(dir, 'tls.crt'),
      auth: { kind: 'api-key', keyFile: join(dir, 'api-key') },
    });
    try {
      await expect(client.mintJoinToken(REQUEST)).resolves.toMatchObject({ token: 'tls-token' });
    } finally {
      await client.close();
    }
  });

  it('refuses a certificate it cannot verify, as a configuration problem', async () => {
    const client = await createAdminClient({ url, auth: { kind: 'api-key', keyFile: join(dir, 'api-key') } });
    try {
      const err = await rejection(client.mintJoinToken(REQUEST));
      expect(err.message).toBe(
        `TLS verification of the admin API at ${url} failed (DEPTH_ZERO_SELF_SIGNED_CERT)`,
      );
      expect(err).toMatchObject({ code: 'config', retry: 'slow', source: 'admin-api' });
    } finally {
      await client.close();
    }
  });

  it('names a CA file it cannot read', async () => {
    const missing = join(dir, 'missing-ca.pem');
    await expect(
      createAdminClient({ url, caFile: missing, auth: { kind: 'api-key', keyFile: join(dir, 'api-key') } }),
    ).rejects.toThrow(`cannot read CA file ${missing} (ENOENT)`);
  });
});
