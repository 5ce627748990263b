// What each effect of the machine does, and which event reports its failure: the runner looks both up here and
// decides nothing itself. An effect resolves with the event that reports its result, or with nothing.
import { agentLayout, agentTokenFile, type Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { inspectIdentity } from '../spire/identity.js';
import { attestedTokenFingerprint } from '../spire/join-token-id.js';
import { chooseJoinToken, type JoinTokenRef } from '../spire/render-common.js';
import type { PidFiles } from '../supervisor/pidfiles.js';
import type { AgentTokens } from './agent-tokens.js';
import { type ChildHandle, childSpec } from './children.js';
import { failureOf } from './failures.js';
import type { IdentityReports } from './identity-report.js';
import type { Agent, Child, Effect, EventBody, MachineState, TimerKey } from './machine-types.js';
import type { Notifier } from './notify.js';
import type { Observer } from './observe.js';
import type { Registered } from './register.js';
import { configPath, writeRendered } from './rendered.js';

export interface Scheduler {
  set(key: TimerKey, afterMs: number, fire: () => void): void;
  clear(key: TimerKey): void;
  clearAll(): void;
}

/** Everything an effect may touch. */
export interface Runner {
  config(): Config;
  readonly layout: Layout;
  readonly logger: Logger;
  readonly observer: Observer;
  readonly notifier: Notifier;
  readonly tokens: Record<Agent, AgentTokens>;
  readonly children: Record<Child, ChildHandle>;
  readonly identities: IdentityReports;
  readonly scheduler: Scheduler;
  readonly written: Map<Child, string>;
  readonly pids: PidFiles;
  /** Aborted once the daemon is asked to stop. */
  readonly signal: AbortSignal;
  now(): number;
  state(): MachineState;
  dispatch(event: EventBody): void;
  setAside(agent: Agent, at: number): Promise<void>;
  registerEntries(config: Config): Promise<Registered>;
}

type Perform<E extends Effect> = (run: Runner, effect: E) => Promise<EventBody | undefined>;
type Performers = { [K in Effect['type']]: Perform<Extract<Effect, { type: K }>> };
type OnFailure = {
  [K in Effect['type']]: ((effect: Extract<Effect, { type: K }>, err: unknown) => EventBody) | null;
};

/** How an agent's config carries its token: the file from SPIRE 1.13.3, inline before; none without a token. */
function tokenRef(run: Runner, child: Child, withToken: boolean): JoinTokenRef {
  const value = child === 'nested-server' ? undefined : run.tokens[child].value;
  if (!withToken || child === 'nested-server' || value === undefined) return { kind: 'none' };
  return chooseJoinToken(run.config().spire.version, agentTokenFile(run.layout, child), value);
}

async function startChild(run: Runner, { child, withToken }: Extract<Effect, { type: 'start-child' }>) {
  const config = run.config();
  await writeRendered(run.written, config, run.layout, child, tokenRef(run, child, withToken));
  // A stop that came in meanwhile has already stopped everything running: never spawn after it.
  if (run.signal.aborted) return undefined;
  const handle = run.children[child];
  handle.start(childSpec(config, run.layout, child));
  if (handle.pid !== undefined) {
    await run.pids.record(child, handle.pid, configPath(run.layout, child)).catch((err: Error) => {
      run.logger.warn(
        { child, err: err.message },
        'cannot record the child pid; a killed daemon may leave it running',
      );
    });
  }
  try {
    await handle.ready(run.signal);
  } catch {
    return undefined; // the exit is reported through the child's exit hook
  }
  if (child === 'nested-server') {
    // Its CA's expiry is only reported (status, metrics): the TLS look at it need not hold up the next child.
    void run.identities.read(child);
    return { type: 'child-ready', child, svidExpiresAt: null } satisfies EventBody;
  }
  const svidExpiresAt = await run.identities.read(child);
  return { type: 'child-ready', child, svidExpiresAt } satisfies EventBody;
}

const PERFORM: Performers = {
  async 'inspect-identity'(run, { agent }) {
    const { dataDir, keysDir } = agentLayout(run.layout, agent);
    const margin = run.config().identitySafetyMarginSeconds;
    const found = await inspectIdentity(dataDir, keysDir, new Date(run.now()), margin);
    const onDisk = await run.tokens[agent].onDisk();
    const source = agent === 'upstream-agent' ? 'file' : 'nested-server';
    return {
      type: 'identity-inspected',
      agent,
      status: found.status,
      reason: found.reason,
      expiresAt: found.expiresAt?.getTime() ?? null,
      attestedWith: attestedTokenFingerprint(found.spiffeId),
      tokenFile: onDisk && { source, ...onDisk },
    };
  },
  async 'set-aside-identity'(run, { agent, reason }) {
    await run.setAside(agent, run.now());
    run.logger.warn({ agent, reason }, `the ${agent} identity was corrupt and has been moved aside`);
    return undefined;
  },
  'acquire-token': (run, { agent }) => run.tokens[agent].acquire(run.signal),
  async 'write-token'(run, { agent }) {
    await run.tokens[agent].write();
    return { type: 'step-done', step: { name: 'write-token', agent } };
  },
  async 'release-token'(run, { agent, how, reason }) {
    const token = run.state().tokens[agent];
    try {
      if (token !== null) await run.tokens[agent].release(token, { how, reason });
    } finally {
      // Before SPIRE 1.13.3 the token was inline in the config: that config must not outlive it, whatever failed.
      await writeRendered(run.written, run.config(), run.layout, agent, { kind: 'none' });
    }
    return { type: 'token-released', agent, failure: null };
  },
  'start-child': startChild,
  async 'stop-child'(run, { child, reason }) {
    await run.children[child].stop(reason);
    return undefined;
  },
  async 'register-entries'(run) {
    const done = await run.registerEntries(run.config());
    run.observer.entriesReconciled(done.counts);
    run.logger.info({ entries: done.counts }, 'entries reconciled on the nested server');
    return { type: 'step-done', step: { name: 'register-entries', agent: null } };
  },
  async 'notify-ready'(run) {
    await run.notifier.ready('ready');
    return undefined;
  },
  async 'set-timer'(run, { key, afterMs, dueAt }) {
    run.scheduler.set(key, afterMs, () => run.dispatch({ type: 'timer-fired', key, dueAt }));
    return undefined;
  },
  async 'clear-timer'(run, { key }) {
    run.scheduler.clear(key);
    return undefined;
  },
  async 'clear-timers'(run) {
    run.scheduler.clearAll();
    return undefined;
  },
  async 'stop-children'(run, { children }) {
    await run.notifier.stopping('stopping');
    for (const child of children) await run.children[child].stop('shutdown');
    return { type: 'stopped' };
  },
};

const inspectFailed = ({ agent }: { agent: Agent }, err: unknown): EventBody => ({
  type: 'step-failed',
  step: { name: 'inspect-identity', agent },
  failure: failureOf('inspect-identity', agent, err),
});

/** The event that reports each effect's failure; null: only logged (the machine does not wait for it). */
const ON_FAILURE: OnFailure = {
  'inspect-identity': inspectFailed,
  'set-aside-identity': inspectFailed,
  'acquire-token': ({ agent }, err) => ({
    type: 'token-failed',
    agent,
    failure: failureOf('acquire-token', null, err),
    mints: 0,
  }),
  'write-token': ({ agent }, err) => ({
    type: 'step-failed',
    step: { name: 'write-token', agent },
    failure: failureOf('write-token', agent, err),
  }),
  'release-token': ({ agent }, err) => ({
    type: 'token-released',
    agent,
    failure: failureOf('release-token', agent, err),
  }),
  'start-child': ({ child }, err) => ({
    type: 'child-failed',
    child,
    failure: failureOf('child', child, err),
  }),
  'register-entries': (_e, err) => ({
    type: 'step-failed',
    step: { name: 'register-entries', agent: null },
    failure: failureOf('register-entries', 'nested-server', err),
  }),
  'stop-child': null,
  'notify-ready': null,
  'set-timer': null,
  'clear-timer': null,
  'clear-timers': null,
  'stop-children': null,
};

/** Performs one effect; resolves with the event to dispatch (its result, or its failure), if any. */
export async function perform(run: Runner, effect: Effect): Promise<EventBody | undefined> {
  const fn = PERFORM[effect.type] as Perform<Effect>;
  try {
    return await fn(run, effect);
  } catch (err) {
    const onFailure = ON_FAILURE[effect.type] as ((e: Effect, err: unknown) => EventBody) | null;
    if (onFailure) return onFailure(effect, err);
    run.logger.error(
      { effect: effect.type, err: err instanceof Error ? err.message : String(err) },
      'effect failed',
    );
    return undefined;
  }
}
