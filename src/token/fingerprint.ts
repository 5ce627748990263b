import { createHash } from 'node:crypto';

/** Short, stable identifier of a token for logs and audit: the first 12 hex chars of its SHA-256. */
export function fingerprint(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12);
}
