// The nested server's downstream entry on the cluster server, parented to a join token's agent ID. The daemon
// (direct mode), `join-token` and the broker all create it the same way, each marking it as its own with the
// token's expiry so that only it prunes the entry once stale (stale-entries.ts).
import type { DownstreamSpec } from '../token/admin-request.js';
import type { DownstreamEntrySpec } from './server-client.js';
import { type EntryMarker, markedHint } from './stale-entries.js';

export function downstreamEntry(
  spec: DownstreamSpec,
  parentId: string,
  marker: EntryMarker,
  tokenExpiresAt: Date,
): DownstreamEntrySpec {
  return {
    spiffeId: spec.spiffeId,
    parentId,
    selectors: spec.selectors,
    x509SvidTtl: spec.x509SvidTtlSeconds ?? 0,
    jwtSvidTtl: spec.jwtSvidTtlSeconds ?? 0,
    admin: spec.admin ?? false,
    storeSvid: spec.storeSvid ?? false,
    dnsNames: spec.dnsNames ?? [],
    federatesWith: spec.federatesWith ?? [],
    hint: markedHint(marker, tokenExpiresAt),
  };
}
