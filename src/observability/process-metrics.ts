import { collectDefaultMetrics, type Registry } from 'prom-client';

// prom-client names these gauges *_total, which Prometheus reserves for counters (promtool rejects them); the
// per-type breakdowns without the suffix stay.
const MISNAMED_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

// prom-client samples event-loop delay with a libuv timer (every 10 ms by default). Even once a second those wake-ups
// were most of an idle daemon's CPU (0.17 s a minute in a bare node). Without sampling, the sampler's timer runs once
// an hour and its gauges are dropped. What remains, nodejs_eventloop_lag_seconds, is only the delay of a
// setImmediate at the previous scrape: a process without sampling has no measure of a loop blocked between scrapes.
const UNSAMPLED_MS = 3_600_000;
const SAMPLED_LAG_GAUGES = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'].map(
  (s) => `nodejs_eventloop_lag_${s}_seconds`,
);

/** prom-client's process and Node.js metrics under `prefix`, fit for promtool and, unless `sampleEventLoop`, for idling. */
export function processMetrics(registry: Registry, prefix: string, sampleEventLoop: boolean): void {
  collectDefaultMetrics({
    register: registry,
    prefix,
    ...(sampleEventLoop ? {} : { eventLoopMonitoringPrecision: UNSAMPLED_MS }),
  });
  for (const gauge of [...MISNAMED_GAUGES, ...(sampleEventLoop ? [] : SAMPLED_LAG_GAUGES)])
    registry.removeSingleMetric(`${prefix}${gauge}`);
}
