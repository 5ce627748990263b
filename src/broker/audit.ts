// The broker's audit trail: every issuance, denial, failure and pruned entry as a log event and one JSON line
// (0600, size-rotated, through the same appender as the daemon's audit). Tokens appear by fingerprint only;
// a join-token agent ID is shown with the fingerprint in place of the token.

import { flattenControlChars } from '../common/control-chars.js';
import { jsonlFile } from '../observability/jsonl.js';
import type { Logger } from '../observability/logger.js';
import { maskJoinTokenIds } from '../spire/join-token-id.js';
import type { AuthMethod } from './auth.js';
import type { Rule } from './policy.js';

export type BrokerAuditKind =
  | 'token-issued'
  | 'request-denied'
  | 'issuance-failed'
  | 'entry-pruned'
  | 'login'
  | 'login-denied';

export interface BrokerAuditEvent {
  kind: BrokerAuditKind;
  caller?: string | null;
  authMethod?: AuthMethod | 'password' | 'refresh';
  remoteAddress?: string | null;
  clientSpiffeId?: string;
  downstreamSpiffeId?: string;
  ttlSeconds?: number;
  fingerprint?: string;
  expiresAt?: Date;
  /** The token's agent ID; recorded with the token replaced by its fingerprint. */
  parentId?: string;
  entryId?: string;
  /** For issuance-failed: whether a token was minted (and so left unused: SPIRE cannot revoke it). */
  tokenMinted?: boolean;
  rule?: Rule;
  reason?: string;
}

/** One line of the audit file; every field always present (null when it does not apply). */
export interface BrokerAuditRecord {
  at: string;
  event: BrokerAuditKind;
  result: 'issued' | 'denied' | 'failed' | 'pruned' | 'ok';
  caller: string | null;
  auth_method: string | null;
  remote_address: string | null;
  client_spiffe_id: string | null;
  downstream_spiffe_id: string | null;
  ttl_seconds: number | null;
  fingerprint: string | null;
  expires_at: string | null;
  parent_id: string | null;
  entry_id: string | null;
  token_minted: boolean | null;
  rule: string | null;
  reason: string | null;
}

const RESULTS: Record<BrokerAuditKind, BrokerAuditRecord['result']> = {
  'token-issued': 'issued',
  'request-denied': 'denied',
  'issuance-failed': 'failed',
  'entry-pruned': 'pruned',
  login: 'ok',
  'login-denied': 'denied',
};

/** Outside text (IDs, names, SPIRE's words) bounded, on one line, with any join-token agent ID masked. */
const clean = (text: string | null | undefined, max = 300): string | null =>
  text === undefined || text === null ? null : maskJoinTokenIds(flattenControlChars(text)).slice(0, max);

/** The record written for an event. */
export function brokerAuditRecord(event: BrokerAuditEvent, now: number): BrokerAuditRecord {
  return {
    at: new Date(now).toISOString(),
    event: event.kind,
    result: RESULTS[event.kind],
    caller: clean(event.caller, 100),
    auth_method: event.authMethod ?? null,
    remote_address: clean(event.remoteAddress, 64),
    client_spiffe_id: clean(event.clientSpiffeId),
    downstream_spiffe_id: clean(event.downstreamSpiffeId),
    ttl_seconds: event.ttlSeconds ?? null,
    fingerprint: event.fingerprint && /^[0-9a-f]{12}$/.test(event.fingerprint) ? event.fingerprint : null,
    expires_at: event.expiresAt ? event.expiresAt.toISOString() : null,
    parent_id: clean(event.parentId),
    entry_id: clean(event.entryId, 100),
    token_minted: event.tokenMinted ?? null,
    rule: event.rule ?? null,
    reason: clean(event.reason, 500),
  };
}

export interface BrokerAudit {
  /** Logs and appends; a failed write is logged, never thrown. */
  record(event: BrokerAuditEvent): Promise<void>;
}

/** The audit trail at `path`. */
export function createBrokerAudit(options: {
  path: string;
  maxBytes: number;
  keep: number;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  now?: () => number;
}): BrokerAudit {
  const file = jsonlFile(options);
  const now = options.now ?? Date.now;
  return {
    record(event) {
      const record = brokerAuditRecord(event, now());
      const level =
        record.result === 'issued' || record.result === 'ok' || record.result === 'pruned' ? 'info' : 'warn';
      options.logger[level]({ audit: record }, `audit: ${event.kind}`);
      return file.append(record).catch((err: NodeJS.ErrnoException) => {
        options.logger.error(
          { code: err.code ?? null },
          `audit: cannot append to ${options.path} (${err.code ?? err.message})`,
        );
      });
    },
  };
}
