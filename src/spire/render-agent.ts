// Renders the upstream agent (joins the cluster's SPIRE) and the downstream agent (serves the poller) configs.

import type { Layout } from '../config/layout.js';
import type { Config, Selector } from '../config/types.js';
import { attr, block, type HclNode, renderHcl } from './hcl.js';
import {
  healthChecks,
  type JoinTokenRef,
  joinTokenAttributes,
  plugin,
  type RenderOptions,
  spireLogLevel,
  targetVersion,
  workloadAttestorUnix,
} from './render-common.js';
import type { SpireVersion } from './version.js';

interface AgentSpec {
  readonly dataDir: string;
  readonly keysDir: string;
  readonly socketPath: string;
  readonly serverAddress: string;
  readonly serverPort: number;
  readonly trustBundle: HclNode;
  readonly joinToken: JoinTokenRef;
  readonly selectors: readonly Selector[];
  readonly healthPort: number;
}

// No retry_bootstrap / rebootstrap_* keys at all: retry_bootstrap is gone in 1.14, and join-token agents cannot
// rebootstrap; the daemon itself restarts the agent and acquires a new token when attestation fails.
function renderAgent(config: Config, spec: AgentSpec, version: SpireVersion): string {
  return renderHcl([
    block(
      'agent',
      [],
      [
        attr('data_dir', spec.dataDir),
        attr('log_level', spireLogLevel(config)),
        attr('log_format', 'json'),
        attr('server_address', spec.serverAddress),
        attr('server_port', spec.serverPort),
        attr('socket_path', spec.socketPath),
        attr('trust_domain', config.trustDomain),
        spec.trustBundle,
        ...joinTokenAttributes(spec.joinToken, version),
      ],
    ),
    block(
      'plugins',
      [],
      [
        plugin('NodeAttestor', 'join_token', []),
        // "disk", not "memory": the key must survive restarts or every restart burns a token (DESIGN §1).
        plugin('KeyManager', 'disk', [attr('directory', spec.keysDir)]),
        workloadAttestorUnix(spec.selectors),
      ],
    ),
    healthChecks(spec.healthPort),
  ]);
}

/** upstream-agent.conf: joins the cluster's SPIRE server with a join token; serves the nested server its SVID. */
export function renderUpstreamAgentConfig(
  config: Config,
  layout: Layout,
  joinToken: JoinTokenRef,
  options?: RenderOptions,
): string {
  const { upstream } = config;
  const trustBundle =
    upstream.trustBundlePath === null
      ? attr('insecure_bootstrap', true)
      : attr('trust_bundle_path', upstream.trustBundlePath);
  return renderAgent(
    config,
    {
      dataDir: layout.upstreamAgent.dataDir,
      keysDir: layout.upstreamAgent.keysDir,
      socketPath: layout.upstreamAgent.socketPath,
      serverAddress: upstream.serverAddress,
      serverPort: upstream.serverPort,
      trustBundle,
      joinToken,
      // This agent attests the nested server, which the downstream entry's selectors describe.
      selectors: config.downstream.selectors,
      healthPort: config.upstreamAgent.healthPort,
    },
    targetVersion(config, options),
  );
}

export interface DownstreamAgentOptions extends RenderOptions {
  readonly joinToken: JoinTokenRef;
  /** The nested server's bundle, written by the daemon before the agent starts. */
  readonly trustBundlePath: string;
}

/** downstream-agent.conf: joins the nested server on loopback and serves the poller's workloads. */
export function renderDownstreamAgentConfig(
  config: Config,
  layout: Layout,
  options: DownstreamAgentOptions,
): string {
  return renderAgent(
    config,
    {
      dataDir: layout.downstreamAgent.dataDir,
      keysDir: layout.downstreamAgent.keysDir,
      socketPath: layout.downstreamAgent.socketPath,
      serverAddress: nestedServerHost(config),
      serverPort: config.nestedServer.bindPort,
      trustBundle: attr('trust_bundle_path', options.trustBundlePath),
      joinToken: options.joinToken,
      selectors: config.workloads.flatMap((w) => w.selectors),
      healthPort: config.downstreamAgent.healthPort,
    },
    targetVersion(config, options),
  );
}

/** Where this host reaches the nested server: it may listen on a wildcard address, but is dialled on loopback. */
export function nestedServerHost(config: Config): string {
  const { bindAddress } = config.nestedServer;
  if (bindAddress === '0.0.0.0') return '127.0.0.1';
  if (bindAddress === '::' || bindAddress === '[::]') return '::1';
  return bindAddress;
}
