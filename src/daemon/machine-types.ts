// The bootstrap state machine's data: phases, state, events and effects (DESIGN.md §3). Everything here is plain,
// JSON-serialisable data; times are epoch milliseconds and random draws are supplied by the runner in each event.
import type { Backoff } from '../config/types.js';
import type { IdentityStatus } from '../spire/identity.js';

export type { Backoff };

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

/** The children that attest with a join token. */
export const AGENTS = ['upstream-agent', 'downstream-agent'] as const;
export type Agent = (typeof AGENTS)[number];

export const isAgent = (child: Child): child is Agent => child !== 'nested-server';

/** The runner's steps that occupy the machine one at a time (child starts are tracked in `children`). */
export type StepName = 'inspect-identity' | 'acquire-token' | 'write-token' | 'register-entries';
export interface Step {
  name: StepName;
  /** The agent a token or identity step is for; null for register-entries. */
  agent: Agent | null;
}

export interface MachinePolicy {
  /** Tokens acquired or possibly minted per agent in any sliding hour; beyond it the daemon waits. */
  maxTokensPerHour: number;
  tokenRetry: Backoff;
  /** Also used to retry a failed step (writing the token, registering entries). */
  restart: Backoff;
  /** A child that stayed ready this long starts over at restart.initialMs when it next exits. */
  restartResetAfterMs: number;
  /** How long each child may take from spawn to ready before it is restarted. */
  readyTimeoutMs: Record<Child, number>;
  /** What each child waits for while starting, for the message when its deadline passes. */
  waitingFor: Record<Child, string>;
}

/**
 * One failure, as stored in `lastError` and shown whole by /status. Every field is always present (null when it
 * does not apply) so that metrics, alerts and `/status` read fields and never parse the message.
 */
export interface Failure {
  /** The step or activity that failed: a step name, 'child' (a supervised process), 'reload'. */
  step: StepName | 'child' | 'reload' | 'release-token';
  /** The token source or child concerned. */
  source: string | null;
  /** A stable, machine-readable cause, e.g. 'unauthorized', 'token-rejected', 'ready-timeout', 'io'. */
  code: string;
  /** False when waiting alone will not fix it: a person must act (credentials, configuration, a file). */
  retryable: boolean;
  retryAfterMs: number | null;
  /** One line, no secret. */
  message: string;
  /** What to do about it, when known. */
  hint: string | null;
}

export interface BootstrapError extends Failure {
  /** The phase the machine was in when it happened. */
  phase: Phase;
  at: number;
}

export interface TokenInfo {
  source: string;
  /** Epoch ms; null when the source does not say. */
  expiresAt: number | null;
  /** A non-secret digest for logs and status. */
  fingerprint: string;
  /** Found on disk while the agent already held a valid identity (a crash between attestation and consume). */
  leftover: boolean;
  /** Set once the token is being consumed or discarded; the agent is not started again until it is gone. */
  release: TokenRelease | null;
}

export interface TokenRelease {
  how: 'consumed' | 'rejected' | 'discarded';
  reason: string | null;
}

export interface IdentityInfo {
  status: IdentityStatus;
  reason: string;
  at: number;
  /** When the SVID on disk expires, if there is one. */
  expiresAt: number | null;
}

/** Why the machine stopped a child: its token was refused, its config changed, it missed its deadline, or an
 * input it was failing on (the trust bundle) changed. */
export type StopReason = 'token-refused' | 'reload' | 'ready-timeout' | 'input-changed';

export interface ChildState {
  /** 'stopped': may be started now; 'crashed': must wait out a backoff first ('waiting' while it runs). */
  status: 'stopped' | 'crashed' | 'waiting' | 'starting' | 'ready' | 'stopping';
  /** Exits since the child was last stable; drives the restart backoff. */
  failures: number;
  /** Restarts after a crash or a missed deadline (not reloads). */
  restarts: number;
  startedAt: number | null;
  readyAt: number | null;
  /** While starting: when the readiness deadline passes. */
  deadlineAt: number | null;
  /** Why the machine asked the child to stop, if it did; the first reason wins. */
  stopReason: StopReason | null;
  /** Whether the running config carries a join token (only such an agent can have a token refused). */
  withToken: boolean;
  /** What this run's own log lines said went wrong, if anything (src/spire/causes.ts). */
  cause: Failure | null;
}

/** What the machine waits for in 'backoff', and until when (for status and the timer). */
export type Pending =
  | { timer: 'token-retry'; agent: Agent; dueAt: number }
  | { timer: 'step-retry'; step: Step; dueAt: number }
  | { timer: 'restart'; child: Child; dueAt: number };

/** Timers the runner keeps: the one pending wait, and a readiness deadline per starting child. */
export type TimerKey = 'pending' | `deadline:${Child}`;

export interface MachineState {
  phase: Phase;
  /** When the current phase was entered. */
  since: number;
  lastError: BootstrapError | null;
  identity: Record<Agent, IdentityInfo | null>;
  /** Each agent's token between acquisition and release. */
  tokens: Record<Agent, TokenInfo | null>;
  /** When tokens were acquired or possibly minted in the last hour, per agent (rate limit). */
  mintedAt: Record<Agent, number[]>;
  tokenFailures: Record<Agent, number>;
  /** The runner's step in flight. */
  step: Step | null;
  stepFailures: number;
  children: Record<Child, ChildState>;
  entriesRegistered: boolean;
  /** The configuration changed while a registration was in flight: that registration does not count. */
  entriesStale: boolean;
  /** Set on first reaching 'ready'. */
  readyAt: number | null;
  pending: Pending | null;
  policy: MachinePolicy;
}

/** What an agent's output said about its join token (src/daemon/machine-agent-output.ts). */
export type TokenRefusal = 'token-rejected' | 'token-expired';

export type EventBody =
  | { type: 'start' }
  | {
      type: 'identity-inspected';
      agent: Agent;
      status: IdentityStatus;
      reason: string;
      expiresAt: number | null;
      /** The fingerprint of the token in the SVID's agent ID (…/join_token/<token>), if it is a join-token ID. */
      attestedWith: string | null;
      /** A token file found beside the identity. */
      tokenFile: { source: string; fingerprint: string; expiresAt: number | null } | null;
    }
  | {
      type: 'token-acquired';
      agent: Agent;
      source: string;
      expiresAt: number | null;
      fingerprint: string;
      /** Requests of this acquisition that may have created a token in the cluster (rate limit). */
      mints: number;
    }
  | { type: 'token-failed'; agent: Agent; failure: Failure; mints: number }
  | { type: 'token-released'; agent: Agent; failure: Failure | null }
  | { type: 'step-done'; step: Step }
  | { type: 'step-failed'; step: Step; failure: Failure }
  | { type: 'child-ready'; child: Child; svidExpiresAt: number | null }
  | { type: 'child-exited'; child: Child; code: number | null; signal: string | null }
  | { type: 'child-failed'; child: Child; failure: Failure }
  | { type: 'token-refused'; child: Child; refusal: TokenRefusal }
  /** The agent logged that the server accepted its node attestation: the token is used up. */
  | { type: 'child-attested'; child: Child }
  | { type: 'child-reported'; child: Child; failure: Failure }
  | { type: 'config-changed'; children: Child[]; entries: boolean; policy: MachinePolicy }
  | { type: 'config-rejected'; failure: Failure }
  | { type: 'input-changed'; input: 'token-file' | 'trust-bundle' }
  | { type: 'stop-requested' }
  | { type: 'stopped' }
  | { type: 'timer-fired'; key: TimerKey; dueAt: number };

/** `at` is the runner's clock; `rand` a uniform draw in [0, 1) from which the machine decides jitter. */
export type MachineEvent = EventBody & { at: number; rand: number };

export type Effect =
  | { type: 'inspect-identity'; agent: Agent }
  | { type: 'set-aside-identity'; agent: Agent; reason: string }
  | { type: 'acquire-token'; agent: Agent }
  | { type: 'write-token'; agent: Agent }
  | { type: 'release-token'; agent: Agent; how: TokenRelease['how']; reason: string | null }
  | { type: 'start-child'; child: Child; withToken: boolean }
  | { type: 'stop-child'; child: Child; reason: StopReason }
  | { type: 'register-entries' }
  | { type: 'notify-ready' }
  | { type: 'set-timer'; key: TimerKey; dueAt: number; afterMs: number }
  | { type: 'clear-timer'; key: TimerKey }
  | { type: 'clear-timers' }
  | { type: 'stop-children'; children: Child[] };

export interface Transition {
  state: MachineState;
  effects: Effect[];
}
