// Building blocks of the transition function: each takes a state and returns the next state plus the effects to
// run. `advance` is the heart: with nothing in flight it picks the first thing the bootstrap still lacks.
import {
  type Backoff,
  CHILDREN,
  type Child,
  type ChildState,
  type Effect,
  type MachineState,
  type Pending,
  type Phase,
  type Transition,
} from './machine-types.js';

const HOUR_MS = 3_600_000;

/** Exponential delay for the n-th consecutive failure (1-based). */
export function backoffDelay(backoff: Backoff, failures: number): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1));
}

/** Enters a phase; once the daemon has been ready, every phase on the way back is reported as 'degraded'. */
export function enter(state: MachineState, phase: Phase, at: number): MachineState {
  const keep = phase === 'ready' || phase === 'stopping' || phase === 'stopped';
  const shown = state.readyAt !== null && !keep ? 'degraded' : phase;
  return shown === state.phase ? state : { ...state, phase: shown, since: at };
}

export function withError(state: MachineState, message: string, at: number): MachineState {
  return { ...state, lastError: { phase: state.phase, message, at } };
}

export function withChild(state: MachineState, child: Child, change: Partial<ChildState>): MachineState {
  return { ...state, children: { ...state.children, [child]: { ...state.children[child], ...change } } };
}

export function wait(state: MachineState, pending: Pending, at: number, effects: Effect[] = []): Transition {
  const { dueAt, ...event } = pending;
  return {
    state: { ...enter(state, 'backoff', at), pending },
    effects: [
      ...effects,
      { type: 'schedule', afterMs: dueAt - at, event: { type: 'timer-fired', ...event } },
    ],
  };
}

/** Asks for a token unless the hourly limit is used up, in which case waits for the oldest to age out. */
export function needToken(state: MachineState, at: number, effects: Effect[] = []): Transition {
  const recent = state.tokensAcquiredAt.filter((t) => at - t < HOUR_MS);
  const next = { ...state, tokensAcquiredAt: recent };
  const oldest = recent[0];
  if (oldest !== undefined && recent.length >= state.policy.maxTokensPerHour) {
    const dueAt = oldest + HOUR_MS;
    const message =
      `join token limit reached: ${recent.length} tokens acquired in the last hour ` +
      `(max ${state.policy.maxTokensPerHour}); next attempt at ${new Date(dueAt).toISOString()}`;
    return wait(withError(next, message, at), { timer: 'token-retry', dueAt }, at, effects);
  }
  return {
    state: { ...enter(next, 'acquire-token', at), step: 'acquire-token' },
    effects: [...effects, { type: 'acquire-token' }],
  };
}

/** Starts the upstream agent with the pending token, or with none when the identity on disk is valid. */
export function startUpstream(state: MachineState, at: number): Transition {
  const token = state.token;
  if (token?.expiresAt != null && token.expiresAt <= at) {
    const message = `the join token from ${token.source} (${token.fingerprint}) expired at ${new Date(token.expiresAt).toISOString()} before the upstream agent used it`;
    return needToken(withError({ ...state, token: null }, message, at), at, [
      { type: 'discard-token', reason: 'expired' },
    ]);
  }
  return {
    state: enter(withChild(state, 'upstream-agent', { status: 'starting' }), 'start-upstream-agent', at),
    effects: [{ type: 'start-child', child: 'upstream-agent' }],
  };
}

function startChild(state: MachineState, child: Child, at: number): Transition {
  if (child === 'upstream-agent') {
    // Without an unconsumed token, look at the disk again: the identity may have expired while the agent was down.
    if (state.token !== null) return startUpstream(state, at);
    return {
      state: { ...enter(state, 'inspect-identity', at), step: 'inspect-identity' },
      effects: [{ type: 'inspect-identity' }],
    };
  }
  const phase = child === 'nested-server' ? 'start-nested-server' : 'start-downstream-agent';
  return {
    state: enter(withChild(state, child, { status: 'starting' }), phase, at),
    effects: [{ type: 'start-child', child }],
  };
}

/**
 * With no step or timer in flight, takes the next thing the bootstrap (or a recovery) needs, in DESIGN §3 order.
 * A child still starting holds up only what comes after it, so an upstream crash is handled at once.
 */
export function advance(state: MachineState, at: number): Transition {
  if (state.step !== null || state.pending !== null) return { state, effects: [] };
  for (const child of CHILDREN) {
    const { status, failures } = state.children[child];
    if (status === 'starting' || status === 'waiting') return { state, effects: [] };
    if (status === 'crashed') {
      const dueAt = at + backoffDelay(state.policy.restart, failures);
      return wait(withChild(state, child, { status: 'waiting' }), { timer: 'restart', child, dueAt }, at);
    }
    if (status === 'stopped') return startChild(state, child, at);
    if (child === 'upstream-agent' && state.token !== null) {
      return {
        state: { ...enter(state, 'consume-token', at), step: 'consume-token' },
        effects: [{ type: 'consume-token' }],
      };
    }
    if (child === 'nested-server' && !state.entriesRegistered) {
      return {
        state: { ...enter(state, 'register-entries', at), step: 'register-entries' },
        effects: [{ type: 'register-entries' }],
      };
    }
  }
  const first = state.readyAt === null;
  const ready = enter({ ...state, readyAt: state.readyAt ?? at }, 'ready', at);
  return { state: ready, effects: first ? [{ type: 'notify-ready' }] : [] };
}
