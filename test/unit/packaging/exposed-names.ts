import { createMetrics } from '../../../src/observability/metrics.js';

/** Every series name /metrics can expose, histograms with their _bucket/_sum/_count series. */
export async function exposedNames(): Promise<Set<string>> {
  const metrics = createMetrics({ version: '0.1.0', spireVersion: '1.13.3' });
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram')
      for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
  }
  return names;
}
