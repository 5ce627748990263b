import { readFile } from 'node:fs/promises';
import { agentFor, type DescribedCredential, type HttpContext, postJson, statusError } from './admin-http.js';
import { type AdminClientOptions, checkAdminOptions } from './admin-options.js';
import { JOIN_TOKENS, jsonObject, type MintedToken, parseMinted, protocolError } from './admin-reply.js';
import { type JoinTokenRequest, joinTokenRequestProblems, toWireRequest } from './admin-request.js';
import { TokenError } from './errors.js';
import { fileError, readSecretFile } from './secret-file.js';

/** What a dry call (one that mints nothing) learns: is the credential accepted, and the server's clock. */
export interface AdminProbe {
  /** 'accepted' after a login; API keys and bearers cannot be tried without minting. */
  credential: 'accepted' | 'not-checked';
  serverTime: number | undefined;
}

export interface AdminClient {
  mintJoinToken(request: JoinTokenRequest, signal?: AbortSignal): Promise<MintedToken>;
  /** Logs in (login credentials) or reaches the server; throws TokenError as mintJoinToken would. */
  probe(signal?: AbortSignal): Promise<AdminProbe>;
  close(): Promise<void>;
}

export type { AdminAuth, AdminClientOptions } from './admin-options.js';
export type { MintedToken };

/** A ServiceRadar admin API client; rejects bad options (all problems at once) before any request. */
export async function createAdminClient(options: AdminClientOptions): Promise<AdminClient> {
  const base = checkAdminOptions(options);
  let ca: string | undefined;
  if (options.caFile !== undefined) {
    ca = await readFile(options.caFile, 'utf8').catch((err: unknown) => {
      throw fileError(`cannot read CA file ${options.caFile}`, options.caFile as string, 'admin-api', err);
    });
  }
  const agent = agentFor(base, ca);
  const auth = options.auth;
  let bearer: string | undefined; // cached access_token of the login flow
  // Every credential used lately (including a session just dropped), scrubbed from every quoted message.
  const known: string[] = [];
  const remember = (value: string) => {
    if (!known.includes(value)) known.push(value);
    if (known.length > 8) known.shift();
  };
  const ctx: HttpContext = {
    base,
    agent,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    timeoutMs: options.timeoutMs ?? 30_000,
    now: options.now ?? Date.now,
    secrets: () => known,
  };

  const readCredential = async (path: string, label: string): Promise<string> => {
    const raw = await readSecretFile(path, label, 'admin-api');
    const value = raw?.trim();
    if (!value || /[\r\n]/.test(value)) {
      throw new TokenError(
        `${label} ${path} ${raw === undefined ? 'does not exist' : 'is empty or has several lines'}`,
        {
          code: 'config',
          source: 'admin-api',
          retry: 'slow',
          path,
        },
      );
    }
    remember(value);
    return value;
  };

  let lastDate: number | undefined;
  const login = async (signal?: AbortSignal): Promise<string> => {
    if (auth.kind !== 'login') throw new Error('login without login credentials');
    const password = await readCredential(auth.passwordFile, 'password file');
    const cred = {
      credential: 'login',
      described: `the login of user ${JSON.stringify(auth.username)}`,
    } as const;
    const reply = await postJson(ctx, '/auth/login', { username: auth.username, password }, {}, signal);
    lastDate = reply.date;
    if (reply.status !== 200 && reply.status !== 201) throw statusError(ctx, reply, '/auth/login', cred);
    const accessToken = jsonObject(reply, '/auth/login').access_token;
    if (typeof accessToken !== 'string' || accessToken === '' || /[\s]/.test(accessToken)) {
      throw protocolError(
        `admin API login answered ${reply.status} without a usable access_token`,
        reply.status,
      );
    }
    remember(accessToken);
    bearer = accessToken;
    return accessToken;
  };

  const authenticate = async (
    signal?: AbortSignal,
  ): Promise<[Record<string, string>, DescribedCredential]> => {
    switch (auth.kind) {
      case 'api-key':
        return [
          { 'x-api-key': await readCredential(auth.keyFile, 'API key file') },
          { credential: 'api-key', described: 'the API key' },
        ];
      case 'bearer':
        return [
          { authorization: `Bearer ${await readCredential(auth.tokenFile, 'bearer token file')}` },
          { credential: 'bearer', described: `the bearer token from ${auth.tokenFile}` },
        ];
      case 'login':
        return [
          { authorization: `Bearer ${bearer ?? (await login(signal))}` },
          { credential: 'login', described: `the session of user ${JSON.stringify(auth.username)}` },
        ];
    }
  };

  return {
    async mintJoinToken(request, signal) {
      const problems = joinTokenRequestProblems(request);
      if (problems.length > 0) {
        throw new TokenError(`join token request is invalid:\n  ${problems.join('\n  ')}`, {
          code: 'config',
          source: 'admin-api',
          retry: 'never',
        });
      }
      const body = toWireRequest(request);
      const send = (headers: Record<string, string>) =>
        postJson(ctx, JOIN_TOKENS, body, headers, signal).catch((err: unknown) => {
          throw mintOutcome(err);
        });
      const hadSession = bearer !== undefined;
      let [headers, cred] = await authenticate(signal);
      let reply = await send(headers);
      // A cached session may simply have expired: log in again once; a fresh refusal is final.
      if (reply.status === 401 && auth.kind === 'login' && hadSession) {
        bearer = undefined;
        [headers, cred] = await authenticate(signal);
        reply = await send(headers);
      }
      if (reply.status !== 201 && reply.status !== 200) {
        throw mintOutcome(statusError(ctx, reply, JOIN_TOKENS, cred));
      }
      try {
        return parseMinted(reply);
      } catch (err) {
        throw mintOutcome(err);
      }
    },
    async probe(signal) {
      if (auth.kind === 'login') {
        await login(signal);
        return { credential: 'accepted', serverTime: lastDate };
      }
      // Any answer to an empty request proves the server is there; only a mint would try the credential.
      const reply = await postJson(ctx, JOIN_TOKENS, {}, {}, signal);
      return { credential: 'not-checked', serverTime: reply.date };
    },
    async close() {
      agent.destroy();
    },
  };
}

// Answers that come before any minting: no connection, refused credentials, no such route, throttled, disabled.
const BEFORE_MINTING = new Set([401, 403, 404, 429, 503]);

/**
 * Marks a failed mint request that reached the server as one that may have created a token: core mints before it
 * validates `downstream` (a 400 or 502 can follow a mint), and a timeout, a connection lost after the request
 * was sent, or an unreadable 201 says nothing.
 */
function mintOutcome(err: unknown): unknown {
  if (!(err instanceof TokenError)) return err;
  const unreached =
    err.status === undefined && !err.requestSent && (err.code === 'unavailable' || err.code === 'config');
  return unreached || BEFORE_MINTING.has(err.status ?? 0) ? err : err.minted();
}
