// The supervision half of the machine: a child becomes ready, exits, misses its readiness deadline, is restarted
// by a reload, or is stopped at shutdown. Why the machine stopped a child decides what its exit means.
import { failure, withAgent, withChild, withError } from './machine-steps.js';
import {
  CHILDREN,
  type Child,
  type EventBody,
  type Failure,
  isAgent,
  type MachineEvent,
  type MachineState,
  type Transition,
} from './machine-types.js';

type EventOf<T extends EventBody['type']> = Extract<MachineEvent, { type: T }>;

const running = (state: MachineState, child: Child) =>
  ['starting', 'ready', 'stopping'].includes(state.children[child].status);

const clearDeadline = (state: MachineState, child: Child) =>
  state.children[child].deadlineAt === null
    ? []
    : [{ type: 'clear-timer' as const, key: `deadline:${child}` as const }];

export function onChildReady(state: MachineState, event: EventOf<'child-ready'>): Transition {
  const { child, at } = event;
  if (state.children[child].status !== 'starting') return { state, effects: [] };
  const effects = clearDeadline(state, child);
  let next = withChild(state, child, { status: 'ready', readyAt: at, deadlineAt: null });
  if (isAgent(child) && event.svidExpiresAt !== null) {
    const reason = `the ${child} is ready with an SVID valid until ${new Date(event.svidExpiresAt).toISOString()}`;
    next = withAgent(next, 'identity', child, {
      status: 'valid',
      reason,
      at,
      expiresAt: event.svidExpiresAt,
    });
  }
  return { state: next, effects };
}

function exitMessage(child: Child, code: number | null, signal: string | null): string {
  if (code !== null) return `the ${child} exited with code ${code}`;
  return `the ${child} was killed by ${signal ?? 'a signal'}`;
}

/** A crash: counts towards the restart backoff, unless the child had been stable long enough. */
function crashed(state: MachineState, child: Child, at: number): MachineState {
  const c = state.children[child];
  const stable = c.readyAt !== null && at - c.readyAt >= state.policy.restartResetAfterMs;
  return withChild(state, child, {
    status: 'crashed',
    failures: stable ? 1 : c.failures + 1,
    restarts: c.restarts + 1,
    readyAt: null,
    deadlineAt: null,
    stopReason: null,
  });
}

export function onChildExited(state: MachineState, event: EventOf<'child-exited'>): Transition {
  const { child, code, signal, at } = event;
  if (!running(state, child)) return { state, effects: [] };
  const effects = clearDeadline(state, child);
  const { stopReason: reason, cause } = state.children[child];
  // Stopped on purpose: for a reload, a changed input, or because its token was refused. Not the child's fault.
  if (reason === 'reload' || reason === 'token-refused' || reason === 'input-changed') {
    const stopped = withChild(state, child, {
      status: 'stopped',
      readyAt: null,
      deadlineAt: null,
      stopReason: null,
    });
    return { state: stopped, effects };
  }
  const next = crashed(state, child, at);
  // A missed deadline already said why; the first cause wins over "exited with code 0" from our own SIGTERM.
  if (reason === 'ready-timeout') return { state: next, effects };
  // What the child said before it went beats how it went.
  if (cause !== null) return { state: withError(next, cause, at), effects };
  const how = failure(
    'child',
    child,
    code === null ? 'child-killed' : 'child-exited',
    exitMessage(child, code, signal),
  );
  return { state: withError(next, how, at), effects };
}

/** A child's own log line named a cause: it shows in lastError at once, not only when the child gives up. */
export function onChildReported(state: MachineState, event: EventOf<'child-reported'>): Transition {
  const { child, at } = event;
  if (!running(state, child) || state.children[child].cause?.code === event.failure.code) {
    return { state, effects: [] };
  }
  return {
    state: withError(withChild(state, child, { cause: event.failure }), event.failure, at),
    effects: [],
  };
}

/** The child could not be started at all (its config could not be written, its binary is missing). */
export function onChildFailed(state: MachineState, event: EventOf<'child-failed'>): Transition {
  const { child, at } = event;
  if (state.children[child].status !== 'starting') return { state, effects: [] };
  const effects = clearDeadline(state, child);
  return { state: withError(crashed(state, child, at), event.failure, at), effects };
}

// With a cause from its own log lines, that is what the operator needs to read; without, what it waits for.
function lateFailure(state: MachineState, child: Child): Failure {
  const seconds = Math.round(state.policy.readyTimeoutMs[child] / 1000);
  const cause = state.children[child].cause;
  if (cause !== null)
    return { ...cause, message: `${cause.message}; not ready after ${seconds} s, restarted` };
  const message = `the ${child} did not become ready within ${seconds} s; it waits for ${state.policy.waitingFor[child]}`;
  const hint = `check the ${child}'s log lines (journalctl, field child="${child}")`;
  return failure('child', child, 'ready-timeout', message, hint);
}

/** The child did not get ready in time: say why or what it waits for, stop it, and restart it with backoff. */
export function onDeadline(state: MachineState, child: Child, dueAt: number, at: number): Transition {
  const c = state.children[child];
  if (c.status !== 'starting' || c.deadlineAt !== dueAt) return { state, effects: [] };
  const late = withError(state, lateFailure(state, child), at);
  return {
    state: withChild(late, child, { status: 'stopping', stopReason: 'ready-timeout', deadlineAt: null }),
    effects: [{ type: 'stop-child', child, reason: 'ready-timeout' }],
  };
}

/**
 * The trust bundle file changed while the upstream agent was failing to verify the server: start it again now
 * (it reads the bundle only at start) instead of waiting out its attestation retries or its restart backoff.
 */
export function onTrustBundleChanged(state: MachineState): Transition {
  const up = 'upstream-agent';
  const c = state.children[up];
  if (c.cause?.code !== 'trust-bundle-mismatch') return { state, effects: [] };
  if (c.status === 'starting') {
    return {
      state: withChild(state, up, { status: 'stopping', stopReason: 'input-changed', deadlineAt: null }),
      effects: [...clearDeadline(state, up), { type: 'stop-child', child: up, reason: 'input-changed' }],
    };
  }
  const pending = state.pending;
  if (c.status === 'waiting' && pending?.timer === 'restart' && pending.child === up) {
    const cut = withChild({ ...state, pending: null }, up, { status: 'stopped' });
    return { state: cut, effects: [{ type: 'clear-timer', key: 'pending' }] };
  }
  return { state, effects: [] };
}

/**
 * A new configuration: restart the running children whose config changed (not counted as crashes) and
 * register the entries again when their desired state changed.
 */
export function onConfigChanged(state: MachineState, event: EventOf<'config-changed'>): Transition {
  let next: MachineState = { ...state, policy: event.policy, lastError: reloadCleared(state) };
  if (event.entries) {
    const registering = state.step?.name === 'register-entries';
    next = { ...next, entriesRegistered: false, entriesStale: registering };
  }
  const effects: Transition['effects'] = [];
  for (const child of event.children) {
    const status = next.children[child].status;
    if (status !== 'starting' && status !== 'ready') continue;
    effects.push(...clearDeadline(next, child), { type: 'stop-child', child, reason: 'reload' });
    next = withChild(next, child, { status: 'stopping', stopReason: 'reload', deadlineAt: null });
  }
  return { state: next, effects };
}

// A reload that works clears the error of a reload that did not.
const reloadCleared = (state: MachineState) => (state.lastError?.step === 'reload' ? null : state.lastError);

export function requestStop(state: MachineState, at: number): Transition {
  const children = CHILDREN.filter((c) => running(state, c)).reverse();
  return {
    state: { ...state, phase: 'stopping', since: at, step: null, pending: null },
    effects: [{ type: 'clear-timers' }, { type: 'stop-children', children }],
  };
}

export function whileStopping(state: MachineState, event: MachineEvent): Transition {
  if (event.type === 'stopped')
    return { state: { ...state, phase: 'stopped', since: event.at }, effects: [] };
  if (event.type === 'child-exited' || event.type === 'child-failed') {
    const stopped = withChild(state, event.child, { status: 'stopped', readyAt: null, deadlineAt: null });
    return { state: stopped, effects: [] };
  }
  if (event.type === 'token-released')
    return { state: withAgent(state, 'tokens', event.agent, null), effects: [] };
  // A mint that completed as the stop came: onto its file, where the next start finds it, instead of lost.
  if (event.type === 'token-acquired')
    return { state, effects: [{ type: 'write-token', agent: event.agent }] };
  return { state, effects: [] };
}
