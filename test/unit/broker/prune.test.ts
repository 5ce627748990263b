import { describe, expect, it } from 'vitest';
import type { BrokerAudit, BrokerAuditEvent } from '../../../src/broker/audit.js';
import { createBrokerMetrics } from '../../../src/broker/metrics.js';
import { pruneStale } from '../../../src/broker/prune.js';
import type { BrokerSpire, ListedEntry } from '../../../src/broker/spire.js';
import { markedHint } from '../../../src/spire/stale-entries.js';

const brokerHint = (at: Date) => markedHint('poller-bootstrap-broker', at);

const TD = 'example.org';
const ID = `spiffe://${TD}/ns/edge/poller-nested-spire`;
const NOW = 1_800_000_000_000;
const agent = (t: string) => `spiffe://${TD}/spire/agent/join_token/${t}`;
const expired = brokerHint(new Date(NOW - 120_000));

function fakeSpire(entries: ListedEntry[], attested: string[]) {
  const deleted: string[] = [];
  const spire: Partial<BrokerSpire> = {
    entriesFor: async () => entries,
    agent: async (id) => (attested.includes(id) ? { expiresAt: 0, banned: false } : null),
    deleteEntries: async (ids) => {
      deleted.push(...ids);
    },
  };
  return { spire: spire as BrokerSpire, deleted };
}

const entry = (id: string, parent: string, hint: string, downstream = true): ListedEntry => ({
  id,
  spiffeId: ID,
  parentId: parent,
  downstream,
  hint,
  createdAt: 0,
});

describe('pruneStale', () => {
  it('deletes only the broker entries whose token expired and whose agent SPIRE does not know', async () => {
    const { spire, deleted } = fakeSpire(
      [
        entry('stale', agent('t1'), expired),
        entry('attested-long-ago', agent('t2'), expired),
        entry('token-still-valid', agent('t3'), brokerHint(new Date(NOW + 60_000))),
        entry('within-grace', agent('t4'), brokerHint(new Date(NOW - 10_000))),
        entry('operator', agent('t5'), ''),
        entry('other-tool', agent('t6'), 'poller-bootstrap'),
        entry('not-downstream', agent('t7'), expired, false),
        entry('new', agent('t8'), expired),
      ],
      [agent('t2')],
    );
    const events: BrokerAuditEvent[] = [];
    const audit: BrokerAudit = { record: async (e) => void events.push(e) };
    const metrics = createBrokerMetrics({ version: '0.0.0', defaultMetrics: false });
    const ids = await pruneStale(ID, 'new', {
      trustDomain: TD,
      graceSeconds: 30,
      spire,
      audit,
      metrics,
      now: () => NOW,
    });
    expect(ids).toEqual(['stale']);
    expect(deleted).toEqual(['stale']);
    expect(events).toMatchObject([{ kind: 'entry-pruned', entryId: 'stale', downstreamSpiffeId: ID }]);
    expect(JSON.stringify(events)).not.toContain('t1');
    expect(await metrics.text()).toContain('poller_bootstrap_broker_entries_pruned_total 1');
  });
});
