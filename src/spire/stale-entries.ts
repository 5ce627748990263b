// Stale downstream entries. Each tool that registers a downstream entry under a join token's agent ID marks it
// with a hint naming the tool and the token's expiry. Once that token has expired and SPIRE knows no agent with
// that ID, the agent never attested (or was evicted) and the entry can never be used: it is stale. An entry
// without the tool's own mark — an operator's, another tool's — is never stale to it.
import { joinTokenAgentPrefix } from './join-token-id.js';
import type { ListedEntry } from './server-client.js';

/** Who marked an entry: the broker, the `join-token` command or the daemon (direct mode) registering directly. */
export type EntryMarker =
  | 'poller-bootstrap-broker'
  | 'poller-bootstrap join-token'
  | 'poller-bootstrap daemon';

/** The hint of an entry `marker` creates for a token expiring at `expiresAt`. */
export function markedHint(marker: EntryMarker, expiresAt: Date): string {
  return `${marker} exp=${Math.floor(expiresAt.getTime() / 1000)}`;
}

/** The token expiry (unix seconds) in an entry `marker` created, or null for anybody else's entry. */
export function markedExpiry(marker: EntryMarker, hint: string): number | null {
  const prefix = `${marker} exp=`;
  if (!hint.startsWith(prefix)) return null;
  const rest = hint.slice(prefix.length);
  return /^\d{1,12}$/.test(rest) ? Number(rest) : null;
}

/** How long past its token's expiry a marked entry is kept unless configured otherwise (clock skew, a slow attestation). */
export const DEFAULT_PRUNE_GRACE_SECONDS = 60;

/** What deciding staleness reads from the SPIRE server. */
export interface StaleLookup {
  entriesFor(spiffeId: string): Promise<ListedEntry[]>;
  /** Agent.GetAgent: null when SPIRE has no attested agent with this ID. */
  agent(agentId: string): Promise<unknown | null>;
}

export interface StaleQuery {
  marker: EntryMarker;
  spiffeId: string;
  trustDomain: string;
  /** The entry just created, never stale. */
  keepId?: string;
  /** How long after its token's expiry an entry is left alone (clock skew, a slow attestation). */
  graceSeconds: number;
  nowMs: number;
}

export interface StaleEntry {
  id: string;
  parentId: string;
  /** The token's expiry, unix seconds. */
  expiredAt: number;
}

/** The `marker`'s downstream entries for `spiffeId` whose join-token agent never attested and never can. */
export async function staleEntries(lookup: StaleLookup, q: StaleQuery): Promise<StaleEntry[]> {
  const agentPrefix = joinTokenAgentPrefix(q.trustDomain);
  const nowSeconds = Math.floor(q.nowMs / 1000);
  const stale: StaleEntry[] = [];
  for (const entry of await lookup.entriesFor(q.spiffeId)) {
    const expiry = markedExpiry(q.marker, entry.hint);
    if (entry.id === q.keepId || !entry.downstream || expiry === null) continue;
    if (!entry.parentId.startsWith(agentPrefix)) continue;
    if (nowSeconds <= expiry + q.graceSeconds) continue;
    if ((await lookup.agent(entry.parentId)) !== null) continue;
    stale.push({ id: entry.id, parentId: entry.parentId, expiredAt: expiry });
  }
  return stale;
}
