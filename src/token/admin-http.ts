// Node's own HTTP client: the admin API needs one POST with a private CA, a connect timeout, a total timeout and a
// capped body, all of which node:http does; fetch would need undici's Agent for the CA, a 60 ms, 6 MiB import.
import * as http from 'node:http';
import * as https from 'node:https';
import { flattenControlChars } from '../common/control-chars.js';
import { type AdminCredential, redact, TokenError } from './errors.js';
import { parseRetryAfter } from './retry-after.js';

export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpContext {
  base: URL;
  /** Keeps the connection (and its TLS session) between the login and the mint; https.Agent for https. */
  agent: http.Agent;
  connectTimeoutMs: number;
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

const dateOf = (res: http.IncomingMessage): number | undefined => {
  const at = Date.parse(res.headers.date ?? '');
  return Number.isNaN(at) ? undefined : at;
};

/** The agent for `base`: https with the private CA (if any), else plain http (loopback tests only). */
export function agentFor(base: URL, ca: string | undefined): http.Agent {
  return base.protocol === 'https:'
    ? new https.Agent({ keepAlive: true, ...(ca ? { ca } : {}) })
    : new http.Agent({ keepAlive: true });
}

/** Sends the request; resolves with the response head. A connection not made in time fails ETIMEDOUT. */
function send(
  ctx: HttpContext,
  url: URL,
  payload: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(payload)) },
        agent: ctx.agent,
        signal,
      },
      resolve,
    );
    // A failure after the whole request went out leaves the server's side unknown: it may have acted on it.
    let sent = false;
    req.once('finish', () => {
      sent = true;
    });
    req.on('error', (err) => reject(sent ? Object.assign(err, { requestSent: true }) : err));
    req.on('socket', (socket) => {
      if (!socket.connecting) return; // a kept-alive connection
      const timer = setTimeout(
        () => req.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })),
        ctx.connectTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(timer));
      req.once('close', () => clearTimeout(timer));
    });
    req.end(payload);
  });
}

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
    // Redirects are not followed: a 3xx is an answer like any other, and says where it points.
    const res = await send(
      ctx,
      url,
      JSON.stringify(body),
      { 'content-type': 'application/json', accept: 'application/json', ...headers },
      combined,
    );
    const text = await readCapped(res, where);
    return {
      status: res.statusCode ?? 0,
      retryAfterMs: parseRetryAfter(res.headers['retry-after'] ?? null, ctx.now()),
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
    const requestSent = (err as { requestSent?: boolean }).requestSent === true;
    const what = tls
      ? `TLS verification of the admin API at ${url.origin} failed`
      : requestSent
        ? `the admin API at ${where} closed the connection before answering`
        : `cannot reach the admin API at ${where}`;
    throw new TokenError(`${what} (${redact(code, ctx.secrets())})`, {
      code: tls ? 'config' : 'unavailable',
      source: 'admin-api',
      retry: tls ? 'slow' : 'backoff',
      requestSent,
    });
  }
}

async function readCapped(res: http.IncomingMessage, where: string): Promise<string> {
  const tooLarge = () =>
    new TokenError(
      `admin API at ${where} answered ${res.statusCode} with a body over ${MAX_BODY_BYTES} bytes`,
      {
        code: 'protocol',
        source: 'admin-api',
        retry: 'backoff',
        status: res.statusCode,
      },
    );
  if (Number(res.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    res.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > MAX_BODY_BYTES) {
      res.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
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
    case 403: {
      const rule = policyRule(reply.body);
      if (rule !== null) {
        return new TokenError(
          `the broker's policy refused the join token request (rule ${rule}: ${msg}); the request is outside what its templates allow`,
          { ...base, code: 'policy-denied', retry: 'slow' },
        );
      }
      return new TokenError(
        `admin API denied ${cred.described} access to ${where} (${msg}); it needs the admin role`,
        { ...base, code: 'forbidden', retry: 'slow' },
      );
    }
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

// The broker names the policy rule that denied a request ({"rule": "ttl"}); core and the broker's role check
// ("role") mean the credential itself lacks the admin role.
function policyRule(body: string): string | null {
  try {
    const rule = (JSON.parse(body) as { rule?: unknown } | null)?.rule;
    return typeof rule === 'string' && rule !== 'role' && /^[a-z][a-z0-9-]{0,31}$/.test(rule) ? rule : null;
  } catch {
    return null;
  }
}

// ServiceRadar core's API-key path sets no user, so with RBAC on it answers /api/admin/* with "unauthorized".
function rbacHint(cred: DescribedCredential, body: string): string {
  if (cred.credential !== 'api-key' || body.trim().toLowerCase() !== 'unauthorized') return '';
  return '; with RBAC enabled, ServiceRadar refuses API keys on /api/admin/*: configure a login instead';
}

// The errno/OpenSSL code from the error or its cause chain, else the innermost message.
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
