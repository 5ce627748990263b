import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CHILDREN } from '../../../src/daemon/machine-types.js';
import { createMetrics, type Metrics, metricsRoute } from '../../../src/observability/metrics.js';
import {
  PHASES,
  TOKEN_RESULTS,
  TOKEN_SOURCES,
  tokenResultOf,
  versionLabel,
} from '../../../src/observability/metrics-labels.js';

const make = () => createMetrics({ version: '0.1.0', spireVersion: '1.13.3', defaultMetrics: false });

/** `value` of each series of one metric, keyed by its labels rendered as `k=v,k=v`. */
async function series(metrics: Metrics, name: string): Promise<Record<string, number>> {
  const all = await metrics.registry.getMetricsAsJSON();
  const metric = all.find((m) => m.name === name);
  if (!metric) throw new Error(`no metric ${name}`);
  return Object.fromEntries(
    metric.values
      .filter((v) => !('metricName' in v) || v.metricName === undefined || v.metricName === name)
      .map((v) => [
        Object.entries(v.labels)
          .map(([k, l]) => `${k}=${l}`)
          .join(','),
        v.value,
      ]),
  );
}

const ones = (values: Record<string, number>) => Object.keys(values).filter((k) => values[k] === 1);

describe('createMetrics', () => {
  it('uses its own registry, never the global one', () => {
    const metrics = make();
    expect(metrics.registry).not.toBe(globalRegistry);
    expect(globalRegistry.getSingleMetric('poller_bootstrap_phase')).toBeUndefined();
  });

  it('allows two instances side by side (a test or a restart in-process does not collide)', () => {
    expect(() => [make(), make()]).not.toThrow();
  });

  it('reports build info with both versions', async () => {
    expect(await series(make(), 'poller_bootstrap_build_info')).toEqual({
      'version=0.1.0,spire_version=1.13.3': 1,
    });
  });

  it('pre-creates every phase with only init at 1', async () => {
    const phases = await series(make(), 'poller_bootstrap_phase');
    expect(Object.keys(phases).sort()).toEqual(PHASES.map((p) => `phase=${p}`).sort());
    expect(ones(phases)).toEqual(['phase=init']);
  });

  it('pre-creates children, attempts, token requests and reconcile actions at 0', async () => {
    const metrics = make();
    const up = await series(metrics, 'poller_bootstrap_child_up');
    const restarts = await series(metrics, 'poller_bootstrap_child_restarts_total');
    const expected = Object.fromEntries(CHILDREN.map((c) => [`child=${c}`, 0]));
    expect(up).toEqual(expected);
    expect(restarts).toEqual(expected);
    expect(await series(metrics, 'poller_bootstrap_bootstrap_attempts_total')).toEqual({
      'result=success': 0,
      'result=failure': 0,
    });
    const requests = await series(metrics, 'poller_bootstrap_token_requests_total');
    expect(Object.keys(requests)).toHaveLength(TOKEN_SOURCES.length * TOKEN_RESULTS.length);
    expect(requests['source=admin-api,result=unauthorized']).toBe(0);
    expect(await series(metrics, 'poller_bootstrap_entries_reconciled_total')).toEqual({
      'action=created': 0,
      'action=updated': 0,
      'action=deleted': 0,
      'action=unchanged': 0,
    });
    expect(await series(metrics, 'poller_bootstrap_token_file_present')).toEqual({ '': 0 });
  });

  it('leaves exactly one phase at 1 whatever the order of switches', async () => {
    const metrics = make();
    for (const phase of [
      'acquire-token',
      'backoff',
      'acquire-token',
      'ready',
      'ready',
      'degraded',
    ] as const) {
      metrics.setPhase(phase);
      expect(ones(await series(metrics, 'poller_bootstrap_phase'))).toEqual([`phase=${phase}`]);
    }
  });

  it('records token requests with their duration', async () => {
    const metrics = make();
    metrics.tokenRequest('admin-api', 'success', 0.2);
    metrics.tokenRequest('admin-api', 'unauthorized', 0.05);
    const requests = await series(metrics, 'poller_bootstrap_token_requests_total');
    expect(requests['source=admin-api,result=success']).toBe(1);
    expect(requests['source=admin-api,result=unauthorized']).toBe(1);
    const text = await metrics.metricsText();
    expect(text).toContain('poller_bootstrap_token_request_duration_seconds_count{source="admin-api"} 2');
    expect(text).toContain(
      'poller_bootstrap_token_request_duration_seconds_bucket{le="0.01",source="admin-api"} 0',
    );
    expect(text).toContain(
      'poller_bootstrap_token_request_duration_seconds_bucket{le="60",source="admin-api"} 2',
    );
  });

  it('sets and removes identity expiry, in Unix seconds', async () => {
    const metrics = make();
    metrics.identityExpiry('upstream-agent', new Date('2030-01-01T00:00:00Z'));
    metrics.identityExpiry('downstream-agent', Date.parse('2030-01-01T01:00:00Z'));
    expect(await series(metrics, 'poller_bootstrap_identity_expiry_timestamp_seconds')).toEqual({
      'identity=upstream-agent': 1893456000,
      'identity=downstream-agent': 1893459600,
    });
    metrics.identityExpiry('upstream-agent', null);
    expect(await series(metrics, 'poller_bootstrap_identity_expiry_timestamp_seconds')).toEqual({
      'identity=downstream-agent': 1893459600,
    });
  });

  it('records children, attempts, durations, readiness, the token file and reconciled entries', async () => {
    const metrics = make();
    metrics.childUp('nested-server', true);
    metrics.childRestart('nested-server');
    metrics.childRestart('nested-server');
    metrics.bootstrapAttempt('failure');
    metrics.bootstrapDuration(12.5);
    metrics.ready(new Date('2030-01-01T00:00:00Z'));
    metrics.tokenFilePresent(true);
    metrics.entriesReconciled('created', 2);
    metrics.entriesReconciled('deleted', 0);
    expect((await series(metrics, 'poller_bootstrap_child_up'))['child=nested-server']).toBe(1);
    expect((await series(metrics, 'poller_bootstrap_child_restarts_total'))['child=nested-server']).toBe(2);
    expect((await series(metrics, 'poller_bootstrap_bootstrap_attempts_total'))['result=failure']).toBe(1);
    expect(await series(metrics, 'poller_bootstrap_bootstrap_duration_seconds')).toEqual({ '': 12.5 });
    expect(await series(metrics, 'poller_bootstrap_last_ready_timestamp_seconds')).toEqual({
      '': 1893456000,
    });
    expect(await series(metrics, 'poller_bootstrap_token_file_present')).toEqual({ '': 1 });
    expect(await series(metrics, 'poller_bootstrap_entries_reconciled_total')).toMatchObject({
      'action=created': 2,
      'action=deleted': 0,
    });
  });

  it('records unknown label values as other', async () => {
    const metrics = make();
    const bogus = 'bogus' as never;
    metrics.setPhase(bogus);
    metrics.tokenRequest(bogus, bogus, 1);
    metrics.childUp(bogus, true);
    metrics.childRestart(bogus);
    metrics.identityExpiry(bogus, 0);
    metrics.bootstrapAttempt(bogus);
    metrics.entriesReconciled(bogus, 1);
    const text = await metrics.metricsText();
    expect(text).not.toContain('bogus');
    expect(ones(await series(metrics, 'poller_bootstrap_phase'))).toEqual(['phase=other']);
    expect(
      (await series(metrics, 'poller_bootstrap_token_requests_total'))['source=other,result=other'],
    ).toBe(1);
    expect((await series(metrics, 'poller_bootstrap_child_up'))['child=other']).toBe(1);
    expect((await series(metrics, 'poller_bootstrap_child_restarts_total'))['child=other']).toBe(1);
    expect(await series(metrics, 'poller_bootstrap_identity_expiry_timestamp_seconds')).toEqual({
      'identity=other': 0,
    });
    expect((await series(metrics, 'poller_bootstrap_bootstrap_attempts_total'))['result=other']).toBe(1);
    expect((await series(metrics, 'poller_bootstrap_entries_reconciled_total'))['action=other']).toBe(1);
  });

  it('never exposes a token-like value passed in any label position', async () => {
    const token = '3f1c9a7e-5b2d-4c8e-9f10-aa55bb66cc77';
    const parentId = `spiffe://example.org/spire/agent/join_token/${token}`;
    const metrics = createMetrics({ version: token, spireVersion: parentId });
    for (const value of [token, parentId]) {
      const v = value as never;
      metrics.setPhase(v);
      metrics.tokenRequest(v, v, 0.1);
      metrics.childUp(v, true);
      metrics.childRestart(v);
      metrics.identityExpiry(v, 1);
      metrics.bootstrapAttempt(v);
      metrics.entriesReconciled(v, 1);
    }
    const text = await metrics.metricsText();
    expect(text).not.toContain(token);
    expect(text).not.toContain('join_token');
    expect(text).toContain('poller_bootstrap_build_info{version="other",spire_version="other"} 1');
  });

  it('ignores values that are not measurements instead of throwing', async () => {
    const metrics = make();
    expect(() => {
      metrics.tokenRequest('file', 'success', Number.NaN);
      metrics.tokenRequest('file', 'success', -1);
      metrics.bootstrapDuration(Number.POSITIVE_INFINITY);
      metrics.ready(new Date('not a date'));
      metrics.entriesReconciled('created', -3);
      metrics.entriesReconciled('created', 1.5);
      metrics.identityExpiry('nested-server', new Date('not a date'));
    }).not.toThrow();
    const text = await metrics.metricsText();
    expect(text).toContain('poller_bootstrap_token_requests_total{source="file",result="success"} 2');
    expect(text).toContain('poller_bootstrap_token_request_duration_seconds_count{source="file"} 0');
    expect(text).toContain('poller_bootstrap_bootstrap_duration_seconds 0');
    expect(text).toContain('poller_bootstrap_entries_reconciled_total{action="created"} 0');
    expect(text).not.toContain('identity="nested-server"');
  });

  it('includes process metrics under the prefix by default', async () => {
    const metrics = createMetrics({ version: '0.1.0', spireVersion: '1.13.3' });
    const text = await metrics.metricsText();
    expect(text).toContain('poller_bootstrap_process_cpu_user_seconds_total');
    expect(text).toMatch(/^poller_bootstrap_nodejs_/m);
  });

  it('keeps no event-loop sampler (its gauges need a timer that wakes the idle daemon)', async () => {
    const metrics = createMetrics({ version: '0.1.0', spireVersion: '1.13.3' });
    const text = await metrics.metricsText();
    expect(text).toMatch(/^poller_bootstrap_nodejs_eventloop_lag_seconds /m);
    expect(text).not.toMatch(/nodejs_eventloop_lag_(min|max|mean|stddev|p50|p90|p99)_seconds/);
  });

  it('serves the exposition format through the /metrics route', async () => {
    const metrics = make();
    const answer = await metricsRoute(metrics)({} as never);
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(answer.body).toContain('# TYPE poller_bootstrap_phase gauge');
  });
});

describe('label helpers', () => {
  it.each([
    ['1.13.3', '1.13.3'],
    ['v1.15.0-rc.1+build.5', 'v1.15.0-rc.1+build.5'],
    ['', 'other'],
    ['1.0 with spaces', 'other'],
    ['1.2.3-'.concat('x'.repeat(25)), 'other'],
    ['3f1c9a7e-5b2d-4c8e-9f10-aa55bb66cc77', 'other'],
    ['unknown', 'other'],
    [undefined, 'other'],
  ])('versionLabel(%j) is %j', (input, expected) => {
    expect(versionLabel(input)).toBe(expected);
  });

  it.each([
    [{ code: 'unauthorized' as const, status: 401 }, 'unauthorized'],
    [{ code: 'forbidden' as const, status: 403 }, 'forbidden'],
    [{ code: 'unavailable' as const, status: 429 }, 'rate-limited'],
    [{ code: 'unavailable' as const, status: 503 }, 'unavailable'],
    [{ code: 'timeout' as const }, 'timeout'],
    [{ code: 'bad-request' as const, status: 400 }, 'bad-request'],
    [{ code: 'invalid-token' as const }, 'invalid-token'],
    [{ code: 'io' as const }, 'failure'],
    [{ code: 'protocol' as const }, 'failure'],
    [{}, 'failure'],
  ])('tokenResultOf(%j) is %j', (error, expected) => {
    expect(tokenResultOf(error)).toBe(expected);
  });
});
