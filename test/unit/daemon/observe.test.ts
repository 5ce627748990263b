import { describe, expect, it } from 'vitest';
import { initialState, type MachineEvent, type MachineState } from '../../../src/daemon/machine.js';
import { createObserver } from '../../../src/daemon/observe.js';
import type { AuditEvent } from '../../../src/observability/audit.js';
import type { Metrics } from '../../../src/observability/metrics.js';

const policy = {
  maxTokensPerHour: 6,
  tokenRetry: { initialMs: 1000, maxMs: 300_000 },
  restart: { initialMs: 500, maxMs: 60_000 },
  restartResetAfterMs: 60_000,
};

function recorder() {
  const calls: string[] = [];
  const audit: AuditEvent[] = [];
  const metrics = new Proxy({} as Metrics, {
    get:
      (_t, name: string) =>
      (...args: unknown[]) =>
        calls.push(`${name}(${args.map((a) => JSON.stringify(a)).join(',')})`),
  });
  const observer = createObserver(metrics, { record: async (e) => void audit.push(e) }, 'td', 1_000);
  return { calls, audit, observer };
}

const base = initialState(policy, 0);
const withChild = (
  s: MachineState,
  status: MachineState['children']['upstream-agent']['status'],
): MachineState => ({
  ...s,
  children: { ...s.children, 'upstream-agent': { ...s.children['upstream-agent'], status } },
});
const token = { source: 'admin-api', expiresAt: null, fingerprint: 'abcdefabcdef' };

describe('createObserver', () => {
  it('counts a restart when a running child exits into its restart wait', () => {
    const { calls, observer } = recorder();
    const event: MachineEvent = {
      type: 'child-exited',
      child: 'upstream-agent',
      code: 1,
      reason: 'other',
      at: 5,
    };
    observer.transition(withChild(base, 'ready'), withChild(base, 'waiting'), event);
    expect(calls).toContain('childRestart("upstream-agent")');
    expect(calls).toContain('childUp("upstream-agent",false)');
  });

  it('counts no restart for a child that was stopped on purpose', () => {
    const { calls, observer } = recorder();
    const event: MachineEvent = {
      type: 'child-exited',
      child: 'upstream-agent',
      code: 0,
      reason: 'other',
      at: 5,
    };
    observer.transition(withChild(base, 'ready'), withChild(base, 'stopped'), event);
    expect(calls.filter((c) => c.startsWith('childRestart'))).toEqual([]);
  });

  it('records a successful attempt when the agent gets ready with a fresh token, and the bootstrap duration once', () => {
    const { calls, observer } = recorder();
    const before = { ...withChild(base, 'starting'), token };
    const after = { ...withChild(base, 'ready'), phase: 'ready' as const, readyAt: 4_000 };
    observer.transition(before, after, { type: 'child-ready', child: 'upstream-agent', at: 4_000 });
    expect(calls).toEqual(
      expect.arrayContaining([
        'bootstrapAttempt("success")',
        'ready(4000)',
        'bootstrapDuration(3)',
        'setPhase("ready")',
      ]),
    );
  });

  it('records a failed attempt when the server refuses the token', () => {
    const { calls, observer } = recorder();
    const before = { ...withChild(base, 'starting'), token };
    const event: MachineEvent = {
      type: 'child-exited',
      child: 'upstream-agent',
      code: 1,
      reason: 'token-rejected',
      at: 9,
    };
    observer.transition(before, { ...withChild(base, 'stopped'), token: null }, event);
    expect(calls).toEqual(expect.arrayContaining(['bootstrapAttempt("failure")', 'tokenFilePresent(false)']));
  });

  it('audits a refused token as rejected, by fingerprint only', () => {
    const { audit, observer } = recorder();
    observer.tokenReleased({ source: 'file', fingerprint: 'abcdefabcdef' }, 'rejected', 'rejected');
    expect(audit).toEqual([
      {
        kind: 'token-rejected',
        source: 'file',
        fingerprint: 'abcdefabcdef',
        trustDomain: 'td',
        reason: 'rejected',
      },
    ]);
  });
});
