// Where every file and directory lives, computed once from the config so the daemon and renderers agree.

import { posix } from 'node:path';
import type { Config } from './types.js';

export interface AgentLayout {
  /** The agent's data_dir: holds agent-data.json (its SVID and bundle). */
  readonly dataDir: string;
  readonly agentDataFile: string;
  /** KeyManager "disk" directory: holds keys.json. */
  readonly keysDir: string;
  readonly keysFile: string;
  readonly socketPath: string;
  readonly configFile: string;
}

export interface Layout {
  readonly stateDir: string;
  readonly runDir: string;
  /** Rendered SPIRE configs; under the run dir because an inline join token may be in them. */
  readonly configDir: string;
  readonly upstreamAgent: AgentLayout;
  readonly downstreamAgent: AgentLayout & {
    /** The nested server's bundle, written by the daemon, that the downstream agent bootstraps from. */
    readonly trustBundleFile: string;
    /** The downstream agent's transient join token (join_token_file, SPIRE >= 1.13.3). */
    readonly joinTokenFile: string;
  };
  readonly nestedServer: {
    readonly dataDir: string;
    readonly datastoreFile: string;
    readonly keysFile: string;
    readonly socketPath: string;
    readonly configFile: string;
  };
  /** The upstream agent's transient join token file. */
  readonly upstreamJoinTokenFile: string;
  /** One pid file per running child, for the next daemon to find what this one left behind. */
  readonly pidDir: string;
}

/** Computes the path layout: identity data under the state dir, sockets and tokens under the run dir (§8). */
export function pathLayout(config: Config): Layout {
  const { stateDir, runDir } = config;
  const state = (...parts: string[]): string => posix.join(stateDir, ...parts);
  const configDir = posix.join(runDir, 'conf');
  const agent = (name: string, socketPath: string): AgentLayout => ({
    dataDir: state(name, 'data'),
    agentDataFile: state(name, 'data', 'agent-data.json'),
    keysDir: state(name, 'keys'),
    keysFile: state(name, 'keys', 'keys.json'),
    socketPath,
    configFile: posix.join(configDir, `${name}.conf`),
  });
  return {
    stateDir,
    runDir,
    configDir,
    upstreamAgent: agent('upstream-agent', config.upstreamAgent.socketPath),
    downstreamAgent: {
      ...agent('downstream-agent', config.downstreamAgent.socketPath),
      trustBundleFile: state('downstream-agent', 'bootstrap-bundle.pem'),
      joinTokenFile: posix.join(runDir, 'downstream-join-token'),
    },
    nestedServer: {
      dataDir: state('server', 'data'),
      datastoreFile: state('server', 'data', 'datastore.sqlite3'),
      keysFile: state('server', 'keys', 'keys.json'),
      socketPath: config.nestedServer.socketPath,
      configFile: posix.join(configDir, 'server.conf'),
    },
    upstreamJoinTokenFile: config.token.file,
    pidDir: posix.join(runDir, 'pids'),
  };
}

/** An agent's part of the layout, by its child name. */
export function agentLayout(layout: Layout, agent: 'upstream-agent' | 'downstream-agent'): AgentLayout {
  return agent === 'upstream-agent' ? layout.upstreamAgent : layout.downstreamAgent;
}

/** Where an agent's join token waits for it. */
export function agentTokenFile(layout: Layout, agent: 'upstream-agent' | 'downstream-agent'): string {
  return agent === 'upstream-agent' ? layout.upstreamJoinTokenFile : layout.downstreamAgent.joinTokenFile;
}
