/**
 * Every place a token may come from, in the default order (DESIGN §3 acquire-token); the last one mints the
 * downstream agent's tokens and is not a configurable source.
 */
export const TOKEN_SOURCES = ['credentials', 'file', 'admin-api', 'spire-server', 'nested-server'] as const;
export type TokenSourceName = (typeof TOKEN_SOURCES)[number];
/** The sources `token.sources` may name. */
export const CONFIG_TOKEN_SOURCES = TOKEN_SOURCES.filter(
  (s): s is Exclude<TokenSourceName, 'nested-server'> => s !== 'nested-server',
);
export type ConfigTokenSource = (typeof CONFIG_TOKEN_SOURCES)[number];
/** The sources that create a token on request (the others read one that exists). */
export const MINTING_SOURCES: ReadonlySet<TokenSourceName> = new Set([
  'admin-api',
  'spire-server',
  'nested-server',
]);
/** Where a token came from, or which part of this layer failed. */
export type TokenErrorSource = TokenSourceName | 'store';

/** What went wrong, for metrics labels and status output. */
export type TokenErrorCode =
  | 'config' // options are wrong: fix the configuration
  | 'invalid-token' // a token value is unusable (empty, whitespace, characters SPIRE rejects)
  | 'insecure-file' // a secret file is readable by group or others
  | 'io' // a file could not be read or written
  | 'unauthorized' // 401: the credential was refused
  | 'forbidden' // 403: the credential lacks the admin role
  | 'policy-denied' // 403 naming a broker policy rule: the request is outside its templates or bounds
  | 'bad-request' // 400 or a local validation failure of the request
  | 'unavailable' // 502/503/429, connection refused, gRPC UNAVAILABLE
  | 'timeout'
  | 'protocol' // the peer answered something we cannot use
  | 'no-token'; // every source was tried and none yielded a usable token

/**
 * How to retry: `backoff` = exponential backoff from the start, `slow` = a human must probably act
 * (wrong credential, bad request), so retry at the backoff cap; `never` = retrying cannot help.
 */
export type RetryClass = 'backoff' | 'slow' | 'never';

/** Which admin API credential was used when the error happened. */
export type AdminCredential = 'api-key' | 'bearer' | 'login';

export interface TokenErrorFields {
  code: TokenErrorCode;
  source: TokenErrorSource;
  retry: RetryClass;
  status?: number;
  retryAfterMs?: number;
  credential?: AdminCredential;
  path?: string;
  /** The request reached a minting server and may have created a token before failing (rate limit). */
  mayHaveMinted?: boolean;
  /** The whole request was sent before the connection failed: the server may have acted on it. */
  requestSent?: boolean;
  /** The token concerned, by fingerprint (an insecure token file is named in the audit trail). */
  fingerprint?: string;
  cause?: unknown;
}

/**
 * The one error type of the token layer. Every field is always present (undefined when it does not apply)
 * so metrics and /status read fields and never parse messages. Messages never contain a secret.
 */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly code: TokenErrorCode;
  readonly source: TokenErrorSource;
  readonly retry: RetryClass;
  readonly retryable: boolean;
  /** HTTP status for the admin API, gRPC status code for the SPIRE server. */
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly credential: AdminCredential | undefined;
  readonly path: string | undefined;
  readonly mayHaveMinted: boolean;
  readonly requestSent: boolean;
  readonly fingerprint: string | undefined;

  constructor(message: string, fields: TokenErrorFields) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.code = fields.code;
    this.source = fields.source;
    this.retry = fields.retry;
    this.retryable = fields.retry !== 'never';
    this.status = fields.status;
    this.retryAfterMs = fields.retryAfterMs;
    this.credential = fields.credential;
    this.path = fields.path;
    this.mayHaveMinted = fields.mayHaveMinted ?? false;
    this.requestSent = fields.requestSent ?? false;
    this.fingerprint = fields.fingerprint;
  }

  /** The same error, marked as one that may have left a minted token behind. */
  minted(): TokenError {
    if (this.mayHaveMinted) return this;
    const { code, source, retry, status, retryAfterMs, credential, path, requestSent } = this;
    return new TokenError(this.message, {
      code,
      source,
      retry,
      status,
      retryAfterMs,
      credential,
      path,
      requestSent,
      mayHaveMinted: true,
      cause: this,
    });
  }
}

/** Replaces every occurrence of a secret in text coming from elsewhere (server bodies, OS errors). */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
