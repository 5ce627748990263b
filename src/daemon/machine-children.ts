// The supervision half of the machine: a child becomes ready, exits, misses its readiness deadline, is restarted
// by a reload, or is stopped at shutdown. Why the machine stopped a child decides what its exit means.
import { failure, withAgent, withChild, withError } from './machine-steps.js';
import {
  CHILDREN,
  type Child,
  type EventBody,
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
  const reason = state.children[child].stopReason;
  // Stopped on purpose: for a reload or because its token was refused. Neither is the child's fault.
  if (reason === 'reload' || reason === 'token-refused') {
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
  const code_ = code === null ? 'child-killed' : 'child-exited';
  return {
    state: withError(next, failure('child', child, code_, exitMessage(child, code, signal)), at),
    effects,
  };
}

/** The child could not be started at all (its config could not be written, its binary is missing). */
export function onChildFailed(state: MachineState, event: EventOf<'child-failed'>): Transition {
  const { child, at } = event;
  if (state.children[child].status !== 'starting') return { state, effects: [] };
  const effects = clearDeadline(state, child);
  return { state: withError(crashed(state, child, at), event.failure, at), effects };
}

/** The child did not get ready in time: say what it waits for, stop it, and restart it with backoff. */
export function onDeadline(state: MachineState, child: Child, dueAt: number, at: number): Transition {
  const c = state.children[child];
  if (c.status !== 'starting' || c.deadlineAt !== dueAt) return { state, effects: [] };
  const seconds = Math.round(state.policy.readyTimeoutMs[child] / 1000);
  const message = `the ${child} did not become ready within ${seconds} s; it waits for ${state.policy.waitingFor[child]}`;
  const hint = `check the ${child}'s log lines (journalctl, field child="${child}")`;
  const late = withError(state, failure('child', child, 'ready-timeout', message, hint), at);
  return {
    state: withChild(late, child, { status: 'stopping', stopReason: 'ready-timeout', deadlineAt: null }),
    effects: [{ type: 'stop-child', child, reason: 'ready-timeout' }],
  };
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
  return { state, effects: [] };
}
