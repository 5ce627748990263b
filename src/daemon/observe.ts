// What the daemon tells Prometheus and the audit trail: derived from machine transitions, token attempts and
// entry registration, so the runner itself only reports facts.
import type { AuditLog } from '../observability/audit.js';
import type { Metrics } from '../observability/metrics.js';
import type { Identity, ReconcileAction, TokenResult } from '../observability/metrics-labels.js';
import type { TokenSourceName } from '../token/errors.js';
import { AGENTS, CHILDREN, type Child, type MachineEvent, type MachineState } from './machine.js';

const isChild = (source: string | null): source is Child =>
  (CHILDREN as readonly (string | null)[]).includes(source);

export interface ReleasedToken {
  source: string;
  fingerprint: string;
  expiresAt?: Date;
}

/** The hooks the daemon calls; each is cheap and never throws into the bootstrap. */
export interface Observer {
  transition(before: MachineState, after: MachineState, event: MachineEvent): void;
  tokenAttempt(source: TokenSourceName, result: TokenResult, seconds: number): void;
  tokenAcquired(token: ReleasedToken): void;
  tokenReleased(token: ReleasedToken, how: 'consumed' | 'discarded' | 'rejected', reason?: string): void;
  /** A token file that group or others can read was refused (and left where it is). */
  tokenInsecure(token: ReleasedToken, reason: string): void;
  entriesReconciled(counts: Record<ReconcileAction, number>): void;
  identityExpiry(identity: Identity, expiresAt: number | null): void;
}

/** An observer feeding `metrics` and `audit`; `bootAt` is when the daemon started (for bootstrap duration). */
export function createObserver(
  metrics: Metrics,
  audit: AuditLog,
  trustDomain: string,
  bootAt: number,
): Observer {
  return {
    transition(before, after, event) {
      if (after.phase !== before.phase) metrics.setPhase(after.phase);
      for (const child of CHILDREN) {
        metrics.childUp(child, after.children[child].status === 'ready');
        // The machine counts restarts after a crash or a missed deadline, never those of a reload.
        if (after.children[child].restarts > before.children[child].restarts) metrics.childRestart(child);
      }
      for (const agent of AGENTS) {
        const id = after.identity[agent];
        if (id !== before.identity[agent] && id !== null)
          metrics.identityExpiring(agent, id.status === 'expiring');
      }
      const up = 'upstream-agent';
      const written =
        (event.type === 'step-done' && event.step.name === 'write-token' && event.step.agent === up) ||
        (event.type === 'identity-inspected' && event.agent === up && after.tokens[up]?.leftover === true);
      if (written) metrics.tokenFilePresent(true);
      if (before.tokens[up] !== null && after.tokens[up] === null) metrics.tokenFilePresent(false);
      // An attempt is one attestation with a fresh token: it ends with the agent ready or the token refused.
      if (event.type === 'child-ready' && event.child === up && before.children[up].withToken) {
        metrics.bootstrapAttempt('success');
      }
      if (after.tokens[up]?.release?.how === 'rejected' && before.tokens[up]?.release === null) {
        metrics.bootstrapAttempt('failure');
      }
      const error = after.lastError;
      // Refused tokens are counted by bootstrap_attempts_total; this counts the processes' own failures.
      if (error !== before.lastError && error?.step === 'child' && isChild(error.source)) {
        metrics.childFailure(error.source, error.code);
      }
      if (after.phase === 'ready' && before.phase !== 'ready') {
        metrics.ready(event.at);
        if (before.readyAt === null) metrics.bootstrapDuration((event.at - bootAt) / 1000);
      }
    },
    tokenAttempt: (source, result, seconds) => metrics.tokenRequest(source, result, seconds),
    tokenAcquired(token) {
      void audit.record({ kind: 'token-acquired', ...token, trustDomain });
    },
    tokenReleased(token, how, reason) {
      const kind =
        how === 'consumed' ? 'token-consumed' : how === 'rejected' ? 'token-rejected' : 'token-discarded';
      void audit.record({ kind, ...token, trustDomain, ...(reason ? { reason } : {}) });
    },
    tokenInsecure(token, reason) {
      void audit.record({ kind: 'token-refused-insecure', ...token, trustDomain, reason });
    },
    entriesReconciled(counts) {
      for (const [action, n] of Object.entries(counts))
        metrics.entriesReconciled(action as ReconcileAction, n);
    },
    identityExpiry: (identity, expiresAt) => metrics.identityExpiry(identity, expiresAt),
  };
}

/** An observer that records nothing (tests, or a daemon built without observability). */
export const NO_OBSERVER: Observer = {
  transition() {},
  tokenAttempt() {},
  tokenAcquired() {},
  tokenReleased() {},
  tokenInsecure() {},
  entriesReconciled() {},
  identityExpiry() {},
};
