// The broker's Prometheus metrics, on a registry of its own, with fixed label sets present from the start (a
// counter that appears at 1 is invisible to increase(), so the first unauthorized attempt would not alert).

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { pick, versionLabel } from '../observability/metrics-labels.js';
import { processMetrics } from '../observability/process-metrics.js';
import { RULES, type Rule } from './policy.js';

export const BROKER_METRICS_PREFIX = 'poller_bootstrap_broker_';
export const ROUTES = ['join_tokens', 'login', 'refresh', 'other'] as const;
export type Route = (typeof ROUTES)[number];
export const FAILURE_STAGES = ['create-token', 'create-entry'] as const;
export type FailureStage = (typeof FAILURE_STAGES)[number];

export interface BrokerMetrics {
  readonly contentType: string;
  issued(): void;
  denied(rule: Rule): void;
  /** A mint that failed at `stage`; `minted` when a token was created and left unused. */
  failed(stage: FailureStage, minted: boolean): void;
  pruned(n: number): void;
  login(result: 'success' | 'failure'): void;
  reload(result: 'success' | 'failure'): void;
  duration(route: Route, seconds: number): void;
  text(): Promise<string>;
}

const name = (suffix: string) => `${BROKER_METRICS_PREFIX}${suffix}`;

/** Builds the metrics; `defaultMetrics` adds the process's own (CPU, memory, event loop). */
export function createBrokerMetrics(options: { version: string; defaultMetrics?: boolean }): BrokerMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics !== false) {
    // The broker answers requests: its event-loop delay is worth sampling (prom-client's 10 ms).
    processMetrics(registry, BROKER_METRICS_PREFIX, true);
  }
  const build = new Gauge({
    name: name('build_info'),
    help: 'Always 1; the label says which version runs.',
    labelNames: ['version'],
    registers,
  });
  const issued = new Counter({
    name: name('tokens_issued_total'),
    help: 'Join tokens issued (201 answered).',
    registers,
  });
  const denied = new Counter({
    name: name('requests_denied_total'),
    help: 'Requests denied before anything was minted, by the rule that denied them (401/403/400/429).',
    labelNames: ['rule'],
    registers,
  });
  const limited = new Counter({
    name: name('rate_limited_total'),
    help: "Requests answered 429, by limit: the caller's own or the global throttle (both per replica).",
    labelNames: ['scope'],
    registers,
  });
  const failures = new Counter({
    name: name('issuance_failures_total'),
    help: 'Join token requests that failed at SPIRE (502), by the step that failed.',
    labelNames: ['stage'],
    registers,
  });
  const unused = new Counter({
    name: name('tokens_unused_total'),
    help: 'Join tokens minted, or maybe minted (a timeout), but not handed out; SPIRE cannot revoke them.',
    registers,
  });
  const pruned = new Counter({
    name: name('entries_pruned_total'),
    help: 'Stale downstream entries of the broker deleted.',
    registers,
  });
  const logins = new Counter({
    name: name('logins_total'),
    help: 'POST /auth/login and /auth/refresh, by result.',
    labelNames: ['result'],
    registers,
  });
  const reloads = new Counter({
    name: name('credential_reloads_total'),
    help: 'Reloads of the users and API keys files, by result; a failure keeps the loaded ones.',
    labelNames: ['result'],
    registers,
  });
  const duration = new Histogram({
    name: name('request_duration_seconds'),
    help: 'Time to answer a request, by route.',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  build.set({ version: versionLabel(options.version) }, 1);
  issued.inc(0);
  unused.inc(0);
  pruned.inc(0);
  for (const rule of RULES) denied.inc({ rule }, 0);
  for (const scope of ['caller', 'global']) limited.inc({ scope }, 0);
  for (const stage of FAILURE_STAGES) failures.inc({ stage }, 0);
  for (const result of ['success', 'failure']) {
    logins.inc({ result }, 0);
    reloads.inc({ result }, 0);
  }
  for (const route of ROUTES) duration.zero({ route });
  return {
    contentType: registry.contentType,
    issued: () => issued.inc(),
    denied(rule) {
      const r = pick(RULES, rule);
      denied.inc({ rule: r });
      if (r === 'rate-limit' || r === 'global-rate-limit')
        limited.inc({ scope: r === 'rate-limit' ? 'caller' : 'global' });
    },
    failed(stage, minted) {
      failures.inc({ stage: pick(FAILURE_STAGES, stage) });
      if (minted) unused.inc();
    },
    pruned: (n) => {
      if (Number.isInteger(n) && n > 0) pruned.inc(n);
    },
    login: (result) => logins.inc({ result: result === 'success' ? 'success' : 'failure' }),
    reload: (result) => reloads.inc({ result: result === 'success' ? 'success' : 'failure' }),
    duration(route, seconds) {
      if (Number.isFinite(seconds) && seconds >= 0) duration.observe({ route: pick(ROUTES, route) }, seconds);
    },
    text: () => registry.metrics(),
  };
}
