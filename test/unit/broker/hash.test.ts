import { describe, expect, it } from 'vitest';
import {
  API_KEY_HASH_CHECK,
  apiKeyDigest,
  apiKeyMatches,
  hashApiKey,
  hashPassword,
  PASSWORD_HASH_CHECK,
  secretProblem,
  verifyPassword,
} from '../../../src/broker/hash.js';

describe('stored secrets', () => {
  it('a password hash is scrypt in PHC form, salted, and verifies only the password', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(PASSWORD_HASH_CHECK.test(a)).toBe(true);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsf', a)).toBe(false);
    expect(await verifyPassword('correct horse', undefined)).toBe(false);
  });

  it('refuses scrypt parameters that would make a login take seconds or gigabytes', () => {
    const h = '$scrypt$ln=24,r=8,p=3$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    expect(PASSWORD_HASH_CHECK.test(h)).toBe(false);
  });

  it('an API key hash is its SHA-256, compared in constant time', () => {
    const key = 'k-0123456789abcdef0123456789abcdef';
    const stored = hashApiKey(key);
    expect(stored).toMatch(/^\$sha256\$[0-9a-f]{64}$/);
    expect(API_KEY_HASH_CHECK.test(stored)).toBe(true);
    expect(apiKeyMatches(apiKeyDigest(key), stored)).toBe(true);
    expect(apiKeyMatches(apiKeyDigest(`${key}x`), stored)).toBe(false);
  });

  it.each([
    ['', 'password', 'is empty'],
    ['two\nlines', 'password', 'has more than one line'],
    [
      'short',
      'api-key',
      'is 5 characters long; an API key needs at least 32 random characters (e.g. openssl rand -hex 32)',
    ],
    ['has space 0123456789abcdef0123456789', 'api-key', 'contains whitespace'],
  ] as const)('%j as %s: %s', (secret, kind, problem) => {
    expect(secretProblem(secret, kind)).toBe(problem);
  });
});
