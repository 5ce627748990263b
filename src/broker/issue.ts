// POST /api/admin/spire/join-tokens once the caller is authenticated: decode, policy, rate limits — all before
// anything is minted — then CreateJoinToken, the downstream entry, pruning, the audit line and the 201.

import { downstreamEntry } from '../spire/downstream-entry.js';
import { joinTokenAgentId, maskJoinTokenIds } from '../spire/join-token-id.js';
import { fingerprint } from '../token/fingerprint.js';
import type { BrokerAudit, BrokerAuditEvent } from './audit.js';
import type { AuthMethod } from './auth.js';
import type { BrokerConfig } from './config.js';
import type { Principal } from './credentials.js';
import type { BrokerMetrics } from './metrics.js';
import { type Denial, decide } from './policy.js';
import { pruneStale } from './prune.js';
import type { Limiter } from './rate-limit.js';
import { errorReply, type Reply, rfc3339 } from './reply.js';
import { type BrokerRequest, decodeRequest } from './request.js';
import type { BrokerSpire } from './spire.js';

export interface IssueContext {
  readonly config: BrokerConfig;
  readonly spire: BrokerSpire;
  readonly audit: BrokerAudit;
  readonly metrics: BrokerMetrics;
  readonly limiter: Limiter;
  readonly now: () => number;
  readonly warn: (fields: object, message: string) => void;
}

export interface Caller {
  readonly principal: Principal;
  readonly method: Exclude<AuthMethod, 'none'>;
  readonly remoteAddress: string | null;
}

/** SPIRE's words, on one line and with any join-token agent ID masked: they go into a 502 and the audit. */
const spireWords = (error: unknown) =>
  maskJoinTokenIds(error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');

function requested(caller: Caller, req: BrokerRequest | undefined): Partial<BrokerAuditEvent> {
  return {
    caller: caller.principal.name,
    authMethod: caller.method,
    remoteAddress: caller.remoteAddress,
    ...(req?.clientSpiffeId === undefined ? {} : { clientSpiffeId: req.clientSpiffeId }),
    ...(req?.downstream === undefined ? {} : { downstreamSpiffeId: req.downstream.spiffeId }),
  };
}

async function denied(
  ctx: IssueContext,
  caller: Caller,
  req: BrokerRequest | undefined,
  d: Denial,
  ttl?: number,
) {
  ctx.metrics.denied(d.rule);
  await ctx.audit.record({
    kind: 'request-denied',
    ...requested(caller, req),
    ...(ttl === undefined ? {} : { ttlSeconds: ttl }),
    rule: d.rule,
    reason: d.message,
  });
  return errorReply(d.status, d.message, d.rule, d.retryAfterSeconds);
}

/** Answers one join token request from an authenticated admin caller. */
export async function issueJoinToken(body: string, caller: Caller, ctx: IssueContext): Promise<Reply> {
  const req = decodeRequest(body);
  if ('problems' in req) {
    const message = `invalid join token request: ${req.problems.join('; ')}`;
    return denied(ctx, caller, undefined, { status: 400, rule: 'request', message });
  }
  const decision = decide(req, caller.principal, ctx.config);
  if ('rule' in decision) return denied(ctx, caller, req, decision, req.ttlSeconds);
  const ttl = decision.ttlSeconds;
  const key = `${caller.principal.kind}:${caller.principal.name}`;
  // The same caller asking for the same identity again is the same request: it keeps its slot (rate-limit.ts).
  const limited = ctx.limiter.admit(
    key,
    ctx.now(),
    `${key} ${req.downstream?.spiffeId ?? ''} ${req.clientSpiffeId ?? ''}`,
  );
  if (limited) {
    const perCaller = limited.scope === 'caller';
    const limit = perCaller ? ctx.config.rateLimit.perCallerPerMinute : ctx.config.rateLimit.globalPerMinute;
    const message = `${perCaller ? 'this caller' : 'all callers together'} may have ${limit} join tokens a minute (per broker replica); retry in ${limited.retryAfterSeconds} s`;
    const d: Denial = {
      status: 429,
      rule: perCaller ? 'rate-limit' : 'global-rate-limit',
      message,
      retryAfterSeconds: limited.retryAfterSeconds,
    };
    return denied(ctx, caller, req, d, ttl);
  }
  const base = { ...requested(caller, req), ttlSeconds: ttl };
  let minted: Awaited<ReturnType<BrokerSpire['createJoinToken']>>;
  try {
    minted = await ctx.spire.createJoinToken(ttl, req.clientSpiffeId);
  } catch (error) {
    const mayHave = (error as { mayHaveMinted?: unknown }).mayHaveMinted === true;
    ctx.metrics.failed('create-token', mayHave);
    const reason = `${spireWords(error)}${mayHave ? '; SPIRE may have created a token before failing' : ''}`;
    await ctx.audit.record({
      kind: 'issuance-failed',
      ...base,
      ...(mayHave ? {} : { tokenMinted: false }),
      reason,
    });
    return errorReply(502, `spire: create join token: ${reason}`);
  }
  const fp = fingerprint(minted.token);
  const parentId = joinTokenAgentId(ctx.config.trustDomain, minted.token);
  const issued = { ...base, fingerprint: fp, expiresAt: minted.expiresAt, parentId };
  const response: Record<string, string> = {
    token: minted.token,
    expires_at: rfc3339(minted.expiresAt),
    parent_spiffe_id: parentId,
  };
  const ds = req.downstream;
  if (req.registerDownstream && ds) {
    let entryId: string;
    try {
      ({ id: entryId } = await ctx.spire.createEntry(
        downstreamEntry(ds, parentId, 'poller-bootstrap-broker', minted.expiresAt),
      ));
    } catch (error) {
      ctx.metrics.failed('create-entry', true);
      const reason = `${spireWords(error)}; a join token was minted and left unused: SPIRE cannot revoke it, it expires at ${rfc3339(minted.expiresAt)}`;
      await ctx.audit.record({ kind: 'issuance-failed', ...issued, tokenMinted: true, reason });
      return errorReply(502, `spire: create downstream entry: ${reason}`);
    }
    response.downstream_entry_id = entryId;
    if (ctx.config.spire.pruneStale) {
      await pruneStale(ds.spiffeId, entryId, {
        trustDomain: ctx.config.trustDomain,
        graceSeconds: ctx.config.spire.pruneGraceSeconds,
        spire: ctx.spire,
        audit: ctx.audit,
        metrics: ctx.metrics,
        now: ctx.now,
      }).catch((error: unknown) =>
        ctx.warn({ err: spireWords(error) }, 'pruning stale downstream entries failed'),
      );
    }
    await ctx.audit.record({ kind: 'token-issued', ...issued, entryId });
  } else {
    await ctx.audit.record({ kind: 'token-issued', ...issued });
  }
  ctx.metrics.issued();
  return { status: 201, body: response, headers: { 'cache-control': 'no-store' } };
}
