// The three supervised SPIRE processes: how each is started and how its readiness is probed.
import type { Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { Child } from '../supervisor/child.js';
import type { ChildExit } from '../supervisor/child-types.js';
import type { ParsedLine } from '../supervisor/logrus.js';
import type { Child as ChildName } from './machine.js';

export interface ChildHooks {
  onLine(child: ChildName, raw: string, parsed: ParsedLine): void;
  onExit(child: ChildName, exit: ChildExit): void;
}

/** Creates the supervised children. Only `-config FILE` reaches argv; tokens travel in 0600 files or configs. */
export function createChildren(config: Config, layout: Layout, logger: Logger, hooks: ChildHooks) {
  const env = { ...config.spire.childEnv };
  const make = (name: ChildName, command: string, configFile: string, healthPort: number) =>
    new Child({
      name,
      command,
      args: ['run', '-config', configFile],
      env,
      readiness: { url: `http://127.0.0.1:${healthPort}/ready` },
      logger,
      onLine: (parsed, raw) => hooks.onLine(name, raw, parsed),
      onExit: (exit) => hooks.onExit(name, exit),
    });
  return {
    'upstream-agent': make(
      'upstream-agent',
      config.spire.agentPath,
      layout.upstreamAgent.configFile,
      config.upstreamAgent.healthPort,
    ),
    'nested-server': make(
      'nested-server',
      config.spire.serverPath,
      layout.nestedServer.configFile,
      config.nestedServer.healthPort,
    ),
    'downstream-agent': make(
      'downstream-agent',
      config.spire.agentPath,
      layout.downstreamAgent.configFile,
      config.downstreamAgent.healthPort,
    ),
  } satisfies Record<ChildName, Child>;
}

export type Children = ReturnType<typeof createChildren>;
