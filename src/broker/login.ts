// POST /auth/login {username, password} and POST /auth/refresh {refresh_token} → {access_token, refresh_token,
// expires_at}, as ServiceRadar core answered them; attempts are limited per remote address.

import type { BrokerAudit } from './audit.js';
import type { Credentials } from './credentials.js';
import { verifyPassword } from './hash.js';
import type { BrokerMetrics } from './metrics.js';
import type { Limiter } from './rate-limit.js';
import { errorReply, type Reply } from './reply.js';
import type { Sessions } from './sessions.js';

export interface LoginContext {
  readonly credentials: () => Credentials;
  readonly sessions: Sessions | null;
  readonly audit: BrokerAudit;
  readonly metrics: BrokerMetrics;
  /** Attempts per remote address (the per-caller rate). */
  readonly limiter: Limiter;
  readonly now: () => number;
}

function fields(body: string, keys: string[]): Record<string, string> | string {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return 'body: expected a JSON object, got text that is not JSON';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'body: expected a JSON object';
  const obj = raw as Record<string, unknown>;
  const extra = Object.keys(obj).filter((k) => !keys.includes(k));
  if (extra.length > 0) return `${extra.sort().join(', ')}: not part of the request`;
  for (const k of keys)
    if (typeof obj[k] !== 'string' || obj[k] === '') return `${k}: expected a non-empty string`;
  return obj as Record<string, string>;
}

/** Answers a login or refresh; `remote` is the client's address. */
export async function handleSession(
  kind: 'login' | 'refresh',
  body: string,
  remote: string | null,
  ctx: LoginContext,
): Promise<Reply> {
  if (!ctx.sessions) return errorReply(404, 'login is not enabled on this broker (no auth.users_file)');
  const limited = ctx.limiter.admit(`addr:${remote ?? ''}`, ctx.now());
  if (limited) {
    ctx.metrics.denied('rate-limit');
    await ctx.audit.record({
      kind: 'login-denied',
      remoteAddress: remote,
      authMethod: kind === 'login' ? 'password' : 'refresh',
      rule: 'rate-limit',
      reason: 'too many attempts from this address',
    });
    return errorReply(
      429,
      `too many ${kind} attempts from this address; retry in ${limited.retryAfterSeconds} s`,
      'rate-limit',
      limited.retryAfterSeconds,
    );
  }
  const got = fields(body, kind === 'login' ? ['username', 'password'] : ['refresh_token']);
  if (typeof got === 'string') return errorReply(400, `invalid ${kind} request: ${got}`, 'request');
  const users = ctx.credentials().users;
  let name: string | null;
  if (kind === 'login') {
    const user = users.get(got.username as string);
    name = (await verifyPassword(got.password as string, user?.passwordHash)) && user ? user.name : null;
  } else {
    const subject = await ctx.sessions.verify(got.refresh_token as string, 'refresh');
    name = subject !== null && users.has(subject) ? subject : null;
  }
  const authMethod = kind === 'login' ? 'password' : 'refresh';
  if (name === null) {
    ctx.metrics.login('failure');
    ctx.metrics.denied('unauthenticated');
    await ctx.audit.record({
      kind: 'login-denied',
      caller: kind === 'login' ? (got.username ?? null) : null,
      authMethod,
      remoteAddress: remote,
      rule: 'unauthenticated',
      reason: kind === 'login' ? 'invalid credentials' : 'invalid refresh token',
    });
    return errorReply(
      401,
      kind === 'login' ? 'login failed: invalid credentials' : 'token refresh failed',
      'unauthenticated',
    );
  }
  ctx.metrics.login('success');
  await ctx.audit.record({ kind: 'login', caller: name, authMethod, remoteAddress: remote });
  return { status: 200, body: await ctx.sessions.issue(name), headers: { 'cache-control': 'no-store' } };
}
