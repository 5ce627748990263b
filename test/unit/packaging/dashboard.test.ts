import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exposedNames } from './exposed-names.js';

interface Target {
  expr?: string;
  refId?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const file = fileURLToPath(new URL('../../../packaging/grafana/poller-bootstrap.json', import.meta.url));
const dashboard = JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const panels = allPanels(dashboard.panels);
const queryPanels = panels.filter((p) => p.type !== 'row');
const exprs = queryPanels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })),
);
const variableQueries = dashboard.templating.list
  .filter((v) => v.type === 'query')
  .map((v) => (typeof v.query === 'string' ? v.query : (v.query?.query ?? '')));

describe('Grafana dashboard', () => {
  it('is identified as poller-bootstrap', () => {
    expect([dashboard.uid, dashboard.title, dashboard.schemaVersion]).toEqual([
      'poller-bootstrap',
      'poller-bootstrap',
      39,
    ]);
  });

  it('offers data source, job and instance variables', () => {
    expect(dashboard.templating.list.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['job', 'query'],
      ['instance', 'query'],
    ]);
  });

  it('has the panels an operator looks for', () => {
    expect(queryPanels.map((p) => p.title)).toEqual(
      expect.arrayContaining([
        'Phase over time',
        'Bootstrap attempts',
        'Token requests by source and result',
        'Child restarts',
        'Time to identity expiry',
      ]),
    );
  });

  it('queries only metrics the daemon exposes', async () => {
    const names = await exposedNames();
    const used = [...exprs.map((e) => e.expr), ...variableQueries].flatMap(
      (expr) => expr.match(/\bpoller_bootstrap_[a-z0-9_]+/g) ?? [],
    );
    expect(used.length).toBeGreaterThan(exprs.length - 1);
    expect([...new Set(used)].filter((n) => !names.has(n))).toEqual([]);
  });

  it('gives every panel a query and filters every metric by the selected job and instance', () => {
    for (const panel of queryPanels)
      expect([panel.title, (panel.targets ?? []).length > 0]).toEqual([panel.title, true]);
    const selectors = exprs.flatMap(({ panel, expr }) =>
      [...expr.matchAll(/\bpoller_bootstrap_[a-z0-9_]+(\{[^}]*\})?/g)].map((m) => ({
        panel,
        selector: m[0],
      })),
    );
    expect(selectors.length).toBeGreaterThan(0);
    expect(
      selectors.filter(({ selector }) => !selector.includes('{job=~"$job", instance=~"$instance"}')),
    ).toEqual([]);
  });

  it('has unique panel ids and no overlapping panels on the 24-column grid', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const overlaps: string[] = [];
    for (const [i, a] of panels.entries()) {
      expect(a.gridPos.x + a.gridPos.w, a.title).toBeLessThanOrEqual(24);
      for (const b of panels.slice(i + 1)) {
        const apart =
          a.gridPos.x + a.gridPos.w <= b.gridPos.x ||
          b.gridPos.x + b.gridPos.w <= a.gridPos.x ||
          a.gridPos.y + a.gridPos.h <= b.gridPos.y ||
          b.gridPos.y + b.gridPos.h <= a.gridPos.y;
        if (!apart) overlaps.push(`${a.title} / ${b.title}`);
      }
    }
    expect(overlaps).toEqual([]);
  });
});
