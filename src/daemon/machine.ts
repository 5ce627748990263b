// The bootstrap state machine (DESIGN.md §3) as a pure function: `transition(state, event)` returns the next state
// and the effects the runner must perform. No clock, no randomness, no I/O: the runner stamps each event with
// the time and a random draw. Every event is first recorded, then `advance` takes the next thing to do.
import {
  onChildExited,
  onChildFailed,
  onChildReady,
  onChildReported,
  onConfigChanged,
  onDeadline,
  onTrustBundleChanged,
  requestStop,
  whileStopping,
} from './machine-children.js';
import {
  backoffDelay,
  enter,
  runStep,
  sameStep,
  spawnChild,
  spread,
  stepDone,
  wait,
  withChild,
  withError,
} from './machine-steps.js';
import {
  onChildAttested,
  onIdentity,
  onTokenAcquired,
  onTokenFailed,
  onTokenRefused,
  onTokenReleased,
  release,
  startAgent,
} from './machine-tokens.js';
import {
  AGENTS,
  CHILDREN,
  type ChildState,
  type EventBody,
  isAgent,
  type MachineEvent,
  type MachinePolicy,
  type MachineState,
  type Transition,
} from './machine-types.js';

export * from './machine-types.js';

type EventOf<T extends EventBody['type']> = Extract<MachineEvent, { type: T }>;

/** The state before 'start': nothing inspected, nothing running. */
export function initialState(policy: MachinePolicy, at: number): MachineState {
  const child = (): ChildState => ({
    status: 'stopped',
    failures: 0,
    restarts: 0,
    startedAt: null,
    readyAt: null,
    deadlineAt: null,
    stopReason: null,
    withToken: false,
    cause: null,
  });
  const perAgent = <T>(make: () => T) =>
    Object.fromEntries(AGENTS.map((a) => [a, make()])) as Record<(typeof AGENTS)[number], T>;
  return {
    phase: 'init',
    since: at,
    lastError: null,
    identity: perAgent(() => null),
    tokens: perAgent(() => null),
    mintedAt: perAgent(() => []),
    tokenFailures: perAgent(() => 0),
    step: null,
    stepFailures: 0,
    children: { 'upstream-agent': child(), 'nested-server': child(), 'downstream-agent': child() },
    entriesRegistered: false,
    entriesStale: false,
    readyAt: null,
    pending: null,
    policy,
  };
}

/** Computes the next state and the effects to run for one event; an event that does not fit is ignored. */
export function transition(state: MachineState, event: MachineEvent): Transition {
  if (state.phase === 'stopped') return { state, effects: [] };
  if (state.phase === 'stopping') return whileStopping(state, event);
  if (event.type === 'stop-requested') return requestStop(state, event.at);
  if (event.type === 'start' && state.phase !== 'init') return { state, effects: [] };
  const recorded = record(state, event);
  const next = advance(recorded.state, event.at, event.rand);
  return { state: next.state, effects: [...recorded.effects, ...next.effects] };
}

const same = (state: MachineState): Transition => ({ state, effects: [] });

function record(state: MachineState, event: MachineEvent): Transition {
  switch (event.type) {
    case 'identity-inspected':
      return sameStep(state.step, { name: 'inspect-identity', agent: event.agent })
        ? onIdentity(state, event)
        : same(state);
    case 'token-acquired':
      return sameStep(state.step, { name: 'acquire-token', agent: event.agent })
        ? onTokenAcquired(state, event)
        : same(state);
    case 'token-failed':
      return sameStep(state.step, { name: 'acquire-token', agent: event.agent })
        ? onTokenFailed(state, event)
        : same(state);
    case 'token-released':
      return onTokenReleased(state, event);
    case 'token-refused':
      return onTokenRefused(state, event);
    case 'child-attested':
      return onChildAttested(state, event);
    case 'step-done':
      return onStepDone(state, event);
    case 'step-failed':
      return onStepFailed(state, event);
    case 'child-ready':
      return onChildReady(state, event);
    case 'child-exited':
      return onChildExited(state, event);
    case 'child-failed':
      return onChildFailed(state, event);
    case 'child-reported':
      return onChildReported(state, event);
    case 'config-changed':
      return onConfigChanged(state, event);
    case 'config-rejected':
      return same(withError(state, event.failure, event.at));
    case 'input-changed':
      return onInputChanged(state, event);
    case 'timer-fired':
      return onTimer(state, event);
    default:
      return same(state);
  }
}

function onStepDone(state: MachineState, event: EventOf<'step-done'>): Transition {
  if (!sameStep(state.step, event.step)) return same(state);
  if (event.step.name !== 'register-entries') return same(stepDone(state));
  return same({ ...stepDone(state), entriesRegistered: !state.entriesStale, entriesStale: false });
}

function onStepFailed(state: MachineState, event: EventOf<'step-failed'>): Transition {
  const { step, at } = event;
  // A step no longer in flight (moving a corrupt identity aside) still shows what went wrong.
  if (!sameStep(state.step, step)) return same(withError(state, event.failure, at));
  const failures = state.stepFailures + 1;
  const failed = withError({ ...state, step: null, stepFailures: failures }, event.failure, at);
  const dueAt = at + spread(backoffDelay(state.policy.restart, failures), event.rand);
  return wait(failed, { timer: 'step-retry', step, dueAt }, at);
}

/** A token file arrived or the trust bundle changed: a wait for a token is cut short; a bundle fix restarts. */
function onInputChanged(state: MachineState, event: EventOf<'input-changed'>): Transition {
  if (state.pending?.timer === 'token-retry') {
    return { state: { ...state, pending: null }, effects: [{ type: 'clear-timer', key: 'pending' }] };
  }
  return event.input === 'trust-bundle' ? onTrustBundleChanged(state) : same(state);
}

function onTimer(state: MachineState, event: EventOf<'timer-fired'>): Transition {
  const { key, dueAt, at } = event;
  if (key !== 'pending')
    return onDeadline(state, key.slice('deadline:'.length) as (typeof CHILDREN)[number], dueAt, at);
  const pending = state.pending;
  if (pending === null || pending.dueAt !== dueAt) return same(state);
  const cleared = { ...state, pending: null };
  if (pending.timer === 'restart') return same(withChild(cleared, pending.child, { status: 'stopped' }));
  if (pending.timer === 'step-retry') return runStep(cleared, pending.step, at);
  return same(cleared);
}

/**
 * With no step or timer in flight, takes the next thing the bootstrap (or a recovery) needs, in DESIGN §3 order.
 * A child still starting holds up only what comes after it, so an upstream crash is handled at once.
 */
export function advance(state: MachineState, at: number, rand: number): Transition {
  if (state.step !== null || state.pending !== null) return same(state);
  for (const child of CHILDREN) {
    const { status, failures } = state.children[child];
    if (status === 'starting' || status === 'waiting' || status === 'stopping') return same(state);
    if (status === 'crashed') {
      const dueAt = at + spread(backoffDelay(state.policy.restart, failures), rand);
      return wait(withChild(state, child, { status: 'waiting' }), { timer: 'restart', child, dueAt }, at);
    }
    if (status === 'stopped')
      return isAgent(child) ? startAgent(state, child, at) : spawnChild(state, child, false, at);
    const token = isAgent(child) ? state.tokens[child] : null;
    if (isAgent(child) && token !== null) {
      // The agent is ready, so it attested with the token (or loaded an SVID beside a leftover): release it.
      if (token.release !== null) return same(state);
      const consumed = release(state, child, 'consumed', null);
      return { state: enter(consumed.state, 'consume-token', at), effects: consumed.effects };
    }
    if (child === 'nested-server' && !state.entriesRegistered) {
      return runStep(state, { name: 'register-entries', agent: null }, at);
    }
  }
  const first = state.readyAt === null;
  const ready = enter({ ...state, readyAt: state.readyAt ?? at }, 'ready', at);
  return { state: ready, effects: first ? [{ type: 'notify-ready' }] : [] };
}
