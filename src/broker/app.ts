// The broker's routes: POST /api/admin/spire/join-tokens, /auth/login, /auth/refresh; GET /healthz, /readyz,
// /metrics. Transport (TLS, bodies, logging) is server.ts.

import type { IncomingHttpHeaders } from 'node:http';
import { JOIN_TOKENS } from '../token/admin-reply.js';
import type { BrokerAudit } from './audit.js';
import { authenticate, requireAdmin } from './auth.js';
import type { Credentials } from './credentials.js';
import { type IssueContext, issueJoinToken } from './issue.js';
import { handleSession, type LoginContext } from './login.js';
import type { BrokerMetrics, Route } from './metrics.js';
import { errorReply, type Reply } from './reply.js';
import type { Sessions } from './sessions.js';

export interface AppRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly remoteAddress: string | null;
  /** Reads the body (bounded); only POST routes call it. */
  readonly body: () => Promise<string>;
}

export interface AppDeps extends IssueContext {
  readonly credentials: () => Credentials;
  readonly sessions: Sessions | null;
  readonly loginLimiter: LoginContext['limiter'];
  readonly audit: BrokerAudit;
  readonly metrics: BrokerMetrics;
  readonly socketPath: string;
}

export type Handler = (req: AppRequest) => Promise<Reply & { route: Route }>;

const text = (status: number, body: string): Reply => ({
  status,
  body: `${body}\n`,
  headers: { 'content-type': 'text/plain; charset=utf-8' },
});

/** The route table over `deps`. */
export function createApp(deps: AppDeps): Handler {
  const session: LoginContext = { ...deps, limiter: deps.loginLimiter };

  async function joinTokens(req: AppRequest): Promise<Reply> {
    const who = await authenticate(req.headers, deps.credentials(), deps.sessions);
    if (!who.ok) {
      deps.metrics.denied(who.denial.rule);
      await deps.audit.record({
        kind: 'request-denied',
        authMethod: who.method,
        remoteAddress: req.remoteAddress,
        rule: who.denial.rule,
        reason: who.denial.message,
      });
      return errorReply(who.denial.status, who.denial.message, who.denial.rule);
    }
    const role = requireAdmin(who.principal);
    if (role) {
      deps.metrics.denied(role.rule);
      await deps.audit.record({
        kind: 'request-denied',
        caller: who.principal.name,
        authMethod: who.method,
        remoteAddress: req.remoteAddress,
        rule: role.rule,
        reason: role.message,
      });
      return errorReply(role.status, role.message, role.rule);
    }
    const caller = { principal: who.principal, method: who.method, remoteAddress: req.remoteAddress };
    return issueJoinToken(await req.body(), caller, deps);
  }

  const post: Record<string, [Route, (req: AppRequest) => Promise<Reply>]> = {
    [JOIN_TOKENS]: ['join_tokens', joinTokens],
    '/auth/login': [
      'login',
      async (req) => handleSession('login', await req.body(), req.remoteAddress, session),
    ],
    '/auth/refresh': [
      'refresh',
      async (req) => handleSession('refresh', await req.body(), req.remoteAddress, session),
    ],
  };
  const get: Record<string, () => Promise<Reply>> = {
    '/healthz': async () => text(200, 'ok'),
    '/readyz': async () =>
      (await deps.spire.healthy())
        ? text(200, 'ready')
        : {
            status: 503,
            body: {
              ready: false,
              reason: `the SPIRE server admin socket ${deps.socketPath} does not answer`,
            },
          },
    '/metrics': async () => ({
      status: 200,
      body: await deps.metrics.text(),
      headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
    }),
  };

  return async (req) => {
    const route = post[req.path];
    if (route) {
      if (req.method !== 'POST')
        return { ...errorReply(405, 'method not allowed'), headers: { allow: 'POST' }, route: route[0] };
      return { ...(await route[1](req)), route: route[0] };
    }
    const handler = get[req.path];
    if (handler) {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return { ...errorReply(405, 'method not allowed'), headers: { allow: 'GET, HEAD' }, route: 'other' };
      return { ...(await handler()), route: 'other' };
    }
    return { ...errorReply(404, '404 page not found'), route: 'other' };
  };
}
