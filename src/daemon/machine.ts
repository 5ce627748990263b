// The bootstrap state machine (DESIGN.md §3) as a pure function: `transition(state, event)` returns the next state
// and the effects the runner must execute. No clock, no I/O; an event that does not fit the state is ignored.
import {
  advance,
  backoffDelay,
  enter,
  needToken,
  startUpstream,
  wait,
  withChild,
  withError,
} from './machine-steps.js';
import {
  CHILDREN,
  type Child,
  type ChildState,
  type MachineEvent,
  type MachinePolicy,
  type MachineState,
  type Step,
  type Transition,
} from './machine-types.js';

export { classifyAgentExit, classifyAgentLine } from './machine-agent-output.js';
export * from './machine-types.js';

type EventOf<T extends MachineEvent['type']> = Extract<MachineEvent, { type: T }>;

/** The state before 'start': nothing inspected, nothing running. */
export function initialState(policy: MachinePolicy, at: number): MachineState {
  const child = (): ChildState => ({ status: 'stopped', failures: 0, readyAt: null });
  return {
    phase: 'init',
    since: at,
    lastError: null,
    identity: null,
    token: null,
    tokensAcquiredAt: [],
    tokenFailures: 0,
    step: null,
    stepFailures: 0,
    children: { 'upstream-agent': child(), 'nested-server': child(), 'downstream-agent': child() },
    entriesRegistered: false,
    readyAt: null,
    pending: null,
    policy,
  };
}

/** Computes the next state and the effects to run for one event. */
export function transition(state: MachineState, event: MachineEvent): Transition {
  const same: Transition = { state, effects: [] };
  if (state.phase === 'stopped') return same;
  if (state.phase === 'stopping') return whileStopping(state, event);
  switch (event.type) {
    case 'start':
      return state.phase === 'init' ? advance(state, event.at) : same;
    case 'stop-requested':
      return requestStop(state, event.at);
    case 'identity-inspected':
      return state.step === 'inspect-identity' ? onIdentity(state, event) : same;
    case 'token-acquired':
      return state.step === 'acquire-token' ? onTokenAcquired(state, event) : same;
    case 'token-failed':
      return state.step === 'acquire-token' ? onTokenFailed(state, event) : same;
    case 'token-written':
      return state.step === 'write-token' ? advance(stepDone(state), event.at) : same;
    case 'token-consumed':
      return state.step === 'consume-token' ? advance({ ...stepDone(state), token: null }, event.at) : same;
    case 'entries-registered':
      return state.step === 'register-entries'
        ? advance({ ...stepDone(state), entriesRegistered: true }, event.at)
        : same;
    case 'step-failed':
      return state.step === event.step ? onStepFailed(state, event) : same;
    case 'child-ready':
      return state.children[event.child].status === 'starting'
        ? advance(withChild(state, event.child, { status: 'ready', readyAt: event.at }), event.at)
        : same;
    case 'child-exited':
      return onChildExited(state, event);
    case 'timer-fired':
      return onTimer(state, event);
    case 'stopped':
      return same;
  }
}

function stepDone(state: MachineState): MachineState {
  return { ...state, step: null, stepFailures: 0 };
}

function onIdentity(state: MachineState, event: EventOf<'identity-inspected'>): Transition {
  const { status, reason, at } = event;
  const inspected = { ...stepDone(state), identity: { status, reason, at } };
  if (status === 'valid') return startUpstream(inspected, at);
  // The agent cannot even open a corrupt data dir, so a token alone would not help: move the files aside.
  if (status === 'corrupt') {
    return needToken(withError(inspected, reason, at), at, [{ type: 'set-aside-identity', reason }]);
  }
  return needToken(inspected, at);
}

function onTokenAcquired(state: MachineState, event: EventOf<'token-acquired'>): Transition {
  const { source, expiresAt, fingerprint, at } = event;
  const next = { ...state, step: null, tokenFailures: 0, tokensAcquiredAt: [...state.tokensAcquiredAt, at] };
  if (expiresAt !== null && expiresAt <= at) {
    const message = `the join token from ${source} (${fingerprint}) expired at ${new Date(expiresAt).toISOString()}`;
    return needToken(withError(next, message, at), at, [{ type: 'discard-token', reason: 'expired' }]);
  }
  return {
    state: {
      ...enter({ ...next, token: { source, expiresAt, fingerprint } }, 'write-token', at),
      step: 'write-token',
    },
    effects: [{ type: 'write-token' }],
  };
}

function onTokenFailed(state: MachineState, event: EventOf<'token-failed'>): Transition {
  const failures = state.tokenFailures + 1;
  const { tokenRetry } = state.policy;
  // A non-retryable failure (refused credentials, bad request) waits the longest: it needs a human or a new file.
  const backoff = event.retryable ? backoffDelay(tokenRetry, failures) : tokenRetry.maxMs;
  // A server's Retry-After is a floor, never a reason to call again at once (0, a past date) or to wait beyond
  // the cap (a huge value would also overflow the timer).
  const delay = Math.min(tokenRetry.maxMs, Math.max(backoff, event.retryAfterMs ?? 0));
  const failed = withError({ ...state, step: null, tokenFailures: failures }, event.message, event.at);
  return wait(failed, { timer: 'token-retry', dueAt: event.at + delay }, event.at);
}

function onStepFailed(state: MachineState, event: EventOf<'step-failed'>): Transition {
  const { step, message, at } = event;
  // The agent has already used the token, so a file we failed to remove is only untidy, never dangerous.
  if (step === 'consume-token')
    return advance(withError({ ...state, step: null, token: null }, message, at), at);
  const failures = state.stepFailures + 1;
  const failed = withError({ ...state, step: null, stepFailures: failures }, message, at);
  return wait(
    failed,
    { timer: 'step-retry', step, dueAt: at + backoffDelay(state.policy.restart, failures) },
    at,
  );
}

function exitMessage(child: Child, code: number | null): string {
  return code === null ? `the ${child} was killed by a signal` : `the ${child} exited with code ${code}`;
}

function onChildExited(state: MachineState, event: EventOf<'child-exited'>): Transition {
  const { child, code, reason, at } = event;
  const current = state.children[child];
  if (current.status !== 'starting' && current.status !== 'ready') return { state, effects: [] };
  const token = state.token;
  // Only a token we actually handed to an attesting agent can have been refused; the server has burned it.
  if (child === 'upstream-agent' && reason !== 'other' && token !== null && current.status === 'starting') {
    const why = reason === 'token-rejected' ? 'does not exist or has already been used' : 'has expired';
    const message = `the SPIRE server refused the join token from ${token.source} (${token.fingerprint}): it ${why}`;
    const discarded = withError(
      withChild({ ...state, token: null }, child, { status: 'stopped' }),
      message,
      at,
    );
    return needToken(discarded, at, [
      { type: 'discard-token', reason: reason === 'token-rejected' ? 'rejected' : 'expired' },
    ]);
  }
  const stable = current.readyAt !== null && at - current.readyAt >= state.policy.restartResetAfterMs;
  const failures = stable ? 1 : current.failures + 1;
  const crashed = withChild(state, child, { status: 'crashed', failures, readyAt: null });
  return advance(withError(crashed, exitMessage(child, code), at), at);
}

function onTimer(state: MachineState, event: EventOf<'timer-fired'>): Transition {
  const pending = state.pending;
  const same = { state, effects: [] };
  if (pending === null || pending.timer !== event.timer) return same;
  const cleared = { ...state, pending: null };
  if (event.timer === 'token-retry') return needToken(cleared, event.at);
  if (event.timer === 'restart') {
    if (pending.timer !== 'restart' || pending.child !== event.child) return same;
    return advance(withChild(cleared, event.child, { status: 'stopped' }), event.at);
  }
  if (pending.timer !== 'step-retry' || pending.step !== event.step) return same;
  return retryStep(cleared, event.step, event.at);
}

function retryStep(state: MachineState, step: Step, at: number): Transition {
  return { state: { ...enter(state, step, at), step }, effects: [{ type: step }] };
}

function requestStop(state: MachineState, at: number): Transition {
  const running = CHILDREN.filter((c) => ['starting', 'ready'].includes(state.children[c].status)).reverse();
  return {
    state: { ...state, phase: 'stopping', since: at, step: null, pending: null },
    effects: [{ type: 'cancel-timers' }, { type: 'stop-children', children: running }],
  };
}

function whileStopping(state: MachineState, event: MachineEvent): Transition {
  if (event.type === 'stopped')
    return { state: { ...state, phase: 'stopped', since: event.at }, effects: [] };
  if (event.type === 'child-exited') {
    return { state: withChild(state, event.child, { status: 'stopped', readyAt: null }), effects: [] };
  }
  return { state, effects: [] };
}
