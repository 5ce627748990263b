// Stale downstream entries (src/spire/stale-entries.ts): a later request for the same downstream SPIFFE ID
// deletes the broker's earlier entries whose agent never attested before that token expired, or no longer exists.

import { maskJoinTokenIds } from '../spire/join-token-id.js';
import { staleEntries } from '../spire/stale-entries.js';
import type { BrokerAudit } from './audit.js';
import type { BrokerMetrics } from './metrics.js';
import type { BrokerSpire } from './spire.js';

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
  const stale = await staleEntries(ctx.spire, {
    marker: 'poller-bootstrap-broker',
    spiffeId,
    keepId,
    trustDomain: ctx.trustDomain,
    graceSeconds: ctx.graceSeconds,
    nowMs: ctx.now(),
  });
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
