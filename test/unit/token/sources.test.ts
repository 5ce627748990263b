import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../../src/token/admin-client.js';
import { TokenError, type TokenSourceName } from '../../../src/token/errors.js';
import { fingerprint } from '../../../src/token/fingerprint.js';
import {
  type AcquiredToken,
  acquireToken,
  adminApiSource,
  credentialsSource,
  fileSource,
  type SkippedSource,
  type TokenSource,
} from '../../../src/token/sources.js';
import { createTokenStore } from '../../../src/token/store.js';
import { rejection } from './rejection.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const at = (seconds: number) => new Date(NOW + seconds * 1000);

function fake(name: TokenSourceName, token?: string, expiresAt?: Date): TokenSource & { calls: number } {
  const source = {
    name,
    calls: 0,
    async acquire(): Promise<AcquiredToken | undefined> {
      source.calls += 1;
      if (!token) return undefined;
      return { token, source: name, fingerprint: fingerprint(token), ...(expiresAt ? { expiresAt } : {}) };
    },
  };
  return source;
}
function failing(name: TokenSourceName, err: TokenError): TokenSource {
  return {
    name,
    async acquire() {
      throw err;
    },
  };
}

describe('acquireToken', () => {
  it('returns the first source that yields and does not ask the later ones', async () => {
    const sources = [fake('credentials'), fake('file', 'from-file'), fake('admin-api', 'minted')];
    const got = await acquireToken({ sources, now: () => NOW });
    expect(got).toEqual({ token: 'from-file', source: 'file', fingerprint: fingerprint('from-file') });
    expect(sources.map((s) => s.calls)).toEqual([1, 1, 0]);
  });

  it('follows the configured order', async () => {
    const got = await acquireToken({
      sources: [fake('admin-api', 'minted'), fake('file', 'from-file')],
      now: () => NOW,
    });
    expect(got.source).toBe('admin-api');
  });

  it('skips expired tokens, tokens inside the margin and burned tokens, and reports each skip', async () => {
    const skipped: SkippedSource[] = [];
    const got = await acquireToken({
      sources: [
        fake('credentials', 'burned-one'),
        fake('file', 'old', at(-1)),
        fake('file', 'nearly', at(29)),
        fake('admin-api', 'fresh', at(900)),
      ],
      burned: new Set([fingerprint('burned-one')]),
      now: () => NOW,
      onSkip: (s) => skipped.push(s),
    });
    expect(got).toMatchObject({ token: 'fresh', source: 'admin-api', expiresAt: at(900) });
    expect(skipped).toEqual([
      { source: 'credentials', reason: 'burned', fingerprint: fingerprint('burned-one') },
      { source: 'file', reason: 'expired', fingerprint: fingerprint('old'), expiresAt: at(-1) },
      { source: 'file', reason: 'expired', fingerprint: fingerprint('nearly'), expiresAt: at(29) },
    ]);
  });

  it('uses a token with an unknown expiry', async () => {
    expect((await acquireToken({ sources: [fake('credentials', 'tok')], now: () => NOW })).token).toBe('tok');
  });

  it('falls through a failing source and explains every source when none yields', async () => {
    const refused = new TokenError('admin API refused the API key (401 Invalid API key)', {
      code: 'unauthorized',
      source: 'admin-api',
      retry: 'slow',
      status: 401,
      credential: 'api-key',
    });
    const down = new TokenError(
      'SPIRE server at unix:/s failed CreateJoinToken (UNAVAILABLE: no connection)',
      {
        code: 'unavailable',
        source: 'spire-server',
        retry: 'backoff',
        status: 14,
      },
    );
    const err = await rejection(
      acquireToken({
        sources: [
          fake('credentials'),
          fake('file', 'old', at(-60)),
          failing('admin-api', refused),
          failing('spire-server', down),
        ],
        now: () => NOW,
      }),
    );
    expect(err.message).toBe(
      `no usable join token (credentials: none; file: token ${fingerprint('old')} expired at 2029-12-31T23:59:00.000Z; ` +
        'admin-api: admin API refused the API key (401 Invalid API key); ' +
        'spire-server: SPIRE server at unix:/s failed CreateJoinToken (UNAVAILABLE: no connection))',
    );
    expect(err).toMatchObject({
      code: 'no-token',
      source: 'spire-server',
      retry: 'backoff',
      status: 14,
      cause: down,
    });
  });

  it('asks for a slow retry when only a human can help', async () => {
    const err = await rejection(
      acquireToken({ sources: [fake('credentials'), fake('file')], now: () => NOW }),
    );
    expect(err.message).toBe('no usable join token (credentials: none; file: none)');
    expect(err).toMatchObject({ code: 'no-token', retry: 'slow', source: 'file' });
  });
});

describe('sources', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'token-sources-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('credentials: reads $CREDENTIALS_DIRECTORY/<name> and never deletes it', async () => {
    await writeFile(join(dir, 'upstream-join-token'), 'cred-token\n', { mode: 0o400 });
    const source = credentialsSource({ directory: dir, name: 'upstream-join-token' });
    expect(await source.acquire()).toEqual({
      token: 'cred-token',
      source: 'credentials',
      fingerprint: fingerprint('cred-token'),
    });
    expect(await readdir(dir)).toEqual(['upstream-join-token']);
  });

  it('credentials: yields nothing without a directory or without the credential', async () => {
    expect(await credentialsSource({ directory: undefined, name: 'tok' }).acquire()).toBeUndefined();
    expect(await credentialsSource({ directory: dir, name: 'tok' }).acquire()).toBeUndefined();
  });

  it('credentials: rejects a name that is not a file name', () => {
    expect(() => credentialsSource({ directory: dir, name: '../etc/passwd' })).toThrow(
      'credential name: expected a file name, got "../etc/passwd"',
    );
  });

  it('file: carries the stored expiry, and reports a readable file as a file-source error', async () => {
    const store = createTokenStore({ path: join(dir, 'token') });
    await store.write({ token: 'stored', expiresAt: at(600) });
    expect(await fileSource({ store }).acquire()).toEqual({
      token: 'stored',
      source: 'file',
      fingerprint: fingerprint('stored'),
      expiresAt: at(600),
    });
    await chmod(join(dir, 'token'), 0o640);
    const err = await rejection(fileSource({ store }).acquire());
    expect(err).toMatchObject({
      code: 'insecure-file',
      source: 'file',
      path: join(dir, 'token'),
      fingerprint: fingerprint('stored'),
    });
  });

  it('file: a token file others can read stops the acquisition; no other token is minted over it', async () => {
    const store = createTokenStore({ path: join(dir, 'token') });
    await store.write({ token: 'operator-token' });
    await chmod(join(dir, 'token'), 0o644);
    const minter = fake('admin-api', 'minted');
    const err = await rejection(acquireToken({ sources: [fileSource({ store }), minter] }));
    expect(err).toMatchObject({ code: 'insecure-file', retry: 'slow' });
    expect(minter.calls).toBe(0);
  });

  it('admin-api: passes the request and maps the minted token', async () => {
    const requests: unknown[] = [];
    const client: AdminClient = {
      async mintJoinToken(request) {
        requests.push(request);
        return {
          token: 'minted',
          fingerprint: fingerprint('minted'),
          expiresAt: at(900),
          parentId: 'spiffe://td/spire/agent/join_token/minted',
        };
      },
      probe: async () => ({ credential: 'not-checked', serverTime: undefined }),
      async close() {},
    };
    const request = { ttlSeconds: 900, registerDownstream: false };
    expect(await adminApiSource({ client, request }).acquire()).toEqual({
      token: 'minted',
      source: 'admin-api',
      fingerprint: fingerprint('minted'),
      expiresAt: at(900),
      parentId: 'spiffe://td/spire/agent/join_token/minted',
    });
    expect(requests).toEqual([request]);
  });
});
