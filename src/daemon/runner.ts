// Builds what the effects act on (src/daemon/effects.ts): each agent's token keeper, the child handles whose
// output and exits come back as events, the identity reports, the timers.
import { agentLayout, agentTokenFile, type Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { type CauseContext, causeOf } from '../spire/causes.js';
import { maskJoinTokenIds } from '../spire/join-token-id.js';
import { nestedServerHost } from '../spire/render-agent.js';
import type { ChildExit } from '../supervisor/child-types.js';
import type { ParsedLine } from '../supervisor/logrus.js';
import { type PidFiles, pidFiles } from '../supervisor/pidfiles.js';
import type { BurnedTokens } from '../token/burned.js';
import type { MintLog } from '../token/mint-log.js';
import type { TokenSource } from '../token/sources.js';
import { createTokenStore } from '../token/store.js';
import { AgentTokens } from './agent-tokens.js';
import type { ChildFactory } from './children.js';
import type { Runner, Scheduler } from './effects.js';
import { IdentityReports } from './identity-report.js';
import { type Agent, type Child, type EventBody, isAgent, type MachineState } from './machine-types.js';
import type { Notifier } from './notify.js';
import { NO_OBSERVER, type Observer } from './observe.js';
import { registerEntries, registerUpstreamDownstreamEntry, setAsideIdentity } from './register.js';
import { timerScheduler } from './scheduler.js';

// SPIRE's agent logs it once the server has accepted (and so burned) its join token (pkg/agent/attestor/node).
const ATTESTED = 'Node attestation was successful';

export interface DaemonDeps {
  config: Config;
  layout: Layout;
  logger: Logger;
  notifier: Notifier;
  sources: Record<Agent, TokenSource[]>;
  burned: BurnedTokens;
  /** Where the machine's mint times outlive a restart (token.max_per_hour); without it they start empty. */
  mints?: MintLog<Agent>;
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

function causeContext(config: Config, identities: IdentityReports): CauseContext {
  const agentId = identities.all['upstream-agent']?.spiffeId;
  return {
    upstreamServer: `${config.upstream.serverAddress}:${config.upstream.serverPort}`,
    nestedServer: `${nestedServerHost(config)}:${config.nestedServer.bindPort}`,
    trustBundlePath: config.upstream.trustBundlePath,
    downstreamId: config.downstream.spiffeId,
    // It names the token: only its fingerprint may reach a message.
    upstreamAgentId: agentId ? maskJoinTokenIds(agentId) : null,
    stateDir: config.stateDir,
  };
}

/** What a child's line or exit means as an event (a refusal of its token, a named cause, an exit). */
function childHooks(
  child: Child,
  dispatch: (event: EventBody) => void,
  context: () => CauseContext,
  pids: PidFiles,
) {
  return {
    onLine(line: ParsedLine) {
      if (isAgent(child) && line.msg === ATTESTED) dispatch({ type: 'child-attested', child });
      const cause = causeOf(child, line, context());
      if (cause === null) return;
      if (cause.code === 'token-rejected' || cause.code === 'token-expired') {
        dispatch({ type: 'token-refused', child, refusal: cause.code });
        return;
      }
      const { code, message, hint, retryable } = cause;
      dispatch({
        type: 'child-reported',
        child,
        failure: { step: 'child', source: child, code, retryable, retryAfterMs: null, message, hint },
      });
    },
    onExit(exit: ChildExit) {
      void pids.forget(child).catch(() => undefined);
      // Through setpriv, a missing binary is setpriv's exit 127 rather than a spawn error.
      const missing = exit.exitCode === 127 && exit.lines.some((l) => l.includes('failed to execute'));
      const spawnError = exit.spawnError ?? (missing ? new Error(exit.lines.at(-1)) : undefined);
      if (!spawnError) {
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
          message: `cannot start the ${child}: ${spawnError.message}`,
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
      // Direct mode: without its downstream entry on the cluster server the token is useless. The entry goes
      // where the token came from: the sources are built from the config at start (a reload changes neither).
      afterMint: async (t) => {
        if (t.source !== 'spire-server' || !t.parentId) return;
        const config = deps.config;
        const expiresAt = t.expiresAt ?? new Date(now() + config.token.ttlSeconds * 1000);
        const pruned = await registerUpstreamDownstreamEntry(config, t.parentId, expiresAt, (err) =>
          deps.logger.warn(
            { err: maskJoinTokenIds((err as Error).message) },
            'pruning stale downstream entries failed',
          ),
        );
        if (pruned.length > 0)
          deps.logger.info({ entryIds: pruned }, 'pruned stale downstream entries on the cluster server');
      },
    });
  const identities = new IdentityReports(core.config, deps.layout, observer, now);
  const context = () => causeContext(core.config(), identities);
  const pids = pidFiles(deps.layout.pidDir);
  const child = (name: Child) => deps.children(name, childHooks(name, core.dispatch, context, pids));
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
    identities,
    scheduler: deps.scheduler ?? timerScheduler(),
    written: new Map(),
    pids,
    signal: core.signal,
    now,
    state: core.state,
    dispatch: core.dispatch,
    setAside: (agent, at) => setAsideIdentity(agentLayout(deps.layout, agent), at),
    registerEntries: deps.registerEntries ?? ((config) => registerEntries(config, deps.layout)),
  };
}
