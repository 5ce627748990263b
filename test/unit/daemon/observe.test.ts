import { describe, expect, it } from 'vitest';
import { initialState, type MachineEvent, type MachineState } from '../../../src/daemon/machine.js';
import { createObserver } from '../../../src/daemon/observe.js';
import type { AuditEvent } from '../../../src/observability/audit.js';
import type { Metrics } from '../../../src/observability/metrics.js';
import { TEST_POLICY } from '../../fixtures/policy.js';

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

const base = initialState(TEST_POLICY, 0);
const up = (s: MachineState, change: Partial<MachineState['children']['upstream-agent']>): MachineState => ({
  ...s,
  children: { ...s.children, 'upstream-agent': { ...s.children['upstream-agent'], ...change } },
});
const token = {
  source: 'admin-api',
  expiresAt: null,
  fingerprint: 'abcdefabcdef',
  leftover: false,
  release: null,
};
const withToken = (s: MachineState, t: MachineState['tokens']['upstream-agent']): MachineState => ({
  ...s,
  tokens: { ...s.tokens, 'upstream-agent': t },
});
const ev = (e: Record<string, unknown>) => ({ at: 5, rand: 0.5, ...e }) as MachineEvent;

describe('createObserver', () => {
  it('counts a restart when the machine counts one', () => {
    const { calls, observer } = recorder();
    const event = ev({ type: 'child-exited', child: 'upstream-agent', code: 1, signal: null });
    observer.transition(up(base, { status: 'ready' }), up(base, { status: 'waiting', restarts: 1 }), event);
    expect(calls).toContain('childRestart("upstream-agent")');
    expect(calls).toContain('childUp("upstream-agent",false)');
  });

  it('counts no restart for a child stopped for a reload', () => {
    const { calls, observer } = recorder();
    const event = ev({ type: 'child-exited', child: 'upstream-agent', code: 0, signal: null });
    observer.transition(
      up(base, { status: 'stopping', stopReason: 'reload' }),
      up(base, { status: 'stopped' }),
      event,
    );
    expect(calls.filter((c) => c.startsWith('childRestart'))).toEqual([]);
  });

  it('records a successful attempt when the agent gets ready with a fresh token, and the bootstrap duration once', () => {
    const { calls, observer } = recorder();
    const before = withToken(up(base, { status: 'starting', withToken: true }), token);
    const after = { ...up(before, { status: 'ready' }), phase: 'ready' as const, readyAt: 4_000 };
    observer.transition(
      before,
      after,
      ev({ type: 'child-ready', child: 'upstream-agent', svidExpiresAt: null, at: 4_000 }),
    );
    expect(calls).toEqual(
      expect.arrayContaining([
        'bootstrapAttempt("success")',
        'ready(4000)',
        'bootstrapDuration(3)',
        'setPhase("ready")',
      ]),
    );
  });

  it('records a failed attempt when the server refuses the token, and the file gone once it is released', () => {
    const { calls, observer } = recorder();
    const before = withToken(up(base, { status: 'starting', withToken: true }), token);
    const refused = withToken(before, { ...token, release: { how: 'rejected', reason: 'x' } });
    observer.transition(
      before,
      refused,
      ev({ type: 'token-refused', child: 'upstream-agent', refusal: 'token-rejected' }),
    );
    expect(calls).toContain('bootstrapAttempt("failure")');
    observer.transition(
      refused,
      withToken(refused, null),
      ev({ type: 'token-released', agent: 'upstream-agent', failure: null }),
    );
    expect(calls).toContain('tokenFilePresent(false)');
  });

  it('says when an agent starts inside the safety margin', () => {
    const { calls, observer } = recorder();
    const identity = { status: 'expiring' as const, reason: 'r', at: 1, expiresAt: 2 };
    const after = { ...base, identity: { ...base.identity, 'upstream-agent': identity } };
    observer.transition(base, after, ev({ type: 'identity-inspected', agent: 'upstream-agent' }));
    expect(calls).toContain('identityExpiring("upstream-agent",true)');
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
