// Maps the daemon's config onto the token layer: which sources, in which order, with which options.
import { pathLayout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import { tokenResultOf } from '../observability/metrics-labels.js';
import { type AdminAuth, createAdminClient } from '../token/admin-client.js';
import { TokenError } from '../token/errors.js';
import { spireServerSource } from '../token/source-spire-server.js';
import { adminApiSource, credentialsSource, fileSource, type TokenSource } from '../token/sources.js';
import { createTokenStore } from '../token/store.js';
import type { Agent } from './machine-types.js';
import { NO_OBSERVER, type Observer } from './observe.js';
import { configuredDownstream, downstreamAgentAlias } from './register.js';

// The downstream agent attests within seconds of getting its token; a short life limits a leaked one.
const DOWNSTREAM_TOKEN_TTL_SECONDS = 600;

function adminAuth(c: NonNullable<Config['adminApi']>['credentials']): AdminAuth {
  if (!c) throw new Error('admin_api: no credentials configured');
  if (c.kind === 'api-key') return { kind: 'api-key', keyFile: c.apiKeyFile };
  if (c.kind === 'bearer') return { kind: 'bearer', tokenFile: c.bearerTokenFile };
  return { kind: 'login', username: c.username, passwordFile: c.passwordFile };
}

/** Reports every answer of a source (or its failure) with how long it took, for the metrics. */
function timed(source: TokenSource, observer: Observer): TokenSource {
  return {
    name: source.name,
    async acquire(signal) {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const got = await source.acquire(signal);
        observer.tokenAttempt(source.name, got ? 'success' : 'empty', seconds());
        return got;
      } catch (err) {
        observer.tokenAttempt(
          source.name,
          err instanceof TokenError ? tokenResultOf(err) : 'failure',
          seconds(),
        );
        throw err;
      }
    },
  };
}

/**
 * Builds each agent's token sources: the configured ones, in order, for the upstream agent; the nested server's
 * Agent API for the downstream agent (its tokens name the workload entries' parent alias); each after the agent's
 * own token file. `close` releases the admin API client.
 */
export async function buildTokenSources(
  config: Config,
  env: NodeJS.ProcessEnv,
  observer: Observer = NO_OBSERVER,
): Promise<{ sources: Record<Agent, TokenSource[]>; close(): void }> {
  const store = createTokenStore({ path: config.token.file });
  const sources: TokenSource[] = [];
  const closers: (() => void)[] = [];
  for (const name of config.token.sources) {
    if (name === 'credentials') {
      // systemd sets $CREDENTIALS_DIRECTORY only for units with LoadCredential=; without it the source is empty.
      const directory = env.CREDENTIALS_DIRECTORY;
      if (directory) sources.push(credentialsSource({ directory, name: config.token.credentialName }));
    } else if (name === 'file') {
      sources.push(fileSource({ store }));
    } else if (name === 'admin-api' && config.adminApi) {
      const api = config.adminApi;
      const client = await createAdminClient({
        url: api.url,
        auth: adminAuth(api.credentials),
        caFile: api.caFile ?? undefined,
        allowHttp: api.allowHttp,
        connectTimeoutMs: api.connectTimeoutMs,
        timeoutMs: api.timeoutMs,
      });
      closers.push(() => client.close());
      sources.push(
        adminApiSource({
          client,
          request: {
            ttlSeconds: config.token.ttlSeconds,
            registerDownstream: true,
            downstream: configuredDownstream(config),
          },
        }),
      );
    } else if (name === 'spire-server' && config.spireServer) {
      sources.push(
        spireServerSource({
          socketPath: config.spireServer.socketPath,
          ttlSeconds: config.token.ttlSeconds,
          trustDomain: config.trustDomain,
        }),
      );
    }
  }
  // Each agent's own token file first, whatever the configured sources: after a crash before attestation it
  // holds the token minted for that agent, still unused, which must be offered before another one is minted.
  if (!config.token.sources.includes('file')) sources.unshift(fileSource({ store }));
  const downstreamFile = fileSource({
    store: createTokenStore({ path: pathLayout(config).downstreamAgent.joinTokenFile }),
  });
  const nested = spireServerSource({
    name: 'nested-server',
    socketPath: config.nestedServer.socketPath,
    ttlSeconds: DOWNSTREAM_TOKEN_TTL_SECONDS,
    agentId: downstreamAgentAlias(config),
    trustDomain: config.trustDomain,
  });
  return {
    sources: {
      'upstream-agent': sources.map((s) => timed(s, observer)),
      'downstream-agent': [timed(downstreamFile, observer), timed(nested, observer)],
    },
    close: () => {
      for (const c of closers) c();
    },
  };
}
