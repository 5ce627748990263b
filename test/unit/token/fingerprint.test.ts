import { describe, expect, it } from 'vitest';
import { TokenError } from '../../../src/token/errors.js';
import { fingerprint } from '../../../src/token/fingerprint.js';
import { checkToken, tokenProblem } from '../../../src/token/value.js';

describe('fingerprint', () => {
  it('is the first 12 hex characters of the SHA-256 of the token', () => {
    // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    expect(fingerprint('abc')).toBe('ba7816bf8f01');
  });

  it('differs between tokens and never contains the token', () => {
    const token = '0123456789ab';
    expect(fingerprint(token)).not.toBe(fingerprint('0123456789ac'));
    expect(fingerprint(token)).not.toContain(token);
  });
});

describe('token values', () => {
  it.each([
    ['6d1a1b8e-6d1b-4c8e-9a43-0f1f2a3b4c5d', undefined],
    ['A_b.c-1', undefined],
    ['', 'is empty'],
    ['abc def', 'contains whitespace'],
    ['abc\tdef', 'contains whitespace'],
    ['abc\u0000def', 'contains a control character'],
    ['abc\u007fdef', 'contains a control character'],
    ['..', "is '.' or '..'"],
    ['abc/def', "contains characters other than letters, digits, '.', '-' and '_'"],
    ['abc"def', "contains characters other than letters, digits, '.', '-' and '_'"],
    ['x'.repeat(257), 'is 257 characters long (expected at most 256)'],
  ])('%j → %s', (token, problem) => {
    expect(tokenProblem(token)).toBe(problem);
  });

  it('trims surrounding whitespace and reports where a bad token came from', () => {
    expect(checkToken('  tok-1\n', 'file', 'token file /x')).toBe('tok-1');
    expect(() => checkToken('a$b', 'file', 'token file /x')).toThrow(
      new TokenError(
        "join token from token file /x contains characters other than letters, digits, '.', '-' and '_'",
        {
          code: 'invalid-token',
          source: 'file',
          retry: 'slow',
        },
      ),
    );
  });
});
