import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { initialState, type MachineState } from '../../../src/daemon/machine.js';
import { buildStatus, maskJoinTokenIds, readiness } from '../../../src/observability/status.js';
import { TEST_POLICY } from '../../fixtures/policy.js';

const TOKEN = '8c4a0b5e-1f2d-4c3b-9a8e-7d6f5e4c3b2a';
const FP = createHash('sha256').update(TOKEN).digest('hex').slice(0, 12);
const AGENT_ID = `spiffe://carverauto.dev/spire/agent/join_token/${TOKEN}`;
const MASKED_ID = `spiffe://carverauto.dev/spire/agent/join_token/${FP}…`;
const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

describe('maskJoinTokenIds', () => {
  it.each([
    [AGENT_ID, MASKED_ID],
    [`parent ${AGENT_ID}: not found`, `parent ${MASKED_ID}: not found`],
    [`"${AGENT_ID}"`, `"${MASKED_ID}"`],
    [`${AGENT_ID}/extra`, `${MASKED_ID}/extra`],
    ['spiffe://carverauto.dev/services/poller', 'spiffe://carverauto.dev/services/poller'],
    [MASKED_ID, MASKED_ID],
  ])('%s → %s', (text, expected) => {
    expect(maskJoinTokenIds(text)).toBe(expected);
  });
});

describe('buildStatus', () => {
  const base = initialState(TEST_POLICY, T0);
  const machine: MachineState = {
    ...base,
    phase: 'backoff',
    pending: { timer: 'token-retry', agent: 'upstream-agent', dueAt: T0 + 300_000 },
    children: {
      ...base.children,
      'upstream-agent': { ...base.children['upstream-agent'], status: 'crashed', restarts: 2, startedAt: T0 },
    },
    identity: {
      ...base.identity,
      'upstream-agent': { status: 'expiring', reason: 'inside the margin', at: T0, expiresAt: T0 + 60_000 },
    },
    tokens: {
      ...base.tokens,
      'upstream-agent': {
        source: 'admin-api',
        fingerprint: FP,
        expiresAt: T0 + 900_000,
        leftover: false,
        release: null,
      },
    },
    lastError: {
      step: 'acquire-token',
      source: 'admin-api',
      code: 'unauthorized',
      retryable: false,
      retryAfterMs: null,
      message: `agent ${AGENT_ID} refused`,
      hint: 'check the credential',
      phase: 'acquire-token',
      at: T0,
    },
  };
  const status = buildStatus({
    machine,
    pids: { 'upstream-agent': 4242 },
    identity: { 'upstream-agent': { spiffeId: AGENT_ID, expiresAt: T0 + 60_000 } },
    version: '0.1.0',
  });

  it('shows the whole error, the real due time of the wait, the children and the tokens by fingerprint', () => {
    expect(status).toMatchObject({
      phase: 'backoff',
      ready: false,
      pending: { timer: 'token-retry', agent: 'upstream-agent', dueAt: '2025-01-02T03:09:05.000Z' },
      lastError: {
        step: 'acquire-token',
        source: 'admin-api',
        code: 'unauthorized',
        retryable: false,
        retryAfterMs: null,
        message: `agent ${MASKED_ID} refused`,
        hint: 'check the credential',
        phase: 'acquire-token',
        at: '2025-01-02T03:04:05.000Z',
      },
      tokens: {
        'upstream-agent': { source: 'admin-api', fingerprint: FP, expiresAt: '2025-01-02T03:19:05.000Z' },
      },
    });
    expect(status.children[0]).toEqual({
      name: 'upstream-agent',
      status: 'crashed',
      pid: 4242,
      restarts: 2,
      startedAt: '2025-01-02T03:04:05.000Z',
      readyAt: null,
      readyDeadline: null,
    });
    expect(status.identity['upstream-agent']).toEqual({
      spiffeId: MASKED_ID,
      expiresAt: '2025-01-02T03:05:05.000Z',
      status: 'expiring',
      reason: 'inside the margin',
    });
  });

  it('never contains the raw token', () => {
    expect(JSON.stringify(status)).not.toContain(TOKEN);
  });

  it.each([
    ['ready', true, 'ready'],
    ['degraded', false, 'phase degraded since 2025-01-02T03:04:05.000Z'],
    ['start-nested-server', false, 'phase start-nested-server since 2025-01-02T03:04:05.000Z'],
  ] as const)('readiness in %s', (phase, ready, reason) => {
    expect(readiness({ phase, since: T0 })).toEqual({ ready, reason });
  });
});
