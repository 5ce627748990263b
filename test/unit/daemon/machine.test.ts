import { describe, expect, it } from 'vitest';
import {
  type Agent,
  type Child,
  type Effect,
  type EventBody,
  type Failure,
  initialState,
  type MachinePolicy,
  type MachineState,
  type Transition,
  transition,
} from '../../../src/daemon/machine.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;
const POLICY: MachinePolicy = {
  maxTokensPerHour: 3,
  tokenRetry: { initialMs: 1_000, maxMs: 60_000 },
  restart: { initialMs: 500, maxMs: 8_000 },
  restartResetAfterMs: 60_000,
  readyTimeoutMs: { 'upstream-agent': 120_000, 'nested-server': 90_000, 'downstream-agent': 60_000 },
  waitingFor: {
    'upstream-agent': 'node attestation with the SPIRE server at spire:8081',
    'nested-server': 'its SVID from the upstream agent',
    'downstream-agent': 'node attestation with the nested server',
  },
};

/** An event without its time; `rand` defaults to 0.5, which makes every ±20 % spread exactly 1×. */
type Ev = EventBody & { rand?: number };

/** Applies events one after another, each `dt` ms after the previous; returns the last transition. */
function play(from: MachineState, events: Ev[], dt = 10): Transition {
  let result: Transition = { state: from, effects: [] };
  let at = from.since;
  for (const event of events) {
    at += dt;
    result = transition(result.state, { rand: 0.5, ...event, at } as Parameters<typeof transition>[1]);
  }
  return result;
}
/** Every effect of a sequence of events, in order. */
function run(from: MachineState, events: Ev[], dt = 10): { state: MachineState; effects: Effect[] } {
  const effects: Effect[] = [];
  let state = from;
  for (const event of events) {
    const r = play(state, [event], dt);
    effects.push(...r.effects);
    state = r.state;
  }
  return { state, effects };
}
const through = (from: MachineState, ...events: Ev[]) => run(from, events).state;

const up = 'upstream-agent' as const;
const nested = 'nested-server' as const;
const down = 'downstream-agent' as const;

const inspected = (
  agent: Agent,
  status: 'valid' | 'expiring' | 'expired' | 'missing' | 'no-key' | 'corrupt',
  extra: Partial<Extract<EventBody, { type: 'identity-inspected' }>> = {},
): Ev => ({
  type: 'identity-inspected',
  agent,
  status,
  reason: `identity ${status}`,
  expiresAt: status === 'valid' || status === 'expiring' ? T0 + 10 * HOUR : null,
  attestedWith: null,
  tokenFile: null,
  ...extra,
});
const acquired = (agent: Agent, extra: Partial<Extract<EventBody, { type: 'token-acquired' }>> = {}): Ev => ({
  type: 'token-acquired',
  agent,
  source: agent === up ? 'admin-api' : 'nested-server',
  expiresAt: T0 + 15 * 60_000,
  fingerprint: agent === up ? 'aaaaaaaaaaaa' : 'dddddddddddd',
  mints: 1,
  ...extra,
});
const failure = (extra: Partial<Failure> = {}): Failure => ({
  step: 'acquire-token',
  source: 'admin-api',
  code: 'unavailable',
  retryable: true,
  retryAfterMs: null,
  message: 'admin API answered 503',
  hint: null,
  ...extra,
});
const tokenFailed = (agent: Agent, extra: Partial<Failure> = {}, mints = 0): Ev => ({
  type: 'token-failed',
  agent,
  failure: failure(extra),
  mints,
});
const written = (agent: Agent): Ev => ({ type: 'step-done', step: { name: 'write-token', agent } });
const released = (agent: Agent): Ev => ({ type: 'token-released', agent, failure: null });
const isReady = (
  child: Child,
  svidExpiresAt: number | null = child === nested ? null : T0 + 10 * HOUR,
): Ev => ({
  type: 'child-ready',
  child,
  svidExpiresAt,
});
const exited = (child: Child, code: number | null = 1): Ev => ({
  type: 'child-exited',
  child,
  code,
  signal: code === null ? 'SIGKILL' : null,
});
const registered: Ev = { type: 'step-done', step: { name: 'register-entries', agent: null } };
const refused = (child: Child, refusal: 'token-rejected' | 'token-expired' = 'token-rejected'): Ev => ({
  type: 'token-refused',
  child,
  refusal,
});
const fire = (state: MachineState): Ev => ({
  type: 'timer-fired',
  key: 'pending',
  dueAt: state.pending?.dueAt ?? -1,
});
const deadline = (state: MachineState, child: Child): Ev => ({
  type: 'timer-fired',
  key: `deadline:${child}`,
  dueAt: state.children[child].deadlineAt ?? -1,
});

const startEffects = (child: Child, withToken: boolean, at: number): Effect[] => [
  { type: 'start-child', child, withToken },
  {
    type: 'set-timer',
    key: `deadline:${child}`,
    dueAt: at + POLICY.readyTimeoutMs[child],
    afterMs: POLICY.readyTimeoutMs[child],
  },
];

// Named states along the fresh bootstrap, each built from the previous one through real transitions.
const init = initialState(POLICY, T0);
const inspecting = through(init, { type: 'start' });
const acquiring = through(inspecting, inspected(up, 'missing'));
const writing = through(acquiring, acquired(up));
const startingUp = through(writing, written(up));
const consuming = through(startingUp, isReady(up));
const startingNested = through(consuming, released(up));
const registering = through(startingNested, isReady(nested));
const inspectingDown = through(registering, registered);
const acquiringDown = through(inspectingDown, inspected(down, 'missing'));
const startingDown = through(acquiringDown, acquired(down), written(down));
const consumingDown = through(startingDown, isReady(down));
const ready = through(consumingDown, released(down));

describe('the fresh bootstrap, step by step', () => {
  const rows: [string, MachineState, Ev, string, (s: MachineState) => Effect[]][] = [
    ['init', init, { type: 'start' }, 'inspect-identity', () => [{ type: 'inspect-identity', agent: up }]],
    [
      'inspect-identity',
      inspecting,
      inspected(up, 'missing'),
      'acquire-token',
      () => [{ type: 'acquire-token', agent: up }],
    ],
    ['acquire-token', acquiring, acquired(up), 'write-token', () => [{ type: 'write-token', agent: up }]],
    ['write-token', writing, written(up), 'start-upstream-agent', (s) => startEffects(up, true, s.since)],
    [
      'start-upstream-agent',
      startingUp,
      isReady(up),
      'consume-token',
      () => [
        { type: 'clear-timer', key: 'deadline:upstream-agent' },
        { type: 'release-token', agent: up, how: 'consumed', reason: null },
      ],
    ],
    [
      'consume-token',
      consuming,
      released(up),
      'start-nested-server',
      (s) => startEffects(nested, false, s.since),
    ],
    [
      'start-nested-server',
      startingNested,
      isReady(nested),
      'register-entries',
      () => [{ type: 'clear-timer', key: 'deadline:nested-server' }, { type: 'register-entries' }],
    ],
    [
      'register-entries',
      registering,
      registered,
      'start-downstream-agent',
      () => [{ type: 'inspect-identity', agent: down }],
    ],
    [
      'start-downstream-agent (inspect)',
      inspectingDown,
      inspected(down, 'missing'),
      'start-downstream-agent',
      () => [{ type: 'acquire-token', agent: down }],
    ],
    [
      'start-downstream-agent (token)',
      startingDown,
      isReady(down),
      'consume-token',
      () => [
        { type: 'clear-timer', key: 'deadline:downstream-agent' },
        { type: 'release-token', agent: down, how: 'consumed', reason: null },
      ],
    ],
    ['consume-token (downstream)', consumingDown, released(down), 'ready', () => [{ type: 'notify-ready' }]],
  ];
  it.each(rows.map(([from, state, event, phase, effects]) => ({ from, event, state, phase, effects })))(
    '$from + $event.type → $phase',
    ({ state, event, phase, effects }) => {
      const result = play(state, [event]);
      expect(result.state.phase).toBe(phase);
      expect(result.effects).toEqual(effects(result.state));
    },
  );

  it('ends ready with both tokens released and nothing pending', () => {
    expect(ready).toMatchObject({
      phase: 'ready',
      tokens: { [up]: null, [down]: null },
      pending: null,
      step: null,
      entriesRegistered: true,
      lastError: null,
    });
  });
});

describe('identity on disk', () => {
  it('never mints while the agent will load its SVID, even inside the safety margin', () => {
    for (const status of ['valid', 'expiring'] as const) {
      const r = play(inspecting, [inspected(up, status)]);
      expect(r.effects).toEqual(startEffects(up, false, r.state.since));
      expect(r.state.identity[up]?.status).toBe(status);
    }
  });

  it.each(['missing', 'expired', 'no-key'] as const)('asks for a token when the identity is %s', (status) => {
    expect(play(inspecting, [inspected(up, status)]).effects).toEqual([{ type: 'acquire-token', agent: up }]);
  });

  it('moves a corrupt identity aside before asking for a token, and says why', () => {
    const r = play(inspecting, [inspected(up, 'corrupt')]);
    expect(r.effects).toEqual([
      { type: 'set-aside-identity', agent: up, reason: 'identity corrupt' },
      { type: 'acquire-token', agent: up },
    ]);
    expect(r.state.lastError).toMatchObject({ code: 'identity-corrupt', message: 'identity corrupt' });
  });

  it('consumes a token file left beside the identity it attested, once the agent is ready', () => {
    const leftover = { source: 'file', fingerprint: 'aaaaaaaaaaaa', expiresAt: null };
    const r = run(inspecting, [
      inspected(up, 'valid', { tokenFile: leftover, attestedWith: 'aaaaaaaaaaaa' }),
    ]);
    expect(r.effects).toEqual([
      { type: 'release-token', agent: up, how: 'consumed', reason: 'left over after attestation' },
      ...startEffects(up, false, r.state.since),
    ]);
    // The agent does not get the token, and nothing else starts before the file is gone.
    const readyNoRelease = play(r.state, [isReady(up)]);
    expect(readyNoRelease.effects).toEqual([{ type: 'clear-timer', key: 'deadline:upstream-agent' }]);
    expect(play(readyNoRelease.state, [released(up)]).effects).toEqual(
      startEffects(nested, false, readyNoRelease.state.since + 10),
    );
  });

  it('discards a token file beside a valid identity that did not use it', () => {
    const leftover = { source: 'file', fingerprint: 'bbbbbbbbbbbb', expiresAt: null };
    const r = play(inspecting, [
      inspected(up, 'valid', { tokenFile: leftover, attestedWith: 'aaaaaaaaaaaa' }),
    ]);
    expect(r.effects[0]).toEqual({
      type: 'release-token',
      agent: up,
      how: 'discarded',
      reason: 'not needed: the agent holds a valid identity',
    });
  });

  it('inspects again after an upstream restart and asks for a token only once the identity expired', () => {
    const crashed = play(ready, [exited(up)]);
    const restarted = play(
      crashed.state,
      [fire(crashed.state)],
      crashed.state.pending!.dueAt - crashed.state.since,
    );
    expect(restarted.effects).toEqual([{ type: 'inspect-identity', agent: up }]);
    const stillValid = play(restarted.state, [inspected(up, 'valid')]);
    expect(stillValid.effects).toEqual(startEffects(up, false, stillValid.state.children[up].startedAt ?? 0));
    const expired = play(restarted.state, [inspected(up, 'expired')]);
    expect(expired.effects).toEqual([{ type: 'acquire-token', agent: up }]);
  });
});

describe('tokens refused by SPIRE', () => {
  it('releases a refused token of an agent already being stopped, without stopping it twice', () => {
    const late = play(startingUp, [deadline(startingUp, up)], POLICY.readyTimeoutMs[up]);
    expect(late.effects).toContainEqual({ type: 'stop-child', child: up, reason: 'ready-timeout' });
    const r = play(late.state, [refused(up)]);
    expect(r.effects).toEqual([
      {
        type: 'release-token',
        agent: up,
        how: 'rejected',
        reason: 'does not exist or has already been used',
      },
    ]);
    expect(r.state.children[up]).toMatchObject({ status: 'stopping', stopReason: 'ready-timeout' });
  });

  it('stops the agent at the first refusal, releases the token as rejected and acquires exactly one more', () => {
    const r = play(startingUp, [refused(up)]);
    expect(r.effects).toEqual([
      { type: 'stop-child', child: up, reason: 'token-refused' },
      {
        type: 'release-token',
        agent: up,
        how: 'rejected',
        reason: 'does not exist or has already been used',
      },
    ]);
    expect(r.state.lastError).toMatchObject({
      code: 'token-rejected',
      source: 'admin-api',
      message:
        'the SPIRE server refused the join token from admin-api (aaaaaaaaaaaa): it does not exist or has already been used',
    });
    // Its exit is not a crash: no restart counted, no backoff; once the token is gone, inspect and acquire.
    const next = run(r.state, [exited(up, 0), released(up), inspected(up, 'missing')]);
    expect(next.effects).toEqual([
      { type: 'clear-timer', key: 'deadline:upstream-agent' },
      { type: 'inspect-identity', agent: up },
      { type: 'acquire-token', agent: up },
    ]);
    expect(next.state.children[up]).toMatchObject({ restarts: 0, failures: 0 });
    expect(next.state.lastError?.code).toBe('token-rejected');
  });

  it('ignores a refusal line of an agent that started without a token, or a second one', () => {
    const noToken = through(inspecting, inspected(up, 'valid'));
    expect(play(noToken, [refused(up)]).effects).toEqual([]);
    const once = through(startingUp, refused(up));
    expect(play(once, [refused(up, 'token-expired')]).effects).toEqual([]);
  });

  it('replaces a downstream token the nested server refuses, with the same accounting', () => {
    const r = run(startingDown, [
      refused(down),
      released(down),
      exited(down, 0),
      inspected(down, 'missing'),
      acquired(down, { fingerprint: 'eeeeeeeeeeee' }),
    ]);
    expect(r.effects).toEqual([
      { type: 'stop-child', child: down, reason: 'token-refused' },
      {
        type: 'release-token',
        agent: down,
        how: 'rejected',
        reason: 'does not exist or has already been used',
      },
      { type: 'clear-timer', key: 'deadline:downstream-agent' },
      { type: 'inspect-identity', agent: down },
      { type: 'acquire-token', agent: down },
      { type: 'write-token', agent: down },
    ]);
    expect(r.state.mintedAt[down]).toHaveLength(2);
    expect(r.state.tokens[down]?.fingerprint).toBe('eeeeeeeeeeee');
  });

  it('discards an acquired token whose known expiry has passed instead of using it', () => {
    const r = play(acquiring, [acquired(up, { expiresAt: acquiring.since })]);
    expect(r.effects).toEqual([{ type: 'release-token', agent: up, how: 'discarded', reason: 'expired' }]);
    expect(r.state.lastError?.code).toBe('token-expired');
  });

  it('discards a pending token that expired while the agent waited for a restart', () => {
    const crashed = play(startingUp, [exited(up)]);
    const wait = crashed.state.pending!.dueAt - crashed.state.since;
    const expired = {
      ...crashed.state,
      tokens: {
        ...crashed.state.tokens,
        [up]: { ...crashed.state.tokens[up]!, expiresAt: crashed.state.since + 1 },
      },
    };
    expect(play(expired, [fire(crashed.state)], wait).effects).toEqual([
      { type: 'release-token', agent: up, how: 'discarded', reason: 'expired' },
    ]);
  });

  it('restarts a crashed agent with its unused token, without inspecting or acquiring again', () => {
    const crashed = play(startingUp, [exited(up)]);
    const r = play(crashed.state, [fire(crashed.state)], crashed.state.pending!.dueAt - crashed.state.since);
    expect(r.effects).toEqual(startEffects(up, true, r.state.since));
  });
});

describe('attestation', () => {
  it('releases the token the moment the agent logs its attestation, before it serves its socket', () => {
    const r = play(startingUp, [{ type: 'child-attested', child: up }]);
    expect(r.effects).toEqual([{ type: 'release-token', agent: up, how: 'consumed', reason: null }]);
    expect(r.state.phase).toBe('start-upstream-agent');
    // Once gone and the agent ready, the nested server starts without a consume step.
    const next = run(r.state, [released(up), isReady(up)]);
    expect(next.effects.at(-2)).toMatchObject({ type: 'start-child', child: nested });
  });

  it('ignores an attestation line of an agent that started without a token', () => {
    const noToken = through(inspecting, inspected(up, 'valid'));
    expect(play(noToken, [{ type: 'child-attested', child: up }]).effects).toEqual([]);
  });
});

describe('token accounting', () => {
  const limitReached = (state: MachineState) => state.lastError?.code === 'token-limit';

  it('stops at the hourly limit and resumes when the oldest request ages out', () => {
    const cycle: Ev[] = [
      acquired(up),
      written(up),
      refused(up),
      released(up),
      exited(up, 0),
      inspected(up, 'missing'),
    ];
    const r = run(acquiring, [...cycle, ...cycle, ...cycle], 1_000);
    expect(limitReached(r.state)).toBe(true);
    expect(r.state.pending).toEqual({
      timer: 'token-retry',
      agent: up,
      dueAt: acquiring.since + 1_000 + HOUR,
    });
    const resumed = play(r.state, [fire(r.state)], r.state.pending!.dueAt - r.state.since);
    expect(resumed.effects).toEqual([{ type: 'inspect-identity', agent: up }]);
  });

  it('counts a failed mint request that may have created a token (an unusable 201, a timeout)', () => {
    let state = acquiring;
    for (let i = 0; i < 3; i++) {
      state = through(
        state,
        tokenFailed(up, { code: 'protocol', message: 'admin API answered 201 without a token' }, 1),
      );
      state = through(state, fire(state), inspected(up, 'missing'));
    }
    expect(state.mintedAt[up]).toHaveLength(3);
    expect(limitReached(state)).toBe(true);
  });

  it('does not count requests that never reached a minting server', () => {
    let state = acquiring;
    for (let i = 0; i < 3; i++)
      state = through(state, tokenFailed(up), fire(state), inspected(up, 'missing'));
    state = through(state, tokenFailed(up));
    expect(state.mintedAt[up]).toEqual([]);
    expect(limitReached(state)).toBe(false);
  });

  it('keeps separate limits for the two agents', () => {
    const busyUp = {
      ...inspectingDown,
      mintedAt: {
        ...inspectingDown.mintedAt,
        [up]: [inspectingDown.since, inspectingDown.since, inspectingDown.since],
      },
    };
    expect(play(busyUp, [inspected(down, 'missing')]).effects).toEqual([
      { type: 'acquire-token', agent: down },
    ]);
  });
});

describe('retry delays', () => {
  const delayAfter = (ev: Ev, state = acquiring) => {
    const r = play(state, [ev]);
    return r.state.pending!.dueAt - r.state.since;
  };

  it('spreads a transient failure over the whole backoff (full jitter), Retry-After as a floor', () => {
    expect(delayAfter({ ...tokenFailed(up), rand: 0 })).toBe(0);
    expect(delayAfter({ ...tokenFailed(up), rand: 0.999 })).toBe(999);
    expect(delayAfter({ ...tokenFailed(up, { retryAfterMs: 30_000 }), rand: 0 })).toBe(30_000);
    // Spread above it by the backoff (1 s here) or a tenth of it, whichever is more.
    expect(delayAfter({ ...tokenFailed(up, { retryAfterMs: 30_000 }), rand: 0.5 })).toBe(31_500);
    expect(delayAfter({ ...tokenFailed(up, { retryAfterMs: 30_000 }), rand: 0.999 })).toBe(32_997);
    expect(delayAfter({ ...tokenFailed(up, { retryAfterMs: 2_000 }), rand: 0.5 })).toBe(2_500);
    // A Retry-After beyond the cap, or of 40 days, does not stop the daemon for longer than the cap allows.
    expect(delayAfter({ ...tokenFailed(up, { retryAfterMs: 40 * 86_400_000 }), rand: 0 })).toBe(60_000);
  });

  it('backs off transient failures to at most half a minute, however many came before', () => {
    let state = acquiring;
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      const failed = play(state, [{ ...tokenFailed(up), rand: 0.999 }]);
      waits.push((failed.state.pending?.dueAt ?? Number.NaN) - failed.state.since);
      state = through(failed.state, fire(failed.state), inspected(up, 'missing'));
    }
    expect(waits).toEqual([999, 1_998, 3_996, 7_992, 15_984, 29_970, 29_970, 29_970]);
    // A Retry-After above it is still honoured.
    const told = play(state, [{ ...tokenFailed(up, { retryAfterMs: 45_000 }), rand: 0 }]);
    expect((told.state.pending?.dueAt ?? Number.NaN) - told.state.since).toBe(45_000);
  });

  it.each([0, 0.5, 0.999])('waits for a person about the cap, never a fraction of it (rand %s)', (rand) => {
    const ms = delayAfter({ ...tokenFailed(up, { code: 'unauthorized', retryable: false }), rand });
    expect(ms).toBeGreaterThanOrEqual(0.8 * POLICY.tokenRetry.maxMs);
    expect(ms).toBeLessThanOrEqual(1.2 * POLICY.tokenRetry.maxMs);
  });

  it('shows in pending.dueAt exactly when the timer fires', () => {
    const r = play(acquiring, [{ ...tokenFailed(up), rand: 0.25 }]);
    expect(r.effects).toEqual([
      { type: 'set-timer', key: 'pending', dueAt: r.state.pending!.dueAt, afterMs: 250 },
    ]);
  });

  it.each([0, 0.999])('restarts a crashed child after its backoff ±20 percent (rand %s)', (rand) => {
    const r = play(ready, [{ ...exited(nested), rand }]);
    const ms = r.state.pending!.dueAt - r.state.since;
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(ms).toBeLessThanOrEqual(600);
  });

  const waitOf = (effects: Effect[]) => effects.find((e) => e.type === 'set-timer' && e.key === 'pending');

  it('doubles the restart delay on repeated crashes and starts over once a child was stable', () => {
    let state = ready;
    const delays: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const crash = play(state, [exited(nested)]);
      delays.push(waitOf(crash.effects));
      state = through(crash.state, fire(crash.state));
    }
    state = through(state, isReady(nested));
    expect(delays.map((d) => (d as { afterMs: number }).afterMs)).toEqual([500, 1_000, 2_000]);
    expect(state.phase).toBe('ready');
    const stable = play(state, [exited(nested)], POLICY.restartResetAfterMs);
    expect(waitOf(stable.effects)).toMatchObject({ afterMs: 500 });
  });
});

describe('readiness deadlines', () => {
  it('stops a child that misses its deadline, says what it waits for, and restarts it with backoff', () => {
    const r = play(startingNested, [deadline(startingNested, nested)], POLICY.readyTimeoutMs[nested]);
    expect(r.effects).toEqual([{ type: 'stop-child', child: nested, reason: 'ready-timeout' }]);
    expect(r.state.lastError).toMatchObject({
      code: 'ready-timeout',
      source: nested,
      message:
        'the nested-server did not become ready within 90 s; it waits for its SVID from the upstream agent',
    });
    // Our own SIGTERM's "exited with code 0" does not replace the cause.
    const down_ = play(r.state, [exited(nested, 0)]);
    expect(down_.state.lastError?.code).toBe('ready-timeout');
    expect(down_.state.children[nested]).toMatchObject({ status: 'waiting', restarts: 1 });
  });

  it('ignores a deadline that fires after the child got ready', () => {
    expect(play(registering, [deadline(startingNested, nested)]).effects).toEqual([]);
  });
});

describe('reload', () => {
  const changed = (children: Child[], entries = false, policy = POLICY): Ev => ({
    type: 'config-changed',
    children,
    entries,
    policy,
  });

  it('registers the entries again when they changed, without touching the children', () => {
    const r = play(ready, [changed([], true)]);
    expect(r.effects).toEqual([{ type: 'register-entries' }]);
    expect(play(r.state, [registered]).state.phase).toBe('ready');
  });

  it('restarts only the children whose config changed, without counting a crash or an error', () => {
    const r = run(ready, [changed([nested])]);
    expect(r.effects).toEqual([{ type: 'stop-child', child: nested, reason: 'reload' }]);
    const back = run(r.state, [exited(nested, 0)]);
    expect(back.effects).toEqual(startEffects(nested, false, back.state.since));
    expect(back.state.children[nested]).toMatchObject({ restarts: 0, failures: 0 });
    expect(back.state.lastError).toBeNull();
  });

  it('does not count a registration that was in flight when the entries changed', () => {
    const r = run(registering, [changed([], true), registered]);
    expect(r.effects).toEqual([{ type: 'register-entries' }]);
  });

  it('shows a rejected config as lastError and keeps running', () => {
    const f = failure({ step: 'reload', code: 'config', retryable: false, message: 'bad json' });
    const r = play(ready, [{ type: 'config-rejected', failure: f }]);
    expect(r.state.phase).toBe('ready');
    expect(r.state.lastError).toMatchObject({ step: 'reload', message: 'bad json' });
    expect(play(r.state, [changed([])]).state.lastError).toBeNull();
  });

  it('applies a new policy (limits, deadlines)', () => {
    const stricter = { ...POLICY, maxTokensPerHour: 1 };
    expect(play(ready, [changed([], false, stricter)]).state.policy.maxTokensPerHour).toBe(1);
  });
});

describe('degraded', () => {
  it('is a repair while the identity is still valid', () => {
    expect(play(ready, [exited(nested)]).state.phase).toBe('degraded');
  });

  it('is not shown while re-acquiring a token without a valid identity', () => {
    const r = run(ready, [exited(up)]);
    const expired = run(r.state, [fire(r.state), inspected(up, 'expired')]);
    expect(expired.state.phase).toBe('acquire-token');
  });

  it('returns to ready without notifying readiness again', () => {
    const r = run(ready, [exited(nested)]);
    const back = run(r.state, [fire(r.state), isReady(nested)]);
    expect(back.effects).not.toContainEqual({ type: 'notify-ready' });
    expect(back.state.phase).toBe('ready');
  });
});

describe('waits cut short and failed steps', () => {
  it('tries again at once when a token file arrives during a wait for a token', () => {
    const waiting = through(acquiring, tokenFailed(up, { code: 'no-token', retryable: false }));
    const r = play(waiting, [{ type: 'input-changed', input: 'token-file' }]);
    expect(r.effects).toEqual([
      { type: 'clear-timer', key: 'pending' },
      { type: 'inspect-identity', agent: up },
    ]);
  });

  it('does not cut a restart backoff short', () => {
    const waiting = through(ready, exited(nested));
    expect(play(waiting, [{ type: 'input-changed', input: 'token-file' }]).effects).toEqual([]);
  });

  it('retries a failed step after its backoff and shows its failure', () => {
    const f = failure({
      step: 'register-entries',
      source: nested,
      code: 'spire-unavailable',
      message: 'UNAVAILABLE',
    });
    const r = play(registering, [
      { type: 'step-failed', step: { name: 'register-entries', agent: null }, failure: f },
    ]);
    expect(r.state.phase).toBe('backoff');
    expect(r.state.lastError).toMatchObject({ code: 'spire-unavailable', phase: 'register-entries' });
    expect(play(r.state, [fire(r.state)], 500).effects).toEqual([{ type: 'register-entries' }]);
  });

  it('treats a child that could not be started like a crash, with its reason', () => {
    const f = failure({
      step: 'child',
      source: nested,
      code: 'spawn-failed',
      retryable: false,
      message: 'ENOENT',
    });
    const r = play(startingNested, [{ type: 'child-failed', child: nested, failure: f }]);
    expect(r.state.lastError).toMatchObject({ code: 'spawn-failed' });
    expect(r.state.children[nested]).toMatchObject({ status: 'waiting', restarts: 1 });
  });
});

describe('stopping', () => {
  it('stops the running children last-first and ignores everything but their exits', () => {
    const r = play(ready, [{ type: 'stop-requested' }]);
    expect(r.effects).toEqual([
      { type: 'clear-timers' },
      { type: 'stop-children', children: [down, nested, up] },
    ]);
    const later = run(r.state, [
      exited(up, 0),
      { type: 'start' },
      inspected(up, 'missing'),
      { type: 'stopped' },
    ]);
    expect(later.effects).toEqual([]);
    expect(later.state.phase).toBe('stopped');
  });

  it('writes a token whose mint completed during the stop to its file, where the next start finds it', () => {
    const r = run(acquiring, [{ type: 'stop-requested' }, acquired(up)]);
    expect(r.effects.at(-1)).toEqual({ type: 'write-token', agent: up });
    expect(r.state.phase).toBe('stopping');
  });

  it('stops only what runs', () => {
    expect(play(startingNested, [{ type: 'stop-requested' }]).effects[1]).toEqual({
      type: 'stop-children',
      children: [nested, up],
    });
    expect(play(acquiring, [{ type: 'stop-requested' }]).effects[1]).toEqual({
      type: 'stop-children',
      children: [],
    });
  });
});

it('keeps state plain and serialisable, and never mutates its input', () => {
  const frozen = JSON.parse(JSON.stringify(ready)) as MachineState;
  const snapshot = JSON.stringify(frozen);
  const result = play(frozen, [exited(nested)]);
  expect(JSON.stringify(frozen)).toBe(snapshot);
  expect(JSON.parse(JSON.stringify(result.state))).toEqual(result.state);
});
