import { describe, expect, it } from 'vitest';
import type { ListedEntry } from '../../../src/spire/server-client.js';
import { markedExpiry, markedHint, staleEntries } from '../../../src/spire/stale-entries.js';

const TD = 'example.org';
const ID = `spiffe://${TD}/ns/edge/poller-nested-spire`;
const NOW = 1_800_000_000_000;
const parent = (t: string) => `spiffe://${TD}/spire/agent/join_token/${t}`;
const past = new Date(NOW - 120_000);

const entry = (id: string, hint: string, parentId = parent(id)): ListedEntry => ({
  id,
  spiffeId: ID,
  parentId,
  downstream: true,
  hint,
  createdAt: 0,
});

describe('stale entries', () => {
  it('round-trips a mark, and reads nothing from another tool’s or a malformed hint', () => {
    const hint = markedHint('poller-bootstrap join-token', new Date(NOW + 1500));
    expect(hint).toBe(`poller-bootstrap join-token exp=${NOW / 1000 + 1}`);
    expect(markedExpiry('poller-bootstrap join-token', hint)).toBe(NOW / 1000 + 1);
    expect(markedExpiry('poller-bootstrap-broker', hint)).toBeNull();
    expect(markedExpiry('poller-bootstrap join-token', 'poller-bootstrap join-token exp=12x')).toBeNull();
    expect(markedExpiry('poller-bootstrap join-token', 'poller-bootstrap join-token')).toBeNull();
  });

  it('each tool finds only its own expired entries whose agent SPIRE does not know', async () => {
    const entries = [
      entry('mine', markedHint('poller-bootstrap join-token', past)),
      entry('brokers', markedHint('poller-bootstrap-broker', past)),
      entry('not-a-join-token-agent', markedHint('poller-bootstrap join-token', past), `spiffe://${TD}/x`),
      entry('attested', markedHint('poller-bootstrap join-token', past)),
    ];
    const lookup = {
      entriesFor: async () => entries,
      agent: async (id: string) => (id === parent('attested') ? {} : null),
    };
    const query = { spiffeId: ID, trustDomain: TD, graceSeconds: 60, nowMs: NOW };
    const ids = async (
      marker: 'poller-bootstrap join-token' | 'poller-bootstrap-broker',
      graceSeconds = 60,
    ) => (await staleEntries(lookup, { ...query, marker, graceSeconds })).map((e) => e.id);
    expect(await ids('poller-bootstrap join-token')).toEqual(['mine']);
    expect(await ids('poller-bootstrap-broker')).toEqual(['brokers']);
    // 120 s past expiry is still within a 300 s grace.
    expect(await ids('poller-bootstrap join-token', 300)).toEqual([]);
  });
});
