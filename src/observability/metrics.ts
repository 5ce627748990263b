// The daemon's Prometheus metrics, on a registry of its own (the global one would mix in whatever a dependency
// registers). Callers use the typed helpers; label values outside the fixed sets are recorded as 'other'.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RouteHandler } from './http.js';
import {
  ATTEMPT_RESULTS,
  type AttemptResult,
  CHILD_FAILURE_REASONS,
  CHILDREN,
  type Child,
  IDENTITIES,
  type Identity,
  PHASES,
  type Phase,
  pick,
  RECONCILE_ACTIONS,
  type ReconcileAction,
  TOKEN_RESULTS,
  TOKEN_SOURCES,
  type TokenResult,
  type TokenSourceName,
  versionLabel,
} from './metrics-labels.js';
import { processMetrics } from './process-metrics.js';

export const METRICS_PREFIX = 'poller_bootstrap_';

/** 10 ms (a file read) to 60 s (an admin API behind a slow proxy, at its timeout). */
export const TOKEN_DURATION_BUCKETS: readonly number[] = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

export interface MetricsOptions {
  /** The daemon's own version. */
  version: string;
  /** The SPIRE version the configs are rendered for. */
  spireVersion: string;
  /** Process metrics (CPU, memory, event loop); on by default. */
  defaultMetrics?: boolean;
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  setPhase(phase: Phase): void;
  tokenRequest(source: TokenSourceName, result: TokenResult, seconds: number): void;
  childUp(child: Child, up: boolean): void;
  childRestart(child: Child): void;
  /** A child failed for `reason` (a named cause, or how it ended). */
  childFailure(child: Child, reason: string): void;
  /** null (unknown or no SVID) removes the series, so no expiry alert can fire on a stale value. */
  identityExpiry(identity: Identity, expiresAt: Date | number | null): void;
  /** 1 while an agent runs on an SVID inside the safety margin (it must rotate soon, or re-attest). */
  identityExpiring(identity: Identity, expiring: boolean): void;
  bootstrapAttempt(result: AttemptResult): void;
  bootstrapDuration(seconds: number): void;
  ready(at: Date | number): void;
  tokenFilePresent(present: boolean): void;
  entriesReconciled(action: ReconcileAction, n: number): void;
  configReload(result: 'success' | 'failure'): void;
  metricsText(): Promise<string>;
}

const name = (suffix: string): string => `${METRICS_PREFIX}${suffix}`;
const epochSeconds = (at: Date | number): number => (at instanceof Date ? at.getTime() : at) / 1000;
const finiteNonNegative = (n: number): boolean => Number.isFinite(n) && n >= 0;

function instruments(registry: Registry) {
  const registers = [registry];
  return {
    buildInfo: new Gauge({
      name: name('build_info'),
      help: 'Always 1; the labels say which daemon and SPIRE versions run.',
      labelNames: ['version', 'spire_version'],
      registers,
    }),
    phase: new Gauge({
      name: name('phase'),
      help: 'Bootstrap state machine phase: 1 for the current phase, 0 for every other.',
      labelNames: ['phase'],
      registers,
    }),
    attempts: new Counter({
      name: name('bootstrap_attempts_total'),
      help: 'Bootstrap attempts (token acquired through attested upstream agent), by result.',
      labelNames: ['result'],
      registers,
    }),
    tokenRequests: new Counter({
      name: name('token_requests_total'),
      help: 'Join token requests to each source, by result.',
      labelNames: ['source', 'result'],
      registers,
    }),
    tokenDuration: new Histogram({
      name: name('token_request_duration_seconds'),
      help: 'Time one token source took to answer.',
      labelNames: ['source'],
      buckets: [...TOKEN_DURATION_BUCKETS],
      registers,
    }),
    childUp: new Gauge({
      name: name('child_up'),
      help: '1 while the supervised SPIRE process is ready, else 0.',
      labelNames: ['child'],
      registers,
    }),
    childFailures: new Counter({
      name: name('child_failures_total'),
      help: 'Failures of each supervised SPIRE process, by reason: the cause its own log lines name, or how it ended.',
      labelNames: ['child', 'reason'],
      registers,
    }),
    childRestarts: new Counter({
      name: name('child_restarts_total'),
      help: 'Restarts of each supervised SPIRE process.',
      labelNames: ['child'],
      registers,
    }),
    identityExpiring: new Gauge({
      name: name('identity_expiring'),
      help: 'Whether each agent started on an SVID that expires within identity_safety_margin_seconds.',
      labelNames: ['identity'],
      registers,
    }),
    identityExpiry: new Gauge({
      name: name('identity_expiry_timestamp_seconds'),
      help: 'When each X.509 SVID expires, in Unix seconds; absent while unknown.',
      labelNames: ['identity'],
      registers,
    }),
    // A gauge, not a histogram: a process bootstraps once (again only after losing its identity), so a
    // histogram would hold one observation per process lifetime and its quantiles would say nothing; the
    // last duration, graphed over time, does.
    bootstrapDuration: new Gauge({
      name: name('bootstrap_duration_seconds'),
      help: 'How long the last bootstrap took, from start to ready.',
      registers,
    }),
    lastReady: new Gauge({
      name: name('last_ready_timestamp_seconds'),
      help: 'When the daemon last reached the ready phase, in Unix seconds.',
      registers,
    }),
    tokenFilePresent: new Gauge({
      name: name('token_file_present'),
      help: '1 while a join token file waits to be consumed, else 0.',
      registers,
    }),
    reloads: new Counter({
      name: name('config_reloads_total'),
      help: 'Configuration reloads (SIGHUP or an edit of the file), by result; a failure keeps the running one.',
      labelNames: ['result'],
      registers,
    }),
    entries: new Counter({
      name: name('entries_reconciled_total'),
      help: 'Registration entries reconciled on the nested server, by action.',
      labelNames: ['action'],
      registers,
    }),
  };
}

type Instruments = ReturnType<typeof instruments>;

// Series that exist from the start: a counter that appears at 1 is invisible to increase(), so alerts on the
// first unauthorized request or the first restart would never fire.
function precreate(m: Instruments): void {
  for (const phase of PHASES) m.phase.set({ phase }, phase === 'init' ? 1 : 0);
  for (const result of ATTEMPT_RESULTS) m.attempts.inc({ result }, 0);
  for (const source of TOKEN_SOURCES) {
    m.tokenDuration.zero({ source });
    for (const result of TOKEN_RESULTS) m.tokenRequests.inc({ source, result }, 0);
  }
  for (const child of CHILDREN) {
    m.childUp.set({ child }, 0);
    m.childRestarts.inc({ child }, 0);
    for (const reason of CHILD_FAILURE_REASONS) m.childFailures.inc({ child, reason }, 0);
  }
  for (const action of RECONCILE_ACTIONS) m.entries.inc({ action }, 0);
  for (const result of ['success', 'failure']) m.reloads.inc({ result }, 0);
  m.tokenFilePresent.set(0);
}

/** Builds the metrics on a fresh registry, with every fixed label set present from the start. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) {
    // An edge daemon idles for months and has no latency-sensitive work: its idle CPU is worth more than an
    // event-loop delay measure.
    processMetrics(registry, METRICS_PREFIX, false);
  }
  const m = instruments(registry);
  m.buildInfo.set(
    { version: versionLabel(options.version), spire_version: versionLabel(options.spireVersion) },
    1,
  );
  precreate(m);
  let currentPhase: string = 'init';

  return {
    registry,
    contentType: registry.contentType,
    setPhase(phase) {
      const next = pick(PHASES, phase);
      if (next === currentPhase) return;
      m.phase.set({ phase: currentPhase }, 0);
      m.phase.set({ phase: next }, 1);
      currentPhase = next;
    },
    tokenRequest(source, result, seconds) {
      const s = pick(TOKEN_SOURCES, source);
      m.tokenRequests.inc({ source: s, result: pick(TOKEN_RESULTS, result) });
      if (finiteNonNegative(seconds)) m.tokenDuration.observe({ source: s }, seconds);
    },
    childUp: (child, up) => m.childUp.set({ child: pick(CHILDREN, child) }, up ? 1 : 0),
    childRestart: (child) => m.childRestarts.inc({ child: pick(CHILDREN, child) }),
    childFailure: (child, reason) =>
      m.childFailures.inc({ child: pick(CHILDREN, child), reason: pick(CHILD_FAILURE_REASONS, reason) }),
    identityExpiry(identity, expiresAt) {
      const labels = { identity: pick(IDENTITIES, identity) };
      const seconds = expiresAt === null ? Number.NaN : epochSeconds(expiresAt);
      if (Number.isFinite(seconds)) m.identityExpiry.set(labels, seconds);
      else m.identityExpiry.remove(labels);
    },
    identityExpiring: (identity, expiring) =>
      m.identityExpiring.set({ identity: pick(IDENTITIES, identity) }, expiring ? 1 : 0),
    bootstrapAttempt: (result) => m.attempts.inc({ result: pick(ATTEMPT_RESULTS, result) }),
    bootstrapDuration(seconds) {
      if (finiteNonNegative(seconds)) m.bootstrapDuration.set(seconds);
    },
    ready(at) {
      const seconds = epochSeconds(at);
      if (Number.isFinite(seconds)) m.lastReady.set(seconds);
    },
    tokenFilePresent: (present) => m.tokenFilePresent.set(present ? 1 : 0),
    entriesReconciled(action, n) {
      if (Number.isInteger(n) && n > 0) m.entries.inc({ action: pick(RECONCILE_ACTIONS, action) }, n);
    },
    configReload: (result) => m.reloads.inc({ result: result === 'success' ? 'success' : 'failure' }),
    metricsText: () => registry.metrics(),
  };
}

/** The GET /metrics handler for startHttpServer's extraRoutes. */
export function metricsRoute(metrics: Metrics): RouteHandler {
  return async () => ({ status: 200, contentType: metrics.contentType, body: await metrics.metricsText() });
}
