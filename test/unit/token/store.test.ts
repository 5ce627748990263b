import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenError } from '../../../src/token/errors.js';
import { fingerprint } from '../../../src/token/fingerprint.js';
import { createTokenStore } from '../../../src/token/store.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'token-store-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const TOKEN = '6d1a1b8e-6d1b-4c8e-9a43-0f1f2a3b4c5d';

describe('token store', () => {
  it('creates the directory 0700 and writes the bare token 0600 with a 0600 meta file', async () => {
    const path = join(root, 'nested', 'run', 'upstream-join-token');
    const expiresAt = new Date('2030-01-02T03:04:05.000Z');
    await createTokenStore({ path }).write({ token: TOKEN, expiresAt });

    expect((await stat(join(root, 'nested', 'run'))).mode & 0o777).toBe(0o700);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(`${path}.meta`)).mode & 0o777).toBe(0o600);
    expect(await readFile(path, 'utf8')).toBe(TOKEN);
    expect(JSON.parse(await readFile(`${path}.meta`, 'utf8'))).toEqual({
      fingerprint: fingerprint(TOKEN),
      expires_at: '2030-01-02T03:04:05.000Z',
    });
  });

  it('reads back the token with its fingerprint and expiry', async () => {
    const store = createTokenStore({ path: join(root, 'token') });
    const expiresAt = new Date('2030-01-02T03:04:05.000Z');
    await store.write({ token: TOKEN, expiresAt });
    expect(await store.read()).toEqual({ token: TOKEN, fingerprint: fingerprint(TOKEN), expiresAt });
  });

  it('returns undefined when there is no token file', async () => {
    expect(await createTokenStore({ path: join(root, 'missing') }).read()).toBeUndefined();
  });

  it('refuses a token file readable by group or others, naming path and mode but not the token', async () => {
    const path = join(root, 'token');
    await writeFile(path, TOKEN, { mode: 0o600 });
    await chmod(path, 0o644);
    const err = await createTokenStore({ path })
      .read()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenError);
    expect((err as TokenError).message).toBe(
      `token file ${path} has mode 0644, so group or others can read it; expected 0600 (chmod 600 ${path})`,
    );
    expect(err).toMatchObject({ code: 'insecure-file', source: 'store', retry: 'slow', path });
  });

  it('accepts a hand-written token with a trailing newline; its expiry is unknown without a matching meta file', async () => {
    const path = join(root, 'token');
    const store = createTokenStore({ path });
    await store.write({ token: 'old-token', expiresAt: new Date('2030-01-01T00:00:00Z') });
    await writeFile(path, `${TOKEN}\n`, { mode: 0o600 });
    expect(await store.read()).toEqual({ token: TOKEN, fingerprint: fingerprint(TOKEN) });
  });

  it('replaces the token atomically and leaves no temporary files behind', async () => {
    const path = join(root, 'token');
    const store = createTokenStore({ path });
    await store.write({ token: 'first-token' });
    await store.write({ token: TOKEN, expiresAt: new Date('2030-01-01T00:00:00Z') });
    expect((await store.read())?.token).toBe(TOKEN);
    expect((await readdir(root)).sort()).toEqual(['token', 'token.meta']);
  });

  it('consume deletes the token and its meta file, and is fine when they are already gone', async () => {
    const path = join(root, 'token');
    const store = createTokenStore({ path });
    await store.write({ token: TOKEN });
    await store.consume();
    expect(await readdir(root)).toEqual([]);
    await expect(store.consume()).resolves.toBeUndefined();
    expect(await store.read()).toBeUndefined();
  });

  it('consume of a given token leaves a file that holds another one by now (an operator dropped it in)', async () => {
    const path = join(root, 'token');
    const store = createTokenStore({ path });
    await store.write({ token: 'the-token-we-used' });
    await writeFile(path, `${TOKEN}\n`, { mode: 0o644 });
    await store.consume(fingerprint('the-token-we-used'));
    expect(await readFile(path, 'utf8')).toBe(`${TOKEN}\n`);
    await store.consume(fingerprint(TOKEN));
    expect(await readdir(root)).toEqual([]);
  });

  it('refuses to store an unusable token without echoing it', async () => {
    const store = createTokenStore({ path: join(root, 'token') });
    const err = await store.write({ token: 'abc def' }).catch((e: unknown) => e);
    expect((err as TokenError).message).toBe('join token from the token to store contains whitespace');
    expect(await readdir(root)).toEqual([]);
  });
});
