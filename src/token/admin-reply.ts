// What the admin API answers, read defensively: a 201 that is not the documented body is a protocol error
// (TokenError), never a crash, and nothing of a half-broken answer is quoted back (it may carry a secret).
import type { HttpReply } from './admin-http.js';
import { redact, TokenError } from './errors.js';
import { fingerprint } from './fingerprint.js';
import { checkToken } from './value.js';

/** ServiceRadar core's join-token route (DESIGN §7), which the broker serves too. */
export const JOIN_TOKENS = '/api/admin/spire/join-tokens';

export interface MintedToken {
  token: string;
  fingerprint: string;
  expiresAt: Date;
  /** spiffe://<td>/spire/agent/join_token/<token>: it embeds the token, so never log it. */
  parentId: string;
  downstreamEntryId?: string;
}

/** The minted token of a 201 (DESIGN §7); throws TokenError for anything else. */
export function parseMinted(reply: HttpReply): MintedToken {
  const json = jsonObject(reply, JOIN_TOKENS);
  if (typeof json.token !== 'string') {
    throw protocolError(`admin API answered ${reply.status} without a token`, reply.status);
  }
  const token = checkToken(json.token, 'admin-api', 'the admin API');
  const expiresAt = typeof json.expires_at === 'string' ? new Date(json.expires_at) : undefined;
  if (!expiresAt || Number.isNaN(expiresAt.getTime())) {
    const got = redact(JSON.stringify(json.expires_at ?? null), [token]).slice(0, 60);
    throw protocolError(
      `admin API answered ${reply.status} without an RFC 3339 expires_at (got ${got})`,
      reply.status,
    );
  }
  // Older ServiceRadar plans named the parent `spiffe_id`.
  const parentId = json.parent_spiffe_id ?? json.spiffe_id;
  if (typeof parentId !== 'string' || !parentId.startsWith('spiffe://')) {
    throw protocolError(`admin API answered ${reply.status} without a parent_spiffe_id`, reply.status);
  }
  const minted: MintedToken = { token, fingerprint: fingerprint(token), expiresAt, parentId };
  if (typeof json.downstream_entry_id === 'string' && json.downstream_entry_id !== '') {
    minted.downstreamEntryId = json.downstream_entry_id;
  }
  return minted;
}

export function jsonObject(reply: HttpReply, where: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(reply.body) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  // The body is not quoted: a half-broken answer to a credential exchange may still carry a secret.
  throw protocolError(
    `admin API answered ${reply.status} for ${where} with a body that is not a JSON object`,
    reply.status,
  );
}

export function protocolError(message: string, status: number): TokenError {
  return new TokenError(message, { code: 'protocol', source: 'admin-api', retry: 'backoff', status });
}
