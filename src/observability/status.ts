// The daemon's status document (GET /status, `poller-bootstrap status`): a pure projection of the machine state,
// the children's pids and what was last read of each identity. Every string is masked, so a join-token agent ID
// shows by fingerprint wherever it appears.

import { CHILDREN, type Child, type MachineState, type Phase } from '../daemon/machine-types.js';
import { maskJoinTokenIds } from '../spire/join-token-id.js';

export { maskJoinTokenIds };

/** What is known about one SVID; the SPIFFE ID may be a join-token agent ID and is masked on output. */
export interface IdentityReport {
  readonly spiffeId?: string | null;
  /** Epoch milliseconds. */
  readonly expiresAt?: number | null;
}

export interface StatusInput {
  readonly machine: MachineState;
  readonly pids: Readonly<Partial<Record<Child, number | undefined>>>;
  readonly identity: Readonly<Partial<Record<Child, IdentityReport>>>;
  readonly version: string;
}

export function isReadyPhase(phase: Phase): boolean {
  return phase === 'ready';
}

/** The /readyz answer for a phase, with a short reason when not ready. */
export function readiness(machine: Pick<MachineState, 'phase' | 'since'>): {
  ready: boolean;
  reason: string;
} {
  const ready = isReadyPhase(machine.phase);
  return { ready, reason: ready ? 'ready' : `phase ${machine.phase} since ${iso(machine.since)}` };
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null | undefined): string | null => (ms == null ? null : iso(ms));

// Applied to the whole document so a field added later cannot leak a token either.
function maskAll<T>(value: T): T {
  if (typeof value === 'string') return maskJoinTokenIds(value) as T;
  if (Array.isArray(value)) return value.map(maskAll) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [maskJoinTokenIds(k), maskAll(v)])) as T;
  }
  return value;
}

function identityOf(input: StatusInput, child: Child) {
  const report = input.identity[child] ?? {};
  const known = child === 'nested-server' ? null : input.machine.identity[child];
  return {
    spiffeId: report.spiffeId ?? null,
    expiresAt: isoOrNull(report.expiresAt ?? known?.expiresAt),
    // What the last inspection found (valid, expiring inside the safety margin, expired, missing …).
    status: known?.status ?? null,
    reason: known?.reason ?? null,
  };
}

/** Builds the status document. */
export function buildStatus(input: StatusInput) {
  const { machine } = input;
  const { lastError, pending } = machine;
  return maskAll({
    phase: machine.phase,
    since: iso(machine.since),
    ready: isReadyPhase(machine.phase),
    step: machine.step,
    pending: pending === null ? null : { ...pending, dueAt: iso(pending.dueAt) },
    children: CHILDREN.map((name) => {
      const c = machine.children[name];
      return {
        name,
        status: c.status,
        pid: input.pids[name] ?? null,
        restarts: c.restarts,
        startedAt: isoOrNull(c.startedAt),
        readyAt: isoOrNull(c.readyAt),
        readyDeadline: isoOrNull(c.deadlineAt),
      };
    }),
    identity: Object.fromEntries(CHILDREN.map((child) => [child, identityOf(input, child)])),
    tokens: Object.fromEntries(
      Object.entries(machine.tokens).map(([agent, t]) => [
        agent,
        t === null
          ? null
          : {
              source: t.source,
              fingerprint: t.fingerprint,
              expiresAt: isoOrNull(t.expiresAt),
              release: t.release,
            },
      ]),
    ),
    lastError: lastError === null ? null : { ...lastError, at: iso(lastError.at) },
    version: input.version,
  });
}

export type Status = ReturnType<typeof buildStatus>;
