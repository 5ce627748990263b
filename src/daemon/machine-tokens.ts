// The token half of the machine, the same for both agents: inspect the identity, acquire a token only when the
// agent cannot load a valid SVID, hand it over, and release it (consumed, refused or discarded) exactly once.
import {
  failure,
  HOUR_MS,
  runStep,
  spawnChild,
  stepDone,
  tokenRetryDelay,
  wait,
  withAgent,
  withChild,
  withError,
} from './machine-steps.js';
import type {
  Agent,
  Effect,
  EventBody,
  MachineEvent,
  MachineState,
  TokenInfo,
  TokenRelease,
  Transition,
} from './machine-types.js';

type EventOf<T extends EventBody['type']> = Extract<MachineEvent, { type: T }>;

const iso = (ms: number) => new Date(ms).toISOString();
const describeToken = (t: TokenInfo) => `the join token from ${t.source} (${t.fingerprint})`;

/** Marks a token for release and asks the runner to release it; the agent waits until it is gone. */
export function release(state: MachineState, agent: Agent, how: TokenRelease['how'], reason: string | null) {
  const token = state.tokens[agent];
  const effects: Effect[] = [];
  if (token === null || token.release !== null) return { state, effects };
  effects.push({ type: 'release-token', agent, how, reason });
  return { state: withAgent(state, 'tokens', agent, { ...token, release: { how, reason } }), effects };
}

/** Starts an agent with its pending token (unless it expired meanwhile), or inspects its identity first. */
export function startAgent(state: MachineState, agent: Agent, at: number): Transition {
  const token = state.tokens[agent];
  if (token !== null && token.release !== null) return { state, effects: [] };
  if (token === null || token.leftover) return runStep(state, { name: 'inspect-identity', agent }, at);
  if (token.expiresAt !== null && token.expiresAt <= at) {
    const message = `${describeToken(token)} expired at ${iso(token.expiresAt)} before the ${agent} used it`;
    const expired = withError(state, failure('acquire-token', token.source, 'token-expired', message), at);
    return release(expired, agent, 'discarded', 'expired');
  }
  return spawnChild(state, agent, true, at);
}

/** After an inspection: start without a token whenever the agent will load its SVID, else ask for a token. */
export function onIdentity(state: MachineState, event: EventOf<'identity-inspected'>): Transition {
  const { agent, status, reason, expiresAt, at } = event;
  const inspected = withAgent(stepDone(state), 'identity', agent, { status, reason, at, expiresAt });
  // 'expiring' is still loaded by the agent, which then rotates or re-attests on its own: a token would be wasted.
  if (status === 'valid' || status === 'expiring') {
    const file = event.tokenFile;
    const leftover: TokenInfo | null = file && { ...file, leftover: true, release: null };
    // A token file beside a valid identity was used by that identity (its agent ID names it) or is not needed.
    const fate = leftover && (event.attestedWith === leftover.fingerprint ? 'consumed' : 'discarded');
    const withLeftover = withAgent(inspected, 'tokens', agent, leftover);
    const released = fate
      ? release(
          withLeftover,
          agent,
          fate,
          fate === 'consumed'
            ? 'left over after attestation'
            : 'not needed: the agent holds a valid identity',
        )
      : { state: withLeftover, effects: [] };
    const started = spawnChild(released.state, agent, false, at);
    return { state: started.state, effects: [...released.effects, ...started.effects] };
  }
  const cleared = withAgent(inspected, 'tokens', agent, null);
  // The agent cannot even open a corrupt data dir, so a token alone would not help: move the files aside.
  if (status === 'corrupt') {
    const bad = withError(cleared, failure('inspect-identity', agent, 'identity-corrupt', reason), at);
    return needToken(bad, agent, at, [{ type: 'set-aside-identity', agent, reason }]);
  }
  return needToken(cleared, agent, at);
}

/** Asks for a token unless this hour's limit is used up, in which case waits for the oldest to age out. */
function needToken(state: MachineState, agent: Agent, at: number, effects: Effect[] = []): Transition {
  const recent = state.mintedAt[agent].filter((t) => at - t < HOUR_MS);
  const next = withAgent(state, 'mintedAt', agent, recent);
  const oldest = recent[0];
  const max = state.policy.maxTokensPerHour;
  if (oldest !== undefined && recent.length >= max) {
    const dueAt = oldest + HOUR_MS;
    const message =
      `join token limit reached for the ${agent}: ${recent.length} tokens acquired or requested in the last ` +
      `hour (max ${max}); next attempt at ${iso(dueAt)}`;
    const hint =
      'find out why tokens are refused (see lastError history in the log); raise token.max_per_hour only if needed';
    const limited = withError(next, failure('acquire-token', null, 'token-limit', message, hint), at);
    return wait(limited, { timer: 'token-retry', agent, dueAt }, at, effects);
  }
  return runStep(next, { name: 'acquire-token', agent }, at, effects);
}

const stamps = (at: number, n: number) => Array.from({ length: n }, () => at);

export function onTokenAcquired(state: MachineState, event: EventOf<'token-acquired'>): Transition {
  const { agent, source, expiresAt, fingerprint, at } = event;
  let next = withAgent(stepDone(state), 'tokenFailures', agent, 0);
  next = withAgent(next, 'mintedAt', agent, [
    ...state.mintedAt[agent],
    ...stamps(at, Math.max(1, event.mints)),
  ]);
  const token: TokenInfo = { source, expiresAt, fingerprint, leftover: false, release: null };
  next = withAgent(next, 'tokens', agent, token);
  if (expiresAt !== null && expiresAt <= at) {
    const message = `${describeToken(token)} expired at ${iso(expiresAt)}`;
    const expired = withError(next, failure('acquire-token', source, 'token-expired', message), at);
    return release(expired, agent, 'discarded', 'expired');
  }
  return runStep(next, { name: 'write-token', agent }, at);
}

export function onTokenFailed(state: MachineState, event: EventOf<'token-failed'>): Transition {
  const { agent, at } = event;
  const failures = state.tokenFailures[agent] + 1;
  let next = withAgent(stepDone(state), 'tokenFailures', agent, failures);
  next = withAgent(next, 'mintedAt', agent, [...state.mintedAt[agent], ...stamps(at, event.mints)]);
  const delay = tokenRetryDelay(state.policy, failures, event.failure, event.rand);
  return wait(withError(next, event.failure, at), { timer: 'token-retry', agent, dueAt: at + delay }, at);
}

export function onTokenReleased(state: MachineState, event: EventOf<'token-released'>): Transition {
  const next = withAgent(state, 'tokens', event.agent, null);
  return { state: event.failure ? withError(next, event.failure, event.at) : next, effects: [] };
}

/**
 * The agent says its attestation succeeded: the server has burned the token, so it is released (its file
 * deleted) now rather than once the agent serves its socket; the agent starts on as it is.
 */
export function onChildAttested(state: MachineState, event: EventOf<'child-attested'>): Transition {
  const { child } = event;
  if (child === 'nested-server') return { state, effects: [] };
  const c = state.children[child];
  if (c.status !== 'starting' || !c.withToken || state.tokens[child]?.leftover !== false)
    return { state, effects: [] };
  return release(state, child, 'consumed', null);
}

const WHY: Record<EventOf<'token-refused'>['refusal'], string> = {
  'token-rejected': 'does not exist or has already been used',
  'token-expired': 'has expired',
};

/**
 * The agent logged the SPIRE server's refusal of its token: the server has burned it, so it is released at once
 * and the agent stopped (SPIRE would otherwise retry it for a minute). Only a token the agent attests with counts.
 * An agent already being stopped (a reload, a missed deadline) stops as it was going to, but without the token:
 * its next start must not offer it again.
 */
export function onTokenRefused(state: MachineState, event: EventOf<'token-refused'>): Transition {
  const { child, refusal, at } = event;
  if (child === 'nested-server') return { state, effects: [] };
  const c = state.children[child];
  const token = state.tokens[child];
  const stoppingAlready = c.status === 'stopping' && c.stopReason !== 'token-refused';
  if ((c.status !== 'starting' && !stoppingAlready) || !c.withToken || token === null || token.leftover)
    return { state, effects: [] };
  const message = `the SPIRE server refused ${describeToken(token)}: it ${WHY[refusal]}`;
  const hint = 'nothing to do: the daemon discards it and acquires a new one (bounded by token.max_per_hour)';
  const refused = withError(state, failure('child', token.source, refusal, message, hint), at);
  const stopping = stoppingAlready
    ? refused
    : withChild(refused, child, { status: 'stopping', stopReason: 'token-refused' });
  const released = release(
    stopping,
    child,
    'rejected',
    refusal === 'token-expired' ? 'expired' : WHY[refusal],
  );
  const stop: Effect[] = stoppingAlready ? [] : [{ type: 'stop-child', child, reason: 'token-refused' }];
  return { state: released.state, effects: [...stop, ...released.effects] };
}
