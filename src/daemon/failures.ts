// Turns whatever an effect threw into the machine's one failure shape: a stable code, whether waiting helps, and
// what to do about it. Metrics, /status and alerts read these fields; nothing downstream parses messages.
import { SpireApiError } from '../spire/api-error.js';
import { TokenError, type TokenErrorCode } from '../token/errors.js';
import type { Failure } from './machine-types.js';

// A full or read-only file system: the one file failure whose fix is the same whatever the file.
const SPACE_ERRNOS = ['ENOSPC', 'EROFS', 'EDQUOT'];
const SPACE_HINT = 'free space on, or make writable, the file system named in the message';
const spaceHint = (err: unknown) =>
  SPACE_ERRNOS.includes((err as NodeJS.ErrnoException | null)?.code ?? '') ? SPACE_HINT : null;

const TOKEN_HINTS: Partial<Record<TokenErrorCode, (e: TokenError) => string | null>> = {
  unauthorized: (e) =>
    e.credential === 'login'
      ? 'check admin_api.username and the password in admin_api.password_file'
      : 'check the credential file named in admin_api (api_key_file or bearer_token_file)',
  forbidden: () => 'give the credential the admin role on the admin API',
  'policy-denied': () =>
    "make downstream.* and token.ttl_seconds fit the broker's templates and TTL bounds, or widen its policy",
  'insecure-file': (e) =>
    `chmod 600 ${e.path ?? 'the file'} if the token was put there on purpose, or delete it; until then the daemon neither uses nor replaces it`,
  config: () => 'fix the configuration named in the message, then reload (SIGHUP)',
  'bad-request': () => 'the admin API refused the request: check downstream.* in the configuration',
  // The token layer wraps the errno (src/token/secret-file.ts fileError); its cause still has it.
  io: (e) => spaceHint(e.cause),
  'no-token': () =>
    'provide a join token: a systemd credential, the token file (token.file), or an admin_api section',
};

function tokenFailure(step: Failure['step'], source: string | null, e: TokenError): Failure {
  // A token source that was empty or refused says more than "no usable join token" alone.
  const cause = e.code === 'no-token' && e.cause instanceof TokenError ? e.cause : e;
  // Writing or releasing a token concerns an agent. A write is a step, retried with backoff whatever the token
  // layer thinks; a release is not retried: SPIRE has burned the token already, and a file left behind is
  // refused at its next use and burned then.
  const acquiring = step === 'acquire-token';
  return {
    step,
    source: acquiring ? cause.source : (source ?? cause.source),
    code: cause.code,
    retryable: acquiring ? e.retry === 'backoff' : step !== 'release-token',
    retryAfterMs: e.retryAfterMs ?? null,
    message: e.message,
    hint: (TOKEN_HINTS[cause.code] ?? TOKEN_HINTS[e.code])?.(cause) ?? null,
  };
}

/** The failure of `step` (concerning `source`) that `err` describes. */
export function failureOf(step: Failure['step'], source: string | null, err: unknown): Failure {
  if (err instanceof TokenError) return tokenFailure(step, source, err);
  if (err instanceof SpireApiError) {
    return {
      step,
      source,
      code: `spire-${err.codeName.toLowerCase().replace(/_/g, '-')}`,
      retryable: err.retryable,
      retryAfterMs: null,
      message: err.message,
      hint: err.retryable ? null : `see the SPIRE server's log for ${err.method}`,
    };
  }
  const errno = (err as NodeJS.ErrnoException | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof errno === 'string') {
    return { step, source, code: 'io', retryable: true, retryAfterMs: null, message, hint: spaceHint(err) };
  }
  return { step, source, code: 'internal', retryable: true, retryAfterMs: null, message, hint: null };
}
