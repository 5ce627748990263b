// The token audit trail: every join token acquired, consumed, discarded or rejected, as a log event and as one
// JSON line in <stateDir>/audit.jsonl (0600, size-rotated). Only fingerprints are ever taken or written.

import { joinTokenAgentPrefix } from '../spire/join-token-id.js';
import { fingerprint as fingerprintOf } from '../token/fingerprint.js';
import { jsonlFile } from './jsonl.js';
import type { Logger } from './logger.js';
import { pick, TOKEN_SOURCES } from './metrics-labels.js';
import { maskJoinTokenIds } from './status.js';

export type AuditKind =
  | 'token-acquired'
  | 'token-consumed'
  | 'token-discarded'
  | 'token-rejected'
  | 'token-refused-insecure';

export interface AuditEvent {
  kind: AuditKind;
  /** The token's fingerprint (src/token/fingerprint.ts), never the token. */
  fingerprint: string;
  /** Where the token came from: credentials | file | admin-api | spire-server. */
  source?: string;
  /** When the token expires, if the source said. */
  expiresAt?: Date | number | null;
  /** The upstream agent's trust domain: the audit shows its join-token parent ID with the fingerprint. */
  trustDomain?: string;
  /** Why it was discarded or rejected, e.g. `expired`, `join token does not exist or has already been used`. */
  reason?: string;
  /** Defaults to now. */
  at?: Date | number;
}

/** One line of audit.jsonl; every field is always present (null when it does not apply). */
export interface AuditRecord {
  at: string;
  event: AuditKind;
  source: string | null;
  fingerprint: string;
  expires_at: string | null;
  parent_id: string | null;
  reason: string | null;
}

export interface AuditLogOptions {
  path: string;
  logger: Pick<Logger, 'info' | 'error'>;
  /** Rotate before a line would take the file past this size. Default 1 MiB. */
  maxBytes?: number;
  /** Rotated files kept (audit.jsonl.1 … .N). Default 5. */
  keep?: number;
}

export interface AuditLog {
  /** Logs and appends the event; a failed write is logged, never thrown: auditing must not stop a bootstrap. */
  record(event: AuditEvent): Promise<void>;
}

const FINGERPRINT = /^[0-9a-f]{12}$/;
const MAX_REASON = 200;

const iso = (t: Date | number): string | null => {
  const ms = t instanceof Date ? t.getTime() : t;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
};

// A value that is not a fingerprint may be the token itself, handed over by mistake: digest it.
const safeFingerprint = (value: string): string => (FINGERPRINT.test(value) ? value : fingerprintOf(value));

/** The record written for an event: fingerprinted, masked, bounded. */
export function auditRecord(event: AuditEvent, now: () => number = Date.now): AuditRecord {
  const fp = safeFingerprint(event.fingerprint);
  const trustDomain =
    event.trustDomain && /^[a-z0-9._-]{1,255}$/.test(event.trustDomain) ? event.trustDomain : null;
  const reason = event.reason === undefined ? null : maskJoinTokenIds(event.reason).slice(0, MAX_REASON);
  return {
    at: iso(event.at ?? now()) ?? new Date(now()).toISOString(),
    event: event.kind,
    source: event.source === undefined ? null : pick(TOKEN_SOURCES, event.source),
    fingerprint: fp,
    expires_at: event.expiresAt == null ? null : iso(event.expiresAt),
    // Same masked form as /status shows, so an operator can match the two.
    parent_id: trustDomain === null ? null : `${joinTokenAgentPrefix(trustDomain)}${fp}…`,
    reason,
  };
}

const MESSAGES: Record<AuditKind, string> = {
  'token-acquired': 'audit: token acquired',
  'token-consumed': 'audit: token consumed',
  'token-discarded': 'audit: token discarded',
  'token-rejected': 'audit: token rejected',
  'token-refused-insecure': 'audit: token file refused, readable by others',
};

/** Opens the audit trail at `path`; writes are serialised so lines never interleave or rotate twice. */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const file = jsonlFile(options);
  return {
    record(event) {
      const record = auditRecord(event);
      options.logger.info({ audit: record }, MESSAGES[event.kind]);
      return file.append(record).catch((err: NodeJS.ErrnoException) => {
        options.logger.error(
          { audit: record, code: err.code ?? null },
          `audit: cannot append to ${options.path} (${err.code ?? err.message})`,
        );
      });
    },
  };
}
