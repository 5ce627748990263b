import { type Agent, fetch, type Response } from 'undici';
import { flattenControlChars } from '../common/control-chars.js';
import { type AdminCredential, redact, TokenError } from './errors.js';
import { parseRetryAfter } from './retry-after.js';

export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpContext {
  base: URL;
  dispatcher: Agent;
  timeoutMs: number;
  now: () => number;
  /** Values to scrub from anything we quote back (server bodies, error causes). */
  secrets: () => (string | undefined)[];
}

export interface HttpReply {
  status: number;
  retryAfterMs: number | undefined;
  body: string;
  /** The server's clock (its Date header), for doctor's skew check. */
  date: number | undefined;
}

const dateOf = (res: Response): number | undefined => {
  const at = Date.parse(res.headers.get('date') ?? '');
  return Number.isNaN(at) ? undefined : at;
};

// Certificate problems are configuration, not weather: retrying soon will not help.
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ALTNAME/;

/** POSTs JSON under a total timeout and returns status and (at most 64 KiB of) body; throws TokenError. */
export async function postJson(
  ctx: HttpContext,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  signal?: AbortSignal,
): Promise<HttpReply> {
  const url = new URL(path.replace(/^\//, ''), ctx.base);
  const where = `${url.origin}${url.pathname}`;
  const timeout = AbortSignal.timeout(ctx.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      redirect: 'error',
      signal: combined,
      // undici's own fetch with its own Agent (custom CA, connect timeout): never mixed with Node's built-in one.
      dispatcher: ctx.dispatcher,
    });
    const text = await readCapped(res, where);
    return {
      status: res.status,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), ctx.now()),
      body: text,
      date: dateOf(res),
    };
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (err instanceof TokenError) throw err;
    if (timeout.aborted) {
      throw new TokenError(`admin API at ${where} did not answer within ${ctx.timeoutMs} ms`, {
        code: 'timeout',
        source: 'admin-api',
        retry: 'backoff',
      });
    }
    const code = errorCode(err);
    const tls = TLS_CODES.test(code);
    const what = tls
      ? `TLS verification of the admin API at ${url.origin} failed`
      : `cannot reach the admin API at ${where}`;
    throw new TokenError(`${what} (${redact(code, ctx.secrets())})`, {
      code: tls ? 'config' : 'unavailable',
      source: 'admin-api',
      retry: tls ? 'slow' : 'backoff',
    });
  }
}

async function readCapped(res: Response, where: string): Promise<string> {
  const tooLarge = () =>
    new TokenError(`admin API at ${where} answered ${res.status} with a body over ${MAX_BODY_BYTES} bytes`, {
      code: 'protocol',
      source: 'admin-api',
      retry: 'backoff',
      status: res.status,
    });
  if (Number(res.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The server's message from a JSON {message} or plain-text error body: one line, short, secrets scrubbed. */
export function serverMessage(body: string, secrets: (string | undefined)[]): string {
  let text = body;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (
      parsed &&
      typeof parsed === 'object' &&
      typeof (parsed as { message?: unknown }).message === 'string'
    ) {
      text = (parsed as { message: string }).message;
    }
  } catch {
    // plain text (the auth layer answers 401/403 that way)
  }
  // The server may quote a token we have not seen (a parent ID .../join_token/<token>, or SPIRE's UUID tokens).
  const scrubbed = redact(text, secrets)
    .replace(/(join_token\/)[A-Za-z0-9._-]+/g, '$1[redacted]')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '[redacted]');
  const line = flattenControlChars(scrubbed).trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line || 'no message';
}

export interface DescribedCredential {
  credential: AdminCredential;
  /** E.g. "the API key", "the login of user \"admin\"". */
  described: string;
}

/** A TokenError for a non-success HTTP answer, classified by status; says which credential was refused. */
export function statusError(
  ctx: HttpContext,
  reply: HttpReply,
  where: string,
  cred: DescribedCredential,
): TokenError {
  const msg = `${reply.status} ${serverMessage(reply.body, ctx.secrets())}`;
  const base = { source: 'admin-api' as const, status: reply.status, credential: cred.credential };
  switch (reply.status) {
    case 400:
      return new TokenError(
        `admin API rejected the join token request (${msg}); the server may have minted a token before rejecting it`,
        { ...base, code: 'bad-request', retry: 'slow' },
      );
    case 401:
      return new TokenError(`admin API refused ${cred.described} (${msg})${rbacHint(cred, reply.body)}`, {
        ...base,
        code: 'unauthorized',
        retry: 'slow',
      });
    case 403:
      return new TokenError(
        `admin API denied ${cred.described} access to ${where} (${msg}); it needs the admin role`,
        {
          ...base,
          code: 'forbidden',
          retry: 'slow',
        },
      );
    case 404:
      return new TokenError(
        `admin API has no ${where} (${msg}); does this ServiceRadar core support join tokens?`,
        {
          ...base,
          code: 'protocol',
          retry: 'slow',
        },
      );
    default: {
      const unavailable = reply.status === 429 || reply.status >= 500;
      return new TokenError(`admin API answered ${msg} for ${where}`, {
        ...base,
        code: unavailable ? 'unavailable' : 'protocol',
        retry: 'backoff',
        retryAfterMs: reply.retryAfterMs,
      });
    }
  }
}

// ServiceRadar core's API-key path sets no user, so with RBAC on it answers /api/admin/* with "unauthorized".
function rbacHint(cred: DescribedCredential, body: string): string {
  if (cred.credential !== 'api-key' || body.trim().toLowerCase() !== 'unauthorized') return '';
  return '; with RBAC enabled, ServiceRadar refuses API keys on /api/admin/*: configure a login instead';
}

// The errno/OpenSSL code from fetch's cause chain ("fetch failed" → cause → ...), else the innermost message.
function errorCode(err: unknown): string {
  let e: unknown = err;
  let message = err instanceof Error ? err.message : 'unknown error';
  for (let depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (e instanceof Error) message = e.message;
    e = (e as { cause?: unknown }).cause;
  }
  return message;
}
