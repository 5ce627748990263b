// Building blocks of the transition function: small pure helpers that change one part of the state, and the
// delay rules (backoff and jitter) the machine decides from the runner's random draw.
import type {
  Agent,
  Backoff,
  Child,
  ChildState,
  Effect,
  Failure,
  MachinePolicy,
  MachineState,
  Pending,
  Phase,
  Step,
  Transition,
} from './machine-types.js';

export const HOUR_MS = 3_600_000;

/** Exponential delay for the n-th consecutive failure (1-based). */
export function backoffDelay(backoff: Backoff, failures: number): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1));
}

/** ±20 %: enough that many pollers do not act in step, never so much that a long wait becomes a short one. */
export function spread(ms: number, rand: number): number {
  return Math.round(ms * (0.8 + 0.4 * rand));
}

/**
 * The longest backoff after transient failures. Beyond it a longer wait spares a throttled or recovering server
 * little (each poller asks at most about four times a minute) but leaves it idle while the last pollers sleep:
 * with the 5-minute cap, bench:fleet saw 1,000 pollers' last tokens come a minute after the rest
 * (docs/BENCHMARKS.md, Fleet).
 */
export const TRANSIENT_RETRY_MAX_MS = 30_000;

/**
 * The wait before asking a token source again. A transient failure gets full jitter up to the backoff (many
 * pollers hit one server), at most TRANSIENT_RETRY_MAX_MS; a server's Retry-After is a floor, and a failure that
 * needs a person waits the cap ±20 %, never a fraction of it.
 *
 * A Retry-After at or above the backoff is spread above by the backoff, or a tenth of it if that is more: enough
 * that a fleet told the same Retry-After does not return in the same instant (one told 1 s returns over a second,
 * one told 2 minutes over 12 s), little enough that a server which gives each caller its own time (the broker's
 * global limit, docs/broker.md) is not kept waiting: 20 % above it made a fleet's last pollers come back a fifth
 * of the whole wait late (docs/BENCHMARKS.md, Fleet).
 */
export function tokenRetryDelay(
  policy: MachinePolicy,
  failures: number,
  failure: Failure,
  rand: number,
): number {
  const { maxMs } = policy.tokenRetry;
  const floor = Math.min(failure.retryAfterMs ?? 0, maxMs);
  if (!failure.retryable) return Math.max(floor, spread(maxMs, rand));
  const ceiling = Math.min(backoffDelay(policy.tokenRetry, failures), TRANSIENT_RETRY_MAX_MS);
  if (floor >= ceiling) return Math.round(floor + rand * Math.max(ceiling, floor / 10));
  return Math.round(floor + rand * (ceiling - floor));
}

/** Whether the node's identity (the upstream agent's SVID) was valid at `at`, as last known. */
export function identityValid(state: MachineState, at: number): boolean {
  const id = state.identity['upstream-agent'];
  return id !== null && id.expiresAt !== null && id.expiresAt > at && id.status !== 'expired';
}

/**
 * Enters a phase. After the first ready, a repair with the identity still valid is shown as 'degraded'
 * (DESIGN §3); without a valid identity the real phase is shown.
 */
export function enter(state: MachineState, phase: Phase, at: number): MachineState {
  const keep = phase === 'ready' || phase === 'stopping' || phase === 'stopped';
  const shown = state.readyAt !== null && !keep && identityValid(state, at) ? 'degraded' : phase;
  return shown === state.phase ? state : { ...state, phase: shown, since: at };
}

export function withError(state: MachineState, failure: Failure, at: number): MachineState {
  return { ...state, lastError: { ...failure, phase: state.phase, at } };
}

/** A failure the machine itself noticed (no retry hint from a server). */
export function failure(
  step: Failure['step'],
  source: string | null,
  code: string,
  message: string,
  hint: string | null = null,
  retryable = true,
): Failure {
  return { step, source, code, retryable, retryAfterMs: null, message, hint };
}

export function withChild(state: MachineState, child: Child, change: Partial<ChildState>): MachineState {
  return { ...state, children: { ...state.children, [child]: { ...state.children[child], ...change } } };
}

export function withAgent<K extends 'tokens' | 'identity' | 'mintedAt' | 'tokenFailures'>(
  state: MachineState,
  key: K,
  agent: Agent,
  value: MachineState[K][Agent],
): MachineState {
  return { ...state, [key]: { ...state[key], [agent]: value } };
}

/** Waits in 'backoff' for one timer; `/status` shows `pending.dueAt`, which is when the timer really fires. */
export function wait(state: MachineState, pending: Pending, at: number, effects: Effect[] = []): Transition {
  return {
    state: { ...enter(state, 'backoff', at), pending },
    effects: [
      ...effects,
      { type: 'set-timer', key: 'pending', dueAt: pending.dueAt, afterMs: pending.dueAt - at },
    ],
  };
}

/** The phase a step is shown in: the downstream agent's token work is part of starting it. */
function stepPhase(step: Step): Phase {
  if (step.agent === 'downstream-agent') return 'start-downstream-agent';
  return step.name;
}

/** Starts a runner step: at most one is in flight. */
export function runStep(state: MachineState, step: Step, at: number, effects: Effect[] = []): Transition {
  const effect: Effect =
    step.name === 'register-entries'
      ? { type: 'register-entries' }
      : { type: step.name, agent: step.agent ?? 'upstream-agent' };
  return { state: { ...enter(state, stepPhase(step), at), step }, effects: [...effects, effect] };
}

export function stepDone(state: MachineState): MachineState {
  return { ...state, step: null, stepFailures: 0 };
}

export const sameStep = (a: Step | null, b: Step): boolean =>
  a !== null && a.name === b.name && a.agent === b.agent;

const START_PHASE: Record<Child, Phase> = {
  'upstream-agent': 'start-upstream-agent',
  'nested-server': 'start-nested-server',
  'downstream-agent': 'start-downstream-agent',
};

/** Spawns a child and arms its readiness deadline. */
export function spawnChild(state: MachineState, child: Child, withToken: boolean, at: number): Transition {
  const dueAt = at + state.policy.readyTimeoutMs[child];
  const started = withChild(state, child, {
    status: 'starting',
    startedAt: at,
    readyAt: null,
    deadlineAt: dueAt,
    stopReason: null,
    withToken,
    cause: null,
  });
  return {
    state: enter(started, START_PHASE[child], at),
    effects: [
      { type: 'start-child', child, withToken },
      { type: 'set-timer', key: `deadline:${child}`, dueAt, afterMs: dueAt - at },
    ],
  };
}
