import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AdminClient } from './admin-client.js';
import type { JoinTokenRequest } from './admin-request.js';
import { TokenError, type TokenSourceName } from './errors.js';
import { fingerprint } from './fingerprint.js';
import { fileError } from './secret-file.js';
import type { TokenStore } from './store.js';
import { checkToken } from './value.js';

export interface AcquiredToken {
  token: string;
  source: TokenSourceName;
  fingerprint: string;
  expiresAt?: Date;
  /** spiffe://<td>/spire/agent/join_token/<token> when the source knows it; embeds the token: never log it. */
  parentId?: string;
}

/** One place a token may come from; resolves undefined when it has none to give. */
export interface TokenSource {
  readonly name: TokenSourceName;
  acquire(signal?: AbortSignal): Promise<AcquiredToken | undefined>;
}

export interface SkippedSource {
  source: TokenSourceName;
  reason: 'empty' | 'expired' | 'burned' | 'failed';
  fingerprint?: string;
  expiresAt?: Date;
  error?: TokenError;
}

export interface AcquireOptions {
  /** Tried in this order; the first that yields a usable token wins. */
  sources: readonly TokenSource[];
  /** A token expiring within this margin is treated as expired. Default 30 s. */
  marginMs?: number;
  /** Fingerprints of tokens SPIRE already refused (read-only sources keep offering them). */
  burned?: ReadonlySet<string>;
  now?: () => number;
  signal?: AbortSignal;
  /** Told about every source passed over, for logs and metrics. */
  onSkip?: (skipped: SkippedSource) => void;
}

/** Tries the sources in order and returns the first unexpired, unburned token; throws TokenError 'no-token'. */
export async function acquireToken(options: AcquireOptions): Promise<AcquiredToken> {
  const now = options.now ?? Date.now;
  const marginMs = options.marginMs ?? 30_000;
  const skipped: SkippedSource[] = [];
  const skip = (s: SkippedSource) => {
    skipped.push(s);
    options.onSkip?.(s);
  };
  for (const source of options.sources) {
    let got: AcquiredToken | undefined;
    try {
      got = await source.acquire(options.signal);
    } catch (err) {
      if (!(err instanceof TokenError) || options.signal?.aborted) throw err;
      // A token someone else may have read is not handed to SPIRE, and no other one is minted over it: the
      // operator who put it there is told (lastError, audit) and decides.
      if (err.code === 'insecure-file') throw err;
      skip({ source: source.name, reason: 'failed', error: err });
      continue;
    }
    if (!got) skip({ source: source.name, reason: 'empty' });
    else if (options.burned?.has(got.fingerprint)) {
      skip({ source: source.name, reason: 'burned', fingerprint: got.fingerprint });
    } else if (got.expiresAt && got.expiresAt.getTime() - marginMs <= now()) {
      skip({
        source: source.name,
        reason: 'expired',
        fingerprint: got.fingerprint,
        expiresAt: got.expiresAt,
      });
    } else return got;
  }
  throw noToken(skipped);
}

function noToken(skipped: SkippedSource[]): TokenError {
  const failures = skipped.flatMap((s) => (s.error ? [s.error] : []));
  const last = failures.at(-1);
  const parts = skipped.map((s) => `${s.source}: ${describeSkip(s)}`);
  return new TokenError(`no usable join token (${parts.join('; ') || 'no sources configured'})`, {
    code: 'no-token',
    source: last?.source ?? skipped.at(-1)?.source ?? 'store',
    // Transient trouble anywhere is worth a quick retry; otherwise a human has to provide a token.
    retry: failures.some((e) => e.retry === 'backoff') ? 'backoff' : 'slow',
    status: last?.status,
    credential: last?.credential,
    retryAfterMs: failures.find((e) => e.retryAfterMs !== undefined)?.retryAfterMs,
    cause: last,
  });
}

function describeSkip(s: SkippedSource): string {
  if (s.reason === 'empty') return 'none';
  if (s.reason === 'expired') return `token ${s.fingerprint} expired at ${s.expiresAt?.toISOString()}`;
  if (s.reason === 'burned') return `token ${s.fingerprint} was already refused by SPIRE`;
  return s.error?.message ?? 'failed';
}

export interface CredentialsSourceOptions {
  /** $CREDENTIALS_DIRECTORY as the service saw it; the source yields nothing when it is unset. */
  directory: string | undefined;
  /** Credential name, e.g. "upstream-join-token" (LoadCredential=upstream-join-token:/path). */
  name: string;
}

/** A systemd credential: read-only, never deleted; its expiry is unknown. */
export function credentialsSource(options: CredentialsSourceOptions): TokenSource {
  if (options.name === '' || /[/\0]/.test(options.name) || options.name === '.' || options.name === '..') {
    throw new TokenError(`credential name: expected a file name, got ${JSON.stringify(options.name)}`, {
      code: 'config',
      source: 'credentials',
      retry: 'never',
    });
  }
  return {
    name: 'credentials',
    async acquire() {
      if (!options.directory) return undefined;
      const path = join(options.directory, options.name);
      // No mode check: systemd makes the directory private to the service, and the file is read-only by design.
      let raw: string;
      try {
        raw = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw fileError(`cannot read credential ${path}`, path, 'credentials', err);
      }
      const token = checkToken(raw, 'credentials', `credential ${path}`);
      return { token, source: 'credentials', fingerprint: fingerprint(token) };
    },
  };
}

/** The configured token file, with the expiry recorded next to it when known. */
export function fileSource(options: { store: TokenStore }): TokenSource {
  return {
    name: 'file',
    async acquire() {
      const stored = await options.store.read().catch(async (err: unknown) => {
        // The store reports as 'store'; as a source it is 'file'.
        if (!(err instanceof TokenError)) throw err;
        const { code, retry, status, path } = err;
        const named = code === 'insecure-file' && path ? await fingerprintOf(path) : undefined;
        throw new TokenError(err.message, {
          code,
          retry,
          status,
          path,
          source: 'file',
          fingerprint: named,
          cause: err,
        });
      });
      if (!stored) return undefined;
      const got: AcquiredToken = { token: stored.token, source: 'file', fingerprint: stored.fingerprint };
      if (stored.expiresAt) got.expiresAt = stored.expiresAt;
      return got;
    },
  };
}

// Which token an insecure file holds, for the audit trail only: the token itself is never used.
async function fingerprintOf(path: string): Promise<string | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined || text.trim() === '' ? undefined : fingerprint(text.trim());
}

/** Mints a token through ServiceRadar's admin API (and registers the downstream entry if asked). */
export function adminApiSource(options: { client: AdminClient; request: JoinTokenRequest }): TokenSource {
  return {
    name: 'admin-api',
    async acquire(signal) {
      const minted = await options.client.mintJoinToken(options.request, signal);
      return {
        token: minted.token,
        source: 'admin-api',
        fingerprint: minted.fingerprint,
        expiresAt: minted.expiresAt,
        parentId: minted.parentId,
      };
    },
  };
}
