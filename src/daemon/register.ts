// Through the nested server's admin socket: the downstream agent's trust bundle and the workload entries this
// daemon owns; in direct mode, the nested server's downstream entry on the cluster server.
import { rename } from 'node:fs/promises';
import { selectorText } from '../config/defaults.js';
import type { Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import { toPem } from '../spire/der.js';
import { downstreamEntry } from '../spire/downstream-entry.js';
import { type ManagedEntry, planReconcile } from '../spire/reconcile.js';
import { serverClient } from '../spire/server-client.js';
import { DEFAULT_PRUNE_GRACE_SECONDS, staleEntries } from '../spire/stale-entries.js';
import type { DownstreamSpec } from '../token/admin-request.js';
import { writeSecretFile } from '../token/secret-file.js';

/** The stable parent of the workload entries: an alias that every downstream agent token names (agent_id). */
export const downstreamAgentAlias = (config: Config) =>
  `spiffe://${config.trustDomain}/poller-bootstrap/downstream-agent`;

/** The configured downstream entry as the token layer sends it: in the admin API request, or created directly. */
export function configuredDownstream(config: Config): DownstreamSpec {
  const d = config.downstream;
  return {
    spiffeId: d.spiffeId,
    selectors: d.selectors.map(selectorText),
    x509SvidTtlSeconds: d.x509SvidTtlSeconds,
    jwtSvidTtlSeconds: d.jwtSvidTtlSeconds,
  };
}

export interface Registered {
  counts: { created: number; updated: number; deleted: number; unchanged: number };
}

/** Moves a corrupt agent identity (its storage and its keys) aside, where an operator can still look at it. */
export async function setAsideIdentity(
  agent: { agentDataFile: string; keysFile: string },
  at: number,
): Promise<void> {
  for (const file of [agent.agentDataFile, agent.keysFile]) {
    await rename(file, `${file}.corrupt-${at}`).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

/** The workload entries the configuration asks for, all parented to the downstream agent alias. */
export function wantedEntries(config: Config): ManagedEntry[] {
  const alias = downstreamAgentAlias(config);
  return config.workloads.map((w) => ({
    spiffeId: w.spiffeId,
    parentId: alias,
    selectors: w.selectors.map(selectorText),
    x509SvidTtl: w.x509SvidTtlSeconds,
    jwtSvidTtl: w.jwtSvidTtlSeconds,
    hint: '',
  }));
}

/** Runs the step: the downstream agent's bundle, then the owned workload entries; throws naming what failed. */
export async function registerEntries(config: Config, layout: Layout): Promise<Registered> {
  const client = serverClient(layout.nestedServer.socketPath);
  try {
    const roots = await client.x509Roots();
    if (roots.length === 0) throw new Error('the nested server returned an empty trust bundle');
    await writeSecretFile(layout.downstreamAgent.trustBundleFile, roots.map((r) => toPem(r)).join(''), {
      durable: false, // fetched again at every start
    });

    const wanted = wantedEntries(config);
    const plan = planReconcile(wanted, await client.entriesUnder(downstreamAgentAlias(config)));
    await client.apply(plan);
    const changed = plan.create.length + plan.update.length;
    return {
      counts: {
        created: plan.create.length,
        updated: plan.update.length,
        deleted: plan.delete.length,
        unchanged: wanted.length - changed,
      },
    };
  } finally {
    client.close();
  }
}

/**
 * Direct mode: registers the nested server's downstream entry under a freshly minted upstream token, then
 * deletes this daemon's earlier entries for it whose token expired with no agent attested (refused, lost or
 * replaced tokens). Returns the ids pruned; a failed prune is only reported, the new entry stands.
 */
export async function registerUpstreamDownstreamEntry(
  config: Config,
  parentId: string,
  tokenExpiresAt: Date,
  onPruneFailed: (err: unknown) => void,
): Promise<string[]> {
  if (!config.spireServer) return [];
  const client = serverClient(config.spireServer.socketPath);
  try {
    const { id } = await client.createEntry(
      downstreamEntry(configuredDownstream(config), parentId, 'poller-bootstrap daemon', tokenExpiresAt),
    );
    try {
      const stale = await staleEntries(client, {
        marker: 'poller-bootstrap daemon',
        spiffeId: config.downstream.spiffeId,
        trustDomain: config.trustDomain,
        keepId: id,
        graceSeconds: DEFAULT_PRUNE_GRACE_SECONDS,
        nowMs: Date.now(),
      });
      await client.deleteEntries(stale.map((e) => e.id));
      return stale.map((e) => e.id);
    } catch (err) {
      onPruneFailed(err);
      return [];
    }
  } finally {
    client.close();
  }
}
