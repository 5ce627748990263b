// The token audit trail: every join token acquired, consumed, discarded or rejected, as a log event and as one
// JSON line in <stateDir>/audit.jsonl (0600, size-rotated). Only fingerprints are ever taken or written.

import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fingerprint as fingerprintOf } from '../token/fingerprint.js';
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
    parent_id: trustDomain === null ? null : `spiffe://${trustDomain}/spire/agent/join_token/${fp}…`,
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

async function rotate(path: string, keep: number): Promise<void> {
  if (keep < 1) {
    await rm(path, { force: true });
    return;
  }
  await rm(`${path}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    await rename(`${path}.${i}`, `${path}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  await rename(path, `${path}.1`);
}

async function currentSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

async function append(path: string, line: string, maxBytes: number, keep: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const size = await currentSize(path);
  if (size > 0 && size + Buffer.byteLength(line) > maxBytes) await rotate(path, keep);
  const fh = await open(path, 'a', 0o600);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'ENOTFILE' });
    // The mode given to open() only applies on creation; a file someone loosened is tightened again.
    if ((st.mode & 0o777) !== 0o600) await fh.chmod(0o600);
    await fh.appendFile(line, 'utf8');
  } finally {
    await fh.close();
  }
}

/** Opens the audit trail at `path`; writes are serialised so lines never interleave or rotate twice. */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const keep = options.keep ?? 5;
  let queue: Promise<void> = Promise.resolve();
  return {
    record(event) {
      const record = auditRecord(event);
      options.logger.info({ audit: record }, MESSAGES[event.kind]);
      const line = `${JSON.stringify(record)}\n`;
      queue = queue.then(() =>
        append(options.path, line, maxBytes, keep).catch((err: NodeJS.ErrnoException) => {
          options.logger.error(
            { audit: record, code: err.code ?? null },
            `audit: cannot append to ${options.path} (${err.code ?? err.message})`,
          );
        }),
      );
      return queue;
    },
  };
}
