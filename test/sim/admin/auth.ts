import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AdminConfig, SimUser } from './config.js';
import { jsonError, jsonReply, plainError, type Reply } from './http.js';
import { type Claims, signJwt, verifyJwt } from './jwt.js';

// Mirrors core's pkg/core/api/server.go authenticationMiddleware, pkg/core/auth RBACMiddleware and
// pkg/core/api/auth.go login/refresh, message for message.

export interface AuthContext {
  config: AdminConfig;
  secret: Buffer;
  nowSeconds: () => number;
}

/** Who a request authenticated as; `user` is absent for an API key, exactly as core attaches none. */
export type AuthOutcome =
  | { ok: true; user: Claims | undefined; via: 'bearer' | 'api_key' }
  | { ok: false; reply: Reply };

const REFRESH_TTL_SECONDS = 7 * 24 * 3600;

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Core's order: a Bearer header decides alone; else a configured API key must match; else auth is missing. */
export function authenticate(headers: IncomingHttpHeaders, ctx: AuthContext): AuthOutcome {
  const authorization = headers.authorization ?? '';
  if (authorization.startsWith('Bearer ')) {
    const claims = verifyJwt(authorization.slice('Bearer '.length), ctx.secret, ctx.nowSeconds());
    if (!claims || claims.refresh) return { ok: false, reply: jsonError(401, 'Invalid bearer token') };
    return { ok: true, user: claims, via: 'bearer' };
  }
  if (ctx.config.apiKeys.length > 0) {
    // Core answers "Invalid API key" even when the header is absent, as soon as a key is configured.
    const given = headers['x-api-key'];
    if (typeof given === 'string' && ctx.config.apiKeys.some((k) => sameSecret(k, given))) {
      return { ok: true, user: undefined, via: 'api_key' };
    }
    return { ok: false, reply: jsonError(401, 'Invalid API key') };
  }
  return { ok: false, reply: jsonError(401, 'Authentication required') };
}

/** core's RBACMiddleware("admin") on /api/admin/*; undefined means allowed. */
export function requireAdmin(user: Claims | undefined, ctx: AuthContext): Reply | undefined {
  if (!ctx.config.rbac) return undefined;
  if (!user) return plainError(401, 'unauthorized');
  if (!user.roles.includes('admin')) return plainError(403, 'insufficient permissions');
  return undefined;
}

function tokenPair(user: SimUser, ctx: AuthContext): Reply {
  const now = ctx.nowSeconds();
  const base = {
    user_id: user.username,
    email: user.username,
    provider: 'local',
    roles: user.roles,
    iat: now,
  };
  const exp = now + ctx.config.jwtTtlSeconds;
  return jsonReply(200, {
    access_token: signJwt({ ...base, exp }, ctx.secret),
    refresh_token: signJwt({ ...base, exp: now + REFRESH_TTL_SECONDS, refresh: true }, ctx.secret),
    expires_at: new Date(exp * 1000).toISOString().replace('.000Z', 'Z'),
  });
}

function decodeObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    if (value === null) return {};
    return typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const optionalString = (v: unknown) => v === undefined || v === null || typeof v === 'string';

/** POST /auth/login: core's handleLocalLogin and LoginLocal. */
export function login(body: string, ctx: AuthContext): { reply: Reply; ok: boolean } {
  const creds = decodeObject(body);
  if (!creds || !optionalString(creds.username) || !optionalString(creds.password)) {
    return { reply: plainError(400, 'invalid request'), ok: false };
  }
  const user = ctx.config.users.find((u) => u.username === creds.username);
  if (!user) return { reply: plainError(401, 'login failed: user not found'), ok: false };
  if (!sameSecret(user.password, String(creds.password ?? ''))) {
    return { reply: plainError(401, 'login failed: invalid credentials'), ok: false };
  }
  return { reply: tokenPair(user, ctx), ok: true };
}

/** POST /auth/refresh: core's handleRefreshToken; any failure is the same 401. */
export function refresh(body: string, ctx: AuthContext): { reply: Reply; ok: boolean } {
  const req = decodeObject(body);
  if (!req || !optionalString(req.refresh_token))
    return { reply: plainError(400, 'invalid request'), ok: false };
  const claims = verifyJwt(String(req.refresh_token ?? ''), ctx.secret, ctx.nowSeconds());
  const user = claims?.refresh ? ctx.config.users.find((u) => u.username === claims.user_id) : undefined;
  if (!user) return { reply: plainError(401, 'token refresh failed'), ok: false };
  return { reply: tokenPair(user, ctx), ok: true };
}
