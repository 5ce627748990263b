// The three supervised SPIRE processes: what each runs (from the current config) and the handles the runner
// drives. Only `run -config FILE` reaches argv; tokens travel in 0600 files or configs.

import { spawnSync } from 'node:child_process';
import type { Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { Child as ChildProcess } from '../supervisor/child.js';
import type { ChildExit, ChildSpec } from '../supervisor/child-types.js';
import type { ParsedLine } from '../supervisor/logrus.js';
import type { Child } from './machine-types.js';
import { configPath } from './rendered.js';

/** What the runner needs of a supervised child; tests substitute fakes. */
export interface ChildHandle {
  readonly pid: number | undefined;
  start(spec: ChildSpec): void;
  /** Resolves once ready; rejects if the run ends first or `signal` aborts. */
  ready(signal: AbortSignal): Promise<void>;
  /** Resolves once the run has ended. */
  stop(reason: string): Promise<unknown>;
}

export interface ChildHooks {
  onLine(line: ParsedLine): void;
  onExit(exit: ChildExit): void;
}

export type ChildFactory = (name: Child, hooks: ChildHooks) => ChildHandle;

// What SPIRE logs the moment it serves the socket the probe asks (agent: its Workload API endpoints; server:
// its APIs, the admin socket last).
const AGENT_READY_LINE = /Starting Workload and SDS APIs/;
const SERVER_READY_LINE = /Starting Server APIs.*(unix|UDS|\.sock)/;

const CHILD_CONFIG: Record<Child, (c: Config) => { socketPath: string }> = {
  'upstream-agent': (c) => c.upstreamAgent,
  'nested-server': (c) => c.nestedServer,
  'downstream-agent': (c) => c.downstreamAgent,
};

/**
 * The command line, environment and readiness probe of one child under `config`. Readiness is asked of the
 * child's own socket: the agents' Workload API socket, the server's admin socket.
 */
export function childSpec(config: Config, layout: Layout, child: Child): ChildSpec {
  const command = child === 'nested-server' ? config.spire.serverPath : config.spire.agentPath;
  return {
    command,
    args: ['run', '-config', configPath(layout, child)],
    env: { ...config.spire.childEnv },
    readiness: { socketPath: CHILD_CONFIG[child](config).socketPath },
    readyLine: child === 'nested-server' ? SERVER_READY_LINE : AGENT_READY_LINE,
  };
}

/** setpriv(1) when it can set a parent-death signal (util-linux ≥ 2.33); undefined otherwise. */
export function findSetpriv(): string | undefined {
  for (const path of ['/usr/bin/setpriv', '/bin/setpriv']) {
    const help = spawnSync(path, ['--help'], { encoding: 'utf8', timeout: 2_000 });
    if (help.status === 0 && help.stdout.includes('--pdeathsig')) return path;
  }
  return undefined;
}

/** Real child processes, re-logged through `logger`, escalating to SIGKILL after `graceMs`. */
export function processChildren(logger: Logger, graceMs: number, setpriv?: string): ChildFactory {
  return (name, hooks) => {
    const child = new ChildProcess({
      name,
      logger,
      graceMs,
      setpriv,
      onLine: (parsed) => hooks.onLine(parsed),
      onExit: (exit) => hooks.onExit(exit),
    });
    return {
      get pid() {
        return child.pid;
      },
      start: (spec) => child.start(spec),
      ready: (signal) => child.ready(signal),
      stop: (reason) => child.stop(reason),
    };
  };
}
