// The fixed label values of the daemon's metrics. Every label value is checked against these sets before it
// reaches prom-client, so a token, a key or a server message passed by mistake can never become a time series.

import type { Child, Phase } from '../daemon/machine-types.js';
import { CHILDREN } from '../daemon/machine-types.js';
import { CAUSE_CODES } from '../spire/causes.js';
import { TOKEN_SOURCES, type TokenErrorCode, type TokenSourceName } from '../token/errors.js';

/** What an out-of-set label value is recorded as. */
export const OTHER = 'other';

// A Record keyed by Phase makes the compiler reject a phase added to or removed from machine-types without here.
const PHASE_KEYS: Record<Phase, true> = {
  init: true,
  'inspect-identity': true,
  'acquire-token': true,
  'write-token': true,
  'start-upstream-agent': true,
  'consume-token': true,
  'start-nested-server': true,
  'register-entries': true,
  'start-downstream-agent': true,
  backoff: true,
  ready: true,
  degraded: true,
  stopping: true,
  stopped: true,
};

export const PHASES: readonly Phase[] = Object.freeze(Object.keys(PHASE_KEYS) as Phase[]);
export { CHILDREN, TOKEN_SOURCES };

/** How one request to one token source ended; `empty` = the source had no token to give (not a failure). */
export const TOKEN_RESULTS = [
  'success',
  'empty',
  'unauthorized',
  'forbidden',
  'policy-denied',
  'rate-limited',
  'unavailable',
  'timeout',
  'bad-request',
  'invalid-token',
  'insecure-file',
  'failure',
] as const;
export type TokenResult = (typeof TOKEN_RESULTS)[number];

export const IDENTITIES = ['upstream-agent', 'nested-server', 'downstream-agent'] as const;
export type Identity = (typeof IDENTITIES)[number];

export const ATTEMPT_RESULTS = ['success', 'failure'] as const;
export type AttemptResult = (typeof ATTEMPT_RESULTS)[number];

/** Why a child failed: a cause from its own lines (src/spire/causes.ts), or how it ended. */
export const CHILD_FAILURE_REASONS = [
  ...CAUSE_CODES.filter((c) => c !== 'token-rejected' && c !== 'token-expired'),
  'child-exited',
  'child-killed',
  'ready-timeout',
  'spawn-failed',
] as const;
export type ChildFailureReason = (typeof CHILD_FAILURE_REASONS)[number];

export const RECONCILE_ACTIONS = ['created', 'updated', 'deleted', 'unchanged'] as const;
export type ReconcileAction = (typeof RECONCILE_ACTIONS)[number];

export type { Child, Phase, TokenSourceName };

/** The value itself when it is one of `allowed`, otherwise 'other'. */
export function pick<T extends string>(allowed: readonly T[], value: unknown): T | typeof OTHER {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value) ? (value as T) : OTHER;
}

// Versions come from package.json and `spire-agent --version`: dotted numbers with an optional short suffix.
// Anything else (a UUID-shaped join token passed by mistake, a whole banner line) must not become a label.
const VERSION = /^v?\d{1,4}(\.\d{1,4}){1,3}([-+][0-9A-Za-z.+-]{1,24})?$/;

/** A version string fit for a label, or 'other'. */
export function versionLabel(value: unknown): string {
  return typeof value === 'string' && VERSION.test(value) ? value : OTHER;
}

/** Maps a token layer failure (TokenError's flat fields) to its metrics result. */
export function tokenResultOf(error: { code?: TokenErrorCode; status?: number | undefined }): TokenResult {
  if (error.status === 429) return 'rate-limited';
  switch (error.code) {
    case 'unauthorized':
    case 'forbidden':
    case 'policy-denied':
    case 'unavailable':
    case 'timeout':
    case 'bad-request':
    case 'invalid-token':
    case 'insecure-file':
      return error.code;
    default:
      return 'failure';
  }
}
