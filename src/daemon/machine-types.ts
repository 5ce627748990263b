// The bootstrap state machine's data: phases, state, events and effects (DESIGN.md §3). Everything here is plain,
// JSON-serialisable data; times are epoch milliseconds supplied by the runner in each event.
import type { IdentityStatus } from '../spire/identity.js';

export type Phase =
  | 'init'
  | 'inspect-identity'
  | 'acquire-token'
  | 'write-token'
  | 'start-upstream-agent'
  | 'consume-token'
  | 'start-nested-server'
  | 'register-entries'
  | 'start-downstream-agent'
  | 'backoff'
  | 'ready'
  | 'degraded'
  | 'stopping'
  | 'stopped';

/** In start order; stopping goes the other way. */
export const CHILDREN = ['upstream-agent', 'nested-server', 'downstream-agent'] as const;
export type Child = (typeof CHILDREN)[number];

export type ExitReason = 'token-rejected' | 'token-expired' | 'other';
/** Steps the runner performs one at a time; a failure is reported with 'step-failed' (tokens: 'token-failed'). */
export type Step = 'inspect-identity' | 'write-token' | 'consume-token' | 'register-entries';

/** Delays double from initialMs up to maxMs. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export interface MachinePolicy {
  /** Tokens acquired in any sliding hour; beyond it the daemon waits rather than burn more. */
  maxTokensPerHour: number;
  tokenRetry: Backoff;
  /** Also used to retry a failed step (writing the token, registering entries). */
  restart: Backoff;
  /** A child that stayed ready this long starts over at restart.initialMs when it next exits. */
  restartResetAfterMs: number;
}

export interface TokenInfo {
  source: string;
  /** Epoch ms; null when the source does not say. */
  expiresAt: number | null;
  /** A non-secret digest for logs and status. */
  fingerprint: string;
}

export interface ChildState {
  /** 'stopped': may be started now; 'crashed': must wait out a backoff first ('waiting' while it runs). */
  status: 'stopped' | 'crashed' | 'waiting' | 'starting' | 'ready';
  /** Exits since the child was last stable; drives the restart backoff. */
  failures: number;
  readyAt: number | null;
}

export type TimerEvent =
  | { type: 'timer-fired'; timer: 'token-retry'; at: number }
  | { type: 'timer-fired'; timer: 'step-retry'; step: Step; at: number }
  | { type: 'timer-fired'; timer: 'restart'; child: Child; at: number };

/** What the machine is waiting for in 'backoff', and until when (for status). */
export type Pending =
  | { timer: 'token-retry'; dueAt: number }
  | { timer: 'step-retry'; step: Step; dueAt: number }
  | { timer: 'restart'; child: Child; dueAt: number };

export interface MachineState {
  phase: Phase;
  /** When the current phase was entered. */
  since: number;
  lastError: { phase: Phase; message: string; at: number } | null;
  identity: { status: IdentityStatus; reason: string; at: number } | null;
  /** The token written for the upstream agent and not yet consumed or discarded. */
  token: TokenInfo | null;
  /** When each token of the last hour was acquired (rate limit). */
  tokensAcquiredAt: number[];
  tokenFailures: number;
  /** The runner's step in flight (children starting are tracked in `children`). */
  step: Step | 'acquire-token' | null;
  stepFailures: number;
  children: Record<Child, ChildState>;
  entriesRegistered: boolean;
  /** Set on first reaching 'ready'; later outages are 'degraded'. */
  readyAt: number | null;
  pending: Pending | null;
  policy: MachinePolicy;
}

export type MachineEvent =
  | { type: 'start'; at: number }
  | { type: 'identity-inspected'; status: IdentityStatus; reason: string; at: number }
  | { type: 'token-acquired'; source: string; expiresAt: number | null; fingerprint: string; at: number }
  | { type: 'token-failed'; retryable: boolean; retryAfterMs?: number; message: string; at: number }
  | { type: 'token-written'; at: number }
  | { type: 'token-consumed'; at: number }
  | { type: 'entries-registered'; at: number }
  | { type: 'step-failed'; step: Step; message: string; at: number }
  | { type: 'child-ready'; child: Child; at: number }
  | { type: 'child-exited'; child: Child; code: number | null; reason: ExitReason; at: number }
  | { type: 'stop-requested'; at: number }
  | { type: 'stopped'; at: number }
  | TimerEvent;

/** An event as the runner produces it; the dispatcher stamps `at`. */
export type WithoutAt<E> = E extends unknown ? Omit<E, 'at'> : never;

export type Effect =
  | { type: 'inspect-identity' }
  | { type: 'set-aside-identity'; reason: string }
  | { type: 'acquire-token' }
  | { type: 'write-token' }
  | { type: 'discard-token'; reason: 'rejected' | 'expired' }
  | { type: 'consume-token' }
  | { type: 'start-child'; child: Child }
  | { type: 'register-entries' }
  | { type: 'notify-ready' }
  | { type: 'schedule'; afterMs: number; event: WithoutAt<TimerEvent> }
  | { type: 'cancel-timers' }
  | { type: 'stop-children'; children: Child[] };

export interface Transition {
  state: MachineState;
  effects: Effect[];
}
