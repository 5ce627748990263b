// Which registration entries to create, update or delete so the nested server holds exactly the configured
// workload entries. Pure: the gRPC calls live in server-client.ts.

/** An entry as the daemon wants it (or as the server reports it), reduced to what the daemon manages. */
export interface ManagedEntry {
  id?: string;
  spiffeId: string;
  parentId: string;
  selectors: readonly string[];
  x509SvidTtl: number;
  jwtSvidTtl: number;
  hint: string;
  /** Marks a downstream SPIRE server's entry (the upstream signs its CA only then). */
  downstream?: boolean;
  admin?: boolean;
  storeSvid?: boolean;
  dnsNames?: readonly string[];
  federatesWith?: readonly string[];
}

export interface ReconcilePlan {
  create: ManagedEntry[];
  /** Existing entries (with their id) rewritten to the wanted selectors and TTLs. */
  update: ManagedEntry[];
  /** Ids of entries this daemon owns that are no longer wanted. */
  delete: string[];
}

/** Entries this daemon created carry this hint; entries without it are never touched. */
export const OWNER_HINT = 'poller-bootstrap';

const sameSelectors = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/**
 * Plans the change from `existing` (entries under the managed parent) to `wanted`. Only owned entries are
 * updated or deleted; an unowned entry with a wanted SPIFFE ID is left alone and the wanted one created beside it.
 */
export function planReconcile(
  wanted: readonly ManagedEntry[],
  existing: readonly ManagedEntry[],
): ReconcilePlan {
  const owned = existing.filter((e) => e.hint === OWNER_HINT);
  const plan: ReconcilePlan = { create: [], update: [], delete: [] };
  const kept = new Set<string>();
  for (const want of wanted) {
    const match = owned.find(
      (e) => e.spiffeId === want.spiffeId && e.parentId === want.parentId && !kept.has(e.id ?? ''),
    );
    if (!match) {
      plan.create.push({ ...want, hint: OWNER_HINT });
      continue;
    }
    kept.add(match.id ?? '');
    const differs =
      !sameSelectors(match.selectors, want.selectors) ||
      match.x509SvidTtl !== want.x509SvidTtl ||
      match.jwtSvidTtl !== want.jwtSvidTtl;
    if (differs) plan.update.push({ ...want, id: match.id, hint: OWNER_HINT });
  }
  for (const e of owned) if (e.id && !kept.has(e.id)) plan.delete.push(e.id);
  return plan;
}
