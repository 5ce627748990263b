import { describe, expect, it } from 'vitest';
import {
  type Effect,
  initialState,
  type MachineEvent,
  type MachinePolicy,
  type MachineState,
  type Transition,
  transition,
} from '../../../src/daemon/machine.js';

const POLICY: MachinePolicy = {
  maxTokensPerHour: 3,
  tokenRetry: { initialMs: 1_000, maxMs: 60_000 },
  restart: { initialMs: 500, maxMs: 8_000 },
  restartResetAfterMs: 60_000,
};
const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

type Ev = MachineEvent extends infer E ? (E extends unknown ? Omit<E, 'at'> : never) : never;

/** Applies events one after another, each `dt` ms after the previous; returns the last transition. */
function play(from: MachineState, events: Ev[], dt = 10): Transition {
  let result: Transition = { state: from, effects: [] };
  let at = from.since;
  for (const event of events) {
    at += dt;
    result = transition(result.state, { ...event, at } as MachineEvent);
  }
  return result;
}
const after = (from: MachineState, ...events: Ev[]) => play(from, events).state;

const token = { source: 'admin-api', expiresAt: T0 + 15 * 60_000, fingerprint: 'sha256:ab12' };
const up = 'upstream-agent' as const;
const nested = 'nested-server' as const;
const down = 'downstream-agent' as const;

// Named states along both bootstrap paths, each built from the previous one through real transitions.
const init = initialState(POLICY, T0);
const inspecting = after(init, { type: 'start' });
const acquiring = after(inspecting, { type: 'identity-inspected', status: 'missing', reason: 'no file' });
const writing = after(acquiring, { type: 'token-acquired', ...token });
const startingUpWithToken = after(writing, { type: 'token-written' });
const startingUpNoToken = after(inspecting, { type: 'identity-inspected', status: 'valid', reason: 'ok' });
const consuming = after(startingUpWithToken, { type: 'child-ready', child: up });
const startingNested = after(consuming, { type: 'token-consumed' });
const registering = after(startingNested, { type: 'child-ready', child: nested });
const startingDown = after(registering, { type: 'entries-registered' });
const ready = after(startingDown, { type: 'child-ready', child: down });
const degraded = after(ready, { type: 'child-exited', child: nested, code: 1, reason: 'other' });
const tokenBackoff = after(acquiring, { type: 'token-failed', retryable: true, message: 'admin API: 503' });
const stopping = after(ready, { type: 'stop-requested' });
const stopped = after(stopping, { type: 'stopped' });

const restartTimer = (child: typeof up | typeof nested | typeof down, afterMs: number): Effect => ({
  type: 'schedule',
  afterMs,
  event: { type: 'timer-fired', timer: 'restart', child },
});

describe('transition: phase × event', () => {
  const rows: [string, MachineState, Ev, string, Effect[]][] = [
    ['init', init, { type: 'start' }, 'inspect-identity', [{ type: 'inspect-identity' }]],
    [
      'inspect-identity',
      inspecting,
      { type: 'identity-inspected', status: 'valid', reason: 'ok' },
      'start-upstream-agent',
      [{ type: 'start-child', child: up }],
    ],
    ...(['missing', 'expired', 'no-key', 'expiring'] as const).map(
      (status): [string, MachineState, Ev, string, Effect[]] => [
        'inspect-identity',
        inspecting,
        { type: 'identity-inspected', status, reason: 'r' },
        'acquire-token',
        [{ type: 'acquire-token' }],
      ],
    ),
    [
      'inspect-identity',
      inspecting,
      { type: 'identity-inspected', status: 'corrupt', reason: 'agent-data.json is not a JSON object' },
      'acquire-token',
      [
        { type: 'set-aside-identity', reason: 'agent-data.json is not a JSON object' },
        { type: 'acquire-token' },
      ],
    ],
    [
      'inspect-identity',
      inspecting,
      { type: 'step-failed', step: 'inspect-identity', message: 'EACCES' },
      'backoff',
      [
        {
          type: 'schedule',
          afterMs: 500,
          event: { type: 'timer-fired', timer: 'step-retry', step: 'inspect-identity' },
        },
      ],
    ],
    [
      'acquire-token',
      acquiring,
      { type: 'token-acquired', ...token },
      'write-token',
      [{ type: 'write-token' }],
    ],
    [
      'acquire-token',
      acquiring,
      { type: 'token-failed', retryable: true, message: 'admin API: 503' },
      'backoff',
      [{ type: 'schedule', afterMs: 1_000, event: { type: 'timer-fired', timer: 'token-retry' } }],
    ],
    [
      'acquire-token',
      acquiring,
      { type: 'token-failed', retryable: true, retryAfterMs: 30_000, message: 'admin API: 429' },
      'backoff',
      [{ type: 'schedule', afterMs: 30_000, event: { type: 'timer-fired', timer: 'token-retry' } }],
    ],
    [
      'acquire-token',
      acquiring,
      { type: 'token-failed', retryable: true, retryAfterMs: 0, message: 'admin API: 503, Retry-After: 0' },
      'backoff',
      [{ type: 'schedule', afterMs: 1_000, event: { type: 'timer-fired', timer: 'token-retry' } }],
    ],
    [
      'acquire-token',
      acquiring,
      {
        type: 'token-failed',
        retryable: true,
        retryAfterMs: 40 * 86_400_000,
        message: 'admin API: 429, 40 days',
      },
      'backoff',
      [{ type: 'schedule', afterMs: 60_000, event: { type: 'timer-fired', timer: 'token-retry' } }],
    ],
    [
      'acquire-token',
      acquiring,
      { type: 'token-failed', retryable: false, message: 'admin API refused the API key: 401' },
      'backoff',
      [{ type: 'schedule', afterMs: 60_000, event: { type: 'timer-fired', timer: 'token-retry' } }],
    ],
    [
      'backoff',
      tokenBackoff,
      { type: 'timer-fired', timer: 'token-retry' },
      'acquire-token',
      [{ type: 'acquire-token' }],
    ],
    ['backoff', tokenBackoff, { type: 'timer-fired', timer: 'restart', child: up }, 'backoff', []],
    [
      'write-token',
      writing,
      { type: 'token-written' },
      'start-upstream-agent',
      [{ type: 'start-child', child: up }],
    ],
    [
      'write-token',
      writing,
      { type: 'step-failed', step: 'write-token', message: 'ENOSPC' },
      'backoff',
      [
        {
          type: 'schedule',
          afterMs: 500,
          event: { type: 'timer-fired', timer: 'step-retry', step: 'write-token' },
        },
      ],
    ],
    [
      'start-upstream-agent (token)',
      startingUpWithToken,
      { type: 'child-ready', child: up },
      'consume-token',
      [{ type: 'consume-token' }],
    ],
    [
      'start-upstream-agent (token)',
      startingUpWithToken,
      { type: 'child-exited', child: up, code: 1, reason: 'token-rejected' },
      'acquire-token',
      [{ type: 'discard-token', reason: 'rejected' }, { type: 'acquire-token' }],
    ],
    [
      'start-upstream-agent (token)',
      startingUpWithToken,
      { type: 'child-exited', child: up, code: 1, reason: 'token-expired' },
      'acquire-token',
      [{ type: 'discard-token', reason: 'expired' }, { type: 'acquire-token' }],
    ],
    [
      'start-upstream-agent (token)',
      startingUpWithToken,
      { type: 'child-exited', child: up, code: 1, reason: 'other' },
      'backoff',
      [restartTimer(up, 500)],
    ],
    [
      'start-upstream-agent (valid identity)',
      startingUpNoToken,
      { type: 'child-ready', child: up },
      'start-nested-server',
      [{ type: 'start-child', child: nested }],
    ],
    [
      'start-upstream-agent (valid identity)',
      startingUpNoToken,
      { type: 'child-exited', child: up, code: 1, reason: 'token-rejected' },
      'backoff',
      [restartTimer(up, 500)],
    ],
    [
      'consume-token',
      consuming,
      { type: 'token-consumed' },
      'start-nested-server',
      [{ type: 'start-child', child: nested }],
    ],
    [
      'consume-token',
      consuming,
      { type: 'step-failed', step: 'consume-token', message: 'EROFS' },
      'start-nested-server',
      [{ type: 'start-child', child: nested }],
    ],
    [
      'start-nested-server',
      startingNested,
      { type: 'child-ready', child: nested },
      'register-entries',
      [{ type: 'register-entries' }],
    ],
    [
      'start-nested-server',
      startingNested,
      { type: 'child-exited', child: nested, code: 2, reason: 'other' },
      'backoff',
      [restartTimer(nested, 500)],
    ],
    [
      'start-nested-server',
      startingNested,
      { type: 'child-exited', child: up, code: 1, reason: 'other' },
      'backoff',
      [restartTimer(up, 500)],
    ],
    [
      'register-entries',
      registering,
      { type: 'entries-registered' },
      'start-downstream-agent',
      [{ type: 'start-child', child: down }],
    ],
    [
      'register-entries',
      registering,
      { type: 'step-failed', step: 'register-entries', message: 'UNAVAILABLE' },
      'backoff',
      [
        {
          type: 'schedule',
          afterMs: 500,
          event: { type: 'timer-fired', timer: 'step-retry', step: 'register-entries' },
        },
      ],
    ],
    [
      'start-downstream-agent',
      startingDown,
      { type: 'child-ready', child: down },
      'ready',
      [{ type: 'notify-ready' }],
    ],
    [
      'start-downstream-agent',
      startingDown,
      { type: 'child-exited', child: down, code: 1, reason: 'other' },
      'backoff',
      [restartTimer(down, 500)],
    ],
    [
      'ready',
      ready,
      { type: 'child-exited', child: nested, code: 1, reason: 'other' },
      'degraded',
      [restartTimer(nested, 500)],
    ],
    [
      'ready',
      ready,
      { type: 'child-exited', child: up, code: 1, reason: 'token-rejected' },
      'degraded',
      [restartTimer(up, 500)],
    ],
    ['ready', ready, { type: 'token-acquired', ...token }, 'ready', []],
    ['ready', ready, { type: 'child-ready', child: up }, 'ready', []],
    [
      'degraded',
      degraded,
      { type: 'timer-fired', timer: 'restart', child: nested },
      'degraded',
      [{ type: 'start-child', child: nested }],
    ],
    ['degraded', degraded, { type: 'timer-fired', timer: 'restart', child: down }, 'degraded', []],
    ['degraded', degraded, { type: 'child-exited', child: down, code: 1, reason: 'other' }, 'degraded', []],
    [
      'stop from ready',
      ready,
      { type: 'stop-requested' },
      'stopping',
      [{ type: 'cancel-timers' }, { type: 'stop-children', children: [down, nested, up] }],
    ],
    [
      'stop from degraded',
      degraded,
      { type: 'stop-requested' },
      'stopping',
      [{ type: 'cancel-timers' }, { type: 'stop-children', children: [down, up] }],
    ],
    [
      'stop from start-nested-server',
      startingNested,
      { type: 'stop-requested' },
      'stopping',
      [{ type: 'cancel-timers' }, { type: 'stop-children', children: [nested, up] }],
    ],
    [
      'stop from acquire-token',
      acquiring,
      { type: 'stop-requested' },
      'stopping',
      [{ type: 'cancel-timers' }, { type: 'stop-children', children: [] }],
    ],
    [
      'stop from init',
      init,
      { type: 'stop-requested' },
      'stopping',
      [{ type: 'cancel-timers' }, { type: 'stop-children', children: [] }],
    ],
    ['stopping', stopping, { type: 'child-exited', child: up, code: 0, reason: 'other' }, 'stopping', []],
    ['stopping', stopping, { type: 'stop-requested' }, 'stopping', []],
    ['stopping', stopping, { type: 'timer-fired', timer: 'token-retry' }, 'stopping', []],
    ['stopping', stopping, { type: 'stopped' }, 'stopped', []],
    ['stopped', stopped, { type: 'start' }, 'stopped', []],
    ['stopped', stopped, { type: 'stop-requested' }, 'stopped', []],
  ];
  const cases = rows.map(([from, state, event, phase, effects]) => {
    const { type, ...detail } = event;
    const label = Object.keys(detail).length > 0 ? `${type} ${JSON.stringify(detail)}` : type;
    return { from, label, state, event, phase, effects };
  });
  it.each(cases)('$from + $label → $phase', ({ state, event, phase, effects }) => {
    const result = play(state, [event]);
    expect(result.effects).toEqual(effects);
    expect(result.state.phase).toBe(phase);
  });
});

describe('transition: rules', () => {
  const all = (from: MachineState, events: Ev[]) => {
    const effects: Effect[] = [];
    let state = from;
    for (const event of events) {
      const result = play(state, [event]);
      effects.push(...result.effects);
      state = result.state;
    }
    return { state, effects };
  };

  it('never acquires a token while the identity on disk is valid, even across upstream restarts', () => {
    const { state, effects } = all(init, [
      { type: 'start' },
      { type: 'identity-inspected', status: 'valid', reason: 'ok' },
      { type: 'child-ready', child: up },
      { type: 'child-ready', child: nested },
      { type: 'entries-registered' },
      { type: 'child-ready', child: down },
      { type: 'child-exited', child: up, code: 1, reason: 'other' },
      { type: 'timer-fired', timer: 'restart', child: up },
      { type: 'identity-inspected', status: 'valid', reason: 'ok' },
      { type: 'child-ready', child: up },
    ]);
    expect(effects.map((e) => e.type)).not.toContain('acquire-token');
    expect(effects).toEqual([
      { type: 'inspect-identity' },
      { type: 'start-child', child: up },
      { type: 'start-child', child: nested },
      { type: 'register-entries' },
      { type: 'start-child', child: down },
      { type: 'notify-ready' },
      restartTimer(up, 500),
      { type: 'inspect-identity' },
      { type: 'start-child', child: up },
    ]);
    expect(state.phase).toBe('ready');
  });

  it('acquires a token after an upstream restart only when the identity is no longer valid', () => {
    const result = play(ready, [
      { type: 'child-exited', child: up, code: 1, reason: 'other' },
      { type: 'timer-fired', timer: 'restart', child: up },
      { type: 'identity-inspected', status: 'expired', reason: 'expired' },
    ]);
    expect(result.effects).toEqual([{ type: 'acquire-token' }]);
    expect(result.state.phase).toBe('degraded');
  });

  it('doubles the restart delay on repeated crashes and starts over once a child was stable', () => {
    const crash: Ev = { type: 'child-exited', child: nested, code: 1, reason: 'other' };
    const fire: Ev = { type: 'timer-fired', timer: 'restart', child: nested };
    const readyNested: Ev = { type: 'child-ready', child: nested };
    const delays = [crash, fire, crash, fire, crash, fire, readyNested].reduce<{
      s: MachineState;
      d: number[];
    }>(
      (acc, event) => {
        const r = play(acc.s, [event]);
        const sched = r.effects.find((e) => e.type === 'schedule');
        return { s: r.state, d: sched?.type === 'schedule' ? [...acc.d, sched.afterMs] : acc.d };
      },
      { s: ready, d: [] },
    );
    expect(delays.d).toEqual([500, 1_000, 2_000]);
    expect(delays.s.phase).toBe('ready');
    const stableCrash = play(delays.s, [crash], POLICY.restartResetAfterMs);
    expect(stableCrash.effects).toEqual([restartTimer(nested, 500)]);
  });

  it('returns from degraded to ready without notifying readiness again', () => {
    const result = play(degraded, [
      { type: 'timer-fired', timer: 'restart', child: nested },
      { type: 'child-ready', child: nested },
    ]);
    expect(result.effects).toEqual([]);
    expect(result.state.phase).toBe('ready');
  });

  it('stops acquiring replacement tokens at the hourly limit and resumes when the oldest ages out', () => {
    const reject: Ev = { type: 'child-exited', child: up, code: 1, reason: 'token-rejected' };
    const cycle: Ev[] = [{ type: 'token-acquired', ...token }, { type: 'token-written' }, reject];
    const limited = play(acquiring, [...cycle, ...cycle, ...cycle], 1_000);
    // Tokens acquired at +1 s, +4 s and +7 s (relative to `acquiring`); the limit of 3 is reached.
    const oldest = acquiring.since + 1_000;
    const at = acquiring.since + 9_000;
    expect(limited.effects).toEqual([
      { type: 'discard-token', reason: 'rejected' },
      { type: 'schedule', afterMs: oldest + HOUR - at, event: { type: 'timer-fired', timer: 'token-retry' } },
    ]);
    expect(limited.state.phase).toBe('backoff');
    expect(limited.state.lastError).toEqual({
      phase: 'start-upstream-agent',
      message: `join token limit reached: 3 tokens acquired in the last hour (max 3); next attempt at ${new Date(oldest + HOUR).toISOString()}`,
      at,
    });
    const resumed = play(limited.state, [{ type: 'timer-fired', timer: 'token-retry' }], oldest + HOUR - at);
    expect(resumed.effects).toEqual([{ type: 'acquire-token' }]);
  });

  it('records why a token was discarded, naming its source and fingerprint but not the token', () => {
    const result = play(startingUpWithToken, [
      { type: 'child-exited', child: up, code: 1, reason: 'token-rejected' },
    ]);
    expect(result.state.lastError?.message).toBe(
      'the SPIRE server refused the join token from admin-api (sha256:ab12): it does not exist or has already been used',
    );
    expect(result.state.token).toBeNull();
  });

  it('discards a token whose known expiry has passed instead of using it', () => {
    const stale = { ...token, expiresAt: acquiring.since };
    const result = play(acquiring, [{ type: 'token-acquired', ...stale }]);
    expect(result.effects).toEqual([{ type: 'discard-token', reason: 'expired' }, { type: 'acquire-token' }]);
    expect(result.state.lastError?.message).toBe(
      `the join token from admin-api (sha256:ab12) expired at ${new Date(acquiring.since).toISOString()}`,
    );
  });

  it('discards a pending token that expired while the upstream agent waited for a restart', () => {
    const result = play(
      startingUpWithToken,
      [
        { type: 'child-exited', child: up, code: 1, reason: 'other' },
        { type: 'timer-fired', timer: 'restart', child: up },
      ],
      token.expiresAt - T0,
    );
    expect(result.effects).toEqual([{ type: 'discard-token', reason: 'expired' }, { type: 'acquire-token' }]);
  });

  it('restarts the upstream agent with its unused token without inspecting or acquiring again', () => {
    const result = play(startingUpWithToken, [
      { type: 'child-exited', child: up, code: 1, reason: 'other' },
      { type: 'timer-fired', timer: 'restart', child: up },
    ]);
    expect(result.effects).toEqual([{ type: 'start-child', child: up }]);
  });

  it('retries a failed step after its backoff', () => {
    const result = play(registering, [
      { type: 'step-failed', step: 'register-entries', message: 'UNAVAILABLE' },
      { type: 'timer-fired', timer: 'step-retry', step: 'register-entries' },
    ]);
    expect(result.effects).toEqual([{ type: 'register-entries' }]);
    expect(result.state.phase).toBe('register-entries');
  });

  it('keeps since for the current phase and lastError for the status endpoint', () => {
    const result = play(
      acquiring,
      [{ type: 'token-failed', retryable: true, message: 'admin API: 503' }],
      250,
    );
    expect(result.state.since).toBe(acquiring.since + 250);
    expect(result.state.lastError).toEqual({
      phase: 'acquire-token',
      message: 'admin API: 503',
      at: acquiring.since + 250,
    });
    expect(result.state.pending).toEqual({ timer: 'token-retry', dueAt: acquiring.since + 1_250 });
  });

  it('keeps state plain and serialisable, and never mutates its input', () => {
    const frozen = JSON.parse(JSON.stringify(ready)) as MachineState;
    const snapshot = JSON.stringify(frozen);
    const result = play(frozen, [{ type: 'child-exited', child: nested, code: 1, reason: 'other' }]);
    expect(JSON.stringify(frozen)).toBe(snapshot);
    expect(JSON.parse(JSON.stringify(result.state))).toEqual(result.state);
  });
});
