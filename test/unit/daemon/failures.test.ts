import { describe, expect, it } from 'vitest';
import { failureOf } from '../../../src/daemon/failures.js';
import { fileError } from '../../../src/token/secret-file.js';

const errno = (code: string) => Object.assign(new Error(`${code}: failed`), { code });
const SPACE = 'free space on, or make writable, the file system named in the message';

describe('failureOf', () => {
  it.each([
    ['EROFS', SPACE],
    ['ENOSPC', SPACE],
    ['EEXIST', null],
  ])('gives a token file write failing with %s the hint %s', (code, hint) => {
    const err = fileError('cannot write token file /run/t', '/run/t', 'store', errno(code));
    expect(failureOf('write-token', 'upstream-agent', err)).toMatchObject({
      code: 'io',
      // The agent whose token it is, and retried with backoff like any step.
      source: 'upstream-agent',
      retryable: true,
      message: `cannot write token file /run/t (${code})`,
      hint,
    });
  });

  it('does not call a failed release retryable: nothing retries it (SPIRE has burned the token anyway)', () => {
    const err = fileError('cannot delete token file /run/t', '/run/t', 'store', errno('EROFS'));
    expect(failureOf('release-token', 'upstream-agent', err)).toMatchObject({
      source: 'upstream-agent',
      retryable: false,
      hint: SPACE,
    });
  });

  it('gives a bare errno the same hint', () => {
    expect(failureOf('register-entries', null, errno('EROFS'))).toMatchObject({ code: 'io', hint: SPACE });
  });
});
