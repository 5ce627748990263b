// The daemon's status document (GET /status, `poller-bootstrap status`): a pure function of the machine state.

import type { MachineState, Phase } from '../daemon/machine-types.js';
import { maskJoinTokenIds } from '../spire/join-token-id.js';

export { maskJoinTokenIds };

/** One supervised child as the supervisor reports it; times are epoch milliseconds. */
export interface ChildReport {
  readonly name: string;
  readonly status: string;
  readonly pid: number | null;
  readonly restarts: number;
  readonly since: number | null;
}

/** What is known about one SVID; the SPIFFE ID may be a join-token agent ID and is masked on output. */
export interface IdentityReport {
  readonly spiffeId?: string | null;
  /** Epoch milliseconds. */
  readonly expiresAt?: number | null;
}

export interface StatusInput {
  readonly machine: Pick<MachineState, 'phase' | 'since' | 'lastError'>;
  readonly children: readonly ChildReport[];
  /** Keyed by role, e.g. `upstream`, `downstream`. */
  readonly identity: Readonly<Record<string, IdentityReport>>;
  readonly version: string;
}

export interface Status {
  readonly phase: Phase;
  readonly since: string;
  readonly ready: boolean;
  readonly children: readonly {
    name: string;
    status: string;
    pid: number | null;
    restarts: number;
    since: string | null;
  }[];
  readonly identity: Readonly<Record<string, { spiffeId?: string; expiresAt?: string }>>;
  readonly lastError: { readonly message: string; readonly at: string } | null;
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

// Applied to the whole document so a field added later cannot leak a token either.
function maskAll<T>(value: T): T {
  if (typeof value === 'string') return maskJoinTokenIds(value) as T;
  if (Array.isArray(value)) return value.map(maskAll) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [maskJoinTokenIds(k), maskAll(v)])) as T;
  }
  return value;
}

function identityOut(report: IdentityReport): { spiffeId?: string; expiresAt?: string } {
  const out: { spiffeId?: string; expiresAt?: string } = {};
  if (report.spiffeId != null) out.spiffeId = report.spiffeId;
  if (report.expiresAt != null) out.expiresAt = iso(report.expiresAt);
  return out;
}

/** Builds the status document; every string that could carry a join-token agent ID is masked. */
export function buildStatus(input: StatusInput): Status {
  const { machine } = input;
  const lastError = machine.lastError;
  return maskAll({
    phase: machine.phase,
    since: iso(machine.since),
    ready: isReadyPhase(machine.phase),
    children: input.children.map((c) => ({
      name: c.name,
      status: c.status,
      pid: c.pid,
      restarts: c.restarts,
      since: c.since === null ? null : iso(c.since),
    })),
    identity: Object.fromEntries(
      Object.entries(input.identity).map(([role, report]) => [role, identityOut(report)]),
    ),
    lastError: lastError === null ? null : { message: lastError.message, at: iso(lastError.at) },
    version: input.version,
  });
}
