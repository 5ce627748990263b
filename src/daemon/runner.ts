// Builds what the effects act on (src/daemon/effects.ts): each agent's token keeper, the child handles whose
// output and exits come back as events, the identity reports, the timers.
import { agentLayout, agentTokenFile, type Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { ChildExit } from '../supervisor/child-types.js';
import type { BurnedTokens } from '../token/burned.js';
import type { TokenSource } from '../token/sources.js';
import { createTokenStore } from '../token/store.js';
import { AgentTokens } from './agent-tokens.js';
import type { ChildFactory } from './children.js';
import type { Runner, Scheduler } from './effects.js';
import { IdentityReports } from './identity-report.js';
import { tokenRefusalIn } from './machine-agent-output.js';
import { type Agent, type Child, type EventBody, isAgent, type MachineState } from './machine-types.js';
import type { Notifier } from './notify.js';
import { NO_OBSERVER, type Observer } from './observe.js';
import { registerEntries, registerUpstreamDownstreamEntry, setAsideIdentity } from './register.js';
import { timerScheduler } from './scheduler.js';

export interface DaemonDeps {
  config: Config;
  layout: Layout;
  logger: Logger;
  notifier: Notifier;
  sources: Record<Agent, TokenSource[]>;
  burned: BurnedTokens;
  children: ChildFactory;
  observer?: Observer;
  now?: () => number;
  random?: () => number;
  scheduler?: Scheduler;
  registerEntries?: Runner['registerEntries'];
}

/** The daemon's side of the runner: its current config and state, and where events go. */
export interface RunnerCore {
  config(): Config;
  state(): MachineState;
  dispatch(event: EventBody): void;
  signal: AbortSignal;
}

/** What a child's line or exit means as an event (a refusal of its token, an exit, a spawn failure). */
function childHooks(child: Child, dispatch: (event: EventBody) => void) {
  return {
    onLine(raw: string) {
      const refusal = isAgent(child) ? tokenRefusalIn(raw) : null;
      if (refusal) dispatch({ type: 'token-refused', child, refusal });
    },
    onExit(exit: ChildExit) {
      if (!exit.spawnError) {
        dispatch({ type: 'child-exited', child, code: exit.exitCode ?? null, signal: exit.signal ?? null });
        return;
      }
      const setting = child === 'nested-server' ? 'spire.server_path' : 'spire.agent_path';
      dispatch({
        type: 'child-failed',
        child,
        failure: {
          step: 'child',
          source: child,
          code: 'spawn-failed',
          retryable: false,
          retryAfterMs: null,
          message: `cannot start the ${child}: ${exit.spawnError.message}`,
          hint: `check ${setting} in the configuration`,
        },
      });
    },
  };
}

export function createRunner(deps: DaemonDeps, core: RunnerCore): Runner {
  const now = deps.now ?? Date.now;
  const observer = deps.observer ?? NO_OBSERVER;
  const tokens = (agent: Agent) =>
    new AgentTokens({
      agent,
      sources: deps.sources[agent],
      store: createTokenStore({ path: agentTokenFile(deps.layout, agent) }),
      burned: deps.burned,
      logger: deps.logger,
      observer,
      now,
      // Direct mode: without its downstream entry on the cluster server the token is useless.
      afterMint: async (t) => {
        if (t.source === 'spire-server' && t.parentId)
          await registerUpstreamDownstreamEntry(core.config(), t.parentId);
      },
    });
  const child = (name: Child) => deps.children(name, childHooks(name, core.dispatch));
  return {
    config: core.config,
    layout: deps.layout,
    logger: deps.logger,
    observer,
    notifier: deps.notifier,
    tokens: { 'upstream-agent': tokens('upstream-agent'), 'downstream-agent': tokens('downstream-agent') },
    children: {
      'upstream-agent': child('upstream-agent'),
      'nested-server': child('nested-server'),
      'downstream-agent': child('downstream-agent'),
    },
    identities: new IdentityReports(core.config, deps.layout, observer, now),
    scheduler: deps.scheduler ?? timerScheduler(),
    written: new Map(),
    signal: core.signal,
    now,
    state: core.state,
    dispatch: core.dispatch,
    setAside: (agent, at) => setAsideIdentity(agentLayout(deps.layout, agent), at),
    registerEntries: deps.registerEntries ?? ((config) => registerEntries(config, deps.layout)),
  };
}
