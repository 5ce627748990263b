import * as grpc from '@grpc/grpc-js';
import { adminSocket, type SpireEndpoint } from '../spire/endpoint.js';
import { joinTokenAgentId } from '../spire/join-token-id.js';
import { callUnary, services } from '../spire/proto.js';
import { parseSpiffeId } from '../spire/spiffe-id.js';
import { type RetryClass, TokenError, type TokenErrorCode } from './errors.js';
import { fingerprint } from './fingerprint.js';
import type { AcquiredToken, TokenSource } from './sources.js';
import { checkToken } from './value.js';

export interface SpireServerSourceOptions {
  /** 'nested-server' when it mints the downstream agent's tokens. Default 'spire-server'. */
  name?: 'spire-server' | 'nested-server';
  /** The SPIRE server admin socket (default there: /tmp/spire-server/private/api.sock), or another endpoint. */
  socketPath: string | SpireEndpoint;
  /** Token lifetime in seconds; SPIRE refuses ttl < 1. */
  ttlSeconds: number;
  /** Optional agent_id: SPIRE then also creates an alias entry for the attested agent. */
  agentId?: string;
  /** When known, the result carries the agent's parent ID spiffe://<td>/spire/agent/join_token/<token>. */
  trustDomain?: string;
  /** Deadline of the call. Default 10 s. */
  timeoutMs?: number;
}

interface JoinTokenReply {
  value: string;
  expires_at: number;
}

const { status } = grpc;
// Codes after which the server may have created the token before the answer was lost.
const MAYBE_MINTED = new Set<number>([
  status.DEADLINE_EXCEEDED,
  status.UNKNOWN,
  status.INTERNAL,
  status.CANCELLED,
]);

const CLASSES: Partial<Record<number, [TokenErrorCode, RetryClass]>> = {
  [status.UNAVAILABLE]: ['unavailable', 'backoff'],
  [status.RESOURCE_EXHAUSTED]: ['unavailable', 'backoff'],
  [status.DEADLINE_EXCEEDED]: ['timeout', 'backoff'],
  [status.INVALID_ARGUMENT]: ['bad-request', 'slow'],
  [status.PERMISSION_DENIED]: ['forbidden', 'slow'],
  [status.UNAUTHENTICATED]: ['unauthorized', 'slow'],
  [status.UNIMPLEMENTED]: ['protocol', 'slow'],
};

/** Agent.CreateJoinToken over a SPIRE server's admin unix socket: the cluster server (direct mode) or the nested one. */
export function spireServerSource(options: SpireServerSourceOptions): TokenSource {
  const agentId = checkOptions(options);
  const endpoint =
    typeof options.socketPath === 'string' ? adminSocket(options.socketPath) : options.socketPath;
  const name = options.name ?? 'spire-server';
  return {
    name,
    async acquire(signal) {
      const request = { ttl: options.ttlSeconds, token: '', ...(agentId ? { agent_id: agentId } : {}) };
      const reply = await call(name, endpoint, request, options.timeoutMs ?? 10_000, signal);
      const token = checkToken(reply.value, name, endpoint.describe);
      const got: AcquiredToken = { token, source: name, fingerprint: fingerprint(token) };
      if (reply.expires_at > 0) got.expiresAt = new Date(reply.expires_at * 1000);
      if (options.trustDomain) got.parentId = joinTokenAgentId(options.trustDomain, token);
      return got;
    },
  };
}

async function call(
  source: 'spire-server' | 'nested-server',
  endpoint: SpireEndpoint,
  request: object,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<JoinTokenReply> {
  const client = new services.agent(endpoint.target, endpoint.credentials, endpoint.options);
  try {
    return await callUnary<JoinTokenReply>(client, 'CreateJoinToken', request, {
      deadline: new Date(Date.now() + timeoutMs),
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    const e = err as grpc.ServiceError;
    const [code, retry] = CLASSES[e.code] ?? (['unavailable', 'backoff'] as const);
    throw new TokenError(`${endpoint.describe} failed CreateJoinToken (${status[e.code]}: ${e.details})`, {
      code,
      retry,
      source,
      status: e.code,
      mayHaveMinted: MAYBE_MINTED.has(e.code),
      cause: err,
    });
  } finally {
    client.close();
  }
}

function checkOptions(o: SpireServerSourceOptions): { trust_domain: string; path: string } | undefined {
  const problems: string[] = [];
  if (o.socketPath === '') problems.push('socketPath: expected the SPIRE server admin socket path, got ""');
  if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds < 1 || o.ttlSeconds > 2_147_483_647) {
    problems.push(`ttlSeconds: expected a positive integer (seconds), got ${o.ttlSeconds}`);
  }
  if (o.timeoutMs !== undefined && !(Number.isInteger(o.timeoutMs) && o.timeoutMs > 0)) {
    problems.push(`timeoutMs: expected a positive integer, got ${o.timeoutMs}`);
  }
  let agentId: { trust_domain: string; path: string } | undefined;
  if (o.agentId !== undefined) {
    const parsed = parseSpiffeId(o.agentId);
    const shown = JSON.stringify(o.agentId);
    // SPIRE's own rules for agent_id (TrustDomainWorkloadIDFromProto): in the trust domain, a path, not /spire.
    if ('problem' in parsed) problems.push(`agentId: ${parsed.problem}, got ${shown}`);
    else if (parsed.path === '') problems.push(`agentId: expected a SPIFFE ID with a path, got ${shown}`);
    else if (parsed.path === '/spire' || parsed.path.startsWith('/spire/')) {
      problems.push(`agentId: expected a path outside /spire (reserved by SPIRE), got ${shown}`);
    } else if (o.trustDomain !== undefined && parsed.trustDomain !== o.trustDomain) {
      problems.push(`agentId: expected a SPIFFE ID in trust domain "${o.trustDomain}", got ${shown}`);
    } else agentId = { trust_domain: parsed.trustDomain, path: parsed.path };
  }
  if (problems.length > 0) {
    throw new TokenError(`SPIRE server token source options are invalid:\n  ${problems.join('\n  ')}`, {
      code: 'config',
      source: 'spire-server',
      retry: 'never',
    });
  }
  return agentId;
}
