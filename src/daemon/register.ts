// Through the nested server's admin socket: the downstream agent's bundle and (when it has no identity) join
// token, and the workload entries this daemon owns.
import { rename } from 'node:fs/promises';
import type { Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import { inspectIdentity } from '../spire/identity.js';
import { type ManagedEntry, planReconcile } from '../spire/reconcile.js';
import { serverClient } from '../spire/server-client.js';
import { writeSecretFile } from '../token/secret-file.js';
import { createTokenStore } from '../token/store.js';

/** The stable parent of the workload entries: an alias that every downstream agent token names (agent_id). */
export const downstreamAgentAlias = (config: Config) =>
  `spiffe://${config.trustDomain}/poller-bootstrap/downstream-agent`;

const DOWNSTREAM_TOKEN_TTL_SECONDS = 600;

const pem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;

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
      if (err.code !== 'ENOENT') throw new Error(`cannot move aside ${file} (${err.code})`);
    });
  }
}

/**
 * Before each start of the downstream agent: when it holds no valid identity, mints it a join token (with the
 * workload entries' alias as agent ID) through the nested server and writes it 0600. Returns the token, if any.
 */
export async function downstreamTokenIfNeeded(
  config: Config,
  layout: Layout,
  marginSeconds: number,
): Promise<string | undefined> {
  const dl = layout.downstreamAgent;
  const identity = await inspectIdentity(dl.dataDir, dl.keysDir, new Date(), marginSeconds);
  if (identity.status === 'valid') return undefined;
  if (identity.status === 'corrupt') await setAsideIdentity(dl, Date.now());
  const client = serverClient(layout.nestedServer.socketPath);
  try {
    const minted = await client.createJoinToken(DOWNSTREAM_TOKEN_TTL_SECONDS, downstreamAgentAlias(config));
    await createTokenStore({ path: dl.joinTokenFile }).write({
      token: minted.value,
      expiresAt: new Date(minted.expiresAt),
    });
    return minted.value;
  } finally {
    client.close();
  }
}

/** Runs the step: the downstream agent's bundle, then the owned workload entries; throws naming what failed. */
export async function registerEntries(config: Config, layout: Layout): Promise<Registered> {
  const client = serverClient(layout.nestedServer.socketPath);
  try {
    const roots = await client.x509Roots();
    if (roots.length === 0) throw new Error('the nested server returned an empty trust bundle');
    await writeSecretFile(layout.downstreamAgent.trustBundleFile, roots.map(pem).join(''));

    const alias = downstreamAgentAlias(config);
    const wanted: ManagedEntry[] = config.workloads.map((w) => ({
      spiffeId: w.spiffeId,
      parentId: alias,
      selectors: w.selectors.map((s) => `${s.type}:${s.value}`),
      x509SvidTtl: w.x509SvidTtlSeconds,
      jwtSvidTtl: w.jwtSvidTtlSeconds,
      hint: '',
    }));
    const plan = planReconcile(wanted, await client.entriesUnder(alias));
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

/** Direct mode: registers the nested server's downstream entry under a freshly minted upstream token. */
export async function registerUpstreamDownstreamEntry(config: Config, parentId: string): Promise<void> {
  if (!config.spireServer) return;
  const client = serverClient(config.spireServer.socketPath);
  try {
    const d = config.downstream;
    await client.apply({
      create: [
        {
          spiffeId: d.spiffeId,
          parentId,
          selectors: d.selectors.map((s) => `${s.type}:${s.value}`),
          x509SvidTtl: d.x509SvidTtlSeconds,
          jwtSvidTtl: d.jwtSvidTtlSeconds,
          hint: '',
          downstream: true,
        },
      ],
      update: [],
      delete: [],
    });
  } finally {
    client.close();
  }
}
