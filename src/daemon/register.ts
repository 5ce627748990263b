// The register-entries step: through the nested server's admin socket, prepare the downstream agent (bundle and,
// when it has no identity yet, a join token) and reconcile the workload entries this daemon owns.
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
  /** A token minted for the downstream agent (memory only; also written 0600 to its token file). */
  downstreamToken: string | undefined;
  counts: { created: number; updated: number; deleted: number; unchanged: number };
}

/** Runs the step; throws with a message naming what failed. */
export async function registerEntries(
  config: Config,
  layout: Layout,
  marginSeconds: number,
): Promise<Registered> {
  const client = serverClient(layout.nestedServer.socketPath);
  try {
    const roots = await client.x509Roots();
    if (roots.length === 0) throw new Error('the nested server returned an empty trust bundle');
    await writeSecretFile(layout.downstreamAgent.trustBundleFile, roots.map(pem).join(''));

    const alias = downstreamAgentAlias(config);
    const dl = layout.downstreamAgent;
    const identity = await inspectIdentity(dl.dataDir, dl.keysDir, new Date(), marginSeconds);
    let downstreamToken: string | undefined;
    if (identity.status !== 'valid') {
      if (identity.status === 'corrupt')
        await rename(dl.agentDataFile, `${dl.agentDataFile}.corrupt-${Date.now()}`);
      const minted = await client.createJoinToken(DOWNSTREAM_TOKEN_TTL_SECONDS, alias);
      await createTokenStore({ path: dl.joinTokenFile }).write({
        token: minted.value,
        expiresAt: new Date(minted.expiresAt),
      });
      downstreamToken = minted.value;
    }

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
      downstreamToken,
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
