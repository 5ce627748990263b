// Stale downstream entries: the broker marks each entry it creates with a hint carrying its token's expiry, so
// that a later request for the same downstream SPIFFE ID can delete the earlier ones whose agent never attested
// before that token expired (or no longer exists). An entry without the broker's hint is never touched.

import { maskJoinTokenIds } from '../spire/join-token-id.js';
import type { BrokerAudit } from './audit.js';
import type { BrokerMetrics } from './metrics.js';
import type { BrokerSpire } from './spire.js';

const HINT = /^poller-bootstrap-broker exp=(\d{1,12})$/;

/** The hint of an entry the broker creates for a token expiring at `expiresAt`. */
export function brokerHint(expiresAt: Date): string {
  return `poller-bootstrap-broker exp=${Math.floor(expiresAt.getTime() / 1000)}`;
}

/** The token expiry (unix seconds) of an entry the broker created, or null for anybody else's entry. */
export function brokerEntryExpiry(hint: string): number | null {
  const m = HINT.exec(hint);
  return m ? Number(m[1]) : null;
}

export interface PruneContext {
  trustDomain: string;
  graceSeconds: number;
  spire: BrokerSpire;
  audit: BrokerAudit;
  metrics: BrokerMetrics;
  now: () => number;
}

/**
 * Deletes the broker's downstream entries for `spiffeId` (other than `keepId`) whose join-token agent is unknown
 * to SPIRE although its token expired more than the grace period ago: that agent never attested and never can.
 * An agent that attested keeps its entry, expired SVID or not. Returns the ids deleted.
 */
export async function pruneStale(spiffeId: string, keepId: string, ctx: PruneContext): Promise<string[]> {
  const agentPrefix = `spiffe://${ctx.trustDomain}/spire/agent/join_token/`;
  const nowSeconds = Math.floor(ctx.now() / 1000);
  const stale: { id: string; parentId: string; expiredAt: number }[] = [];
  for (const entry of await ctx.spire.entriesFor(spiffeId)) {
    const expiry = brokerEntryExpiry(entry.hint);
    if (entry.id === keepId || !entry.downstream || expiry === null) continue;
    if (!entry.parentId.startsWith(agentPrefix)) continue;
    if (nowSeconds <= expiry + ctx.graceSeconds) continue;
    if ((await ctx.spire.agent(entry.parentId)) !== null) continue;
    stale.push({ id: entry.id, parentId: entry.parentId, expiredAt: expiry });
  }
  if (stale.length === 0) return [];
  await ctx.spire.deleteEntries(stale.map((s) => s.id));
  ctx.metrics.pruned(stale.length);
  for (const s of stale) {
    await ctx.audit.record({
      kind: 'entry-pruned',
      downstreamSpiffeId: spiffeId,
      entryId: s.id,
      parentId: maskJoinTokenIds(s.parentId),
      expiresAt: new Date(s.expiredAt * 1000),
      reason: 'its agent never attested before the token expired, or no longer exists',
    });
  }
  return stale.map((s) => s.id);
}
