// The effect runner: feeds events to the pure state machine and carries out the effects it asks for.
import type { Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Identity } from '../observability/metrics-labels.js';
import type { IdentityReport } from '../observability/status.js';
import { inspectIdentity } from '../spire/identity.js';
import { chooseJoinToken, type JoinTokenRef } from '../spire/render-common.js';
import { peekServerIdentity } from '../spire/server-identity.js';
import { mustParseSpireVersion } from '../spire/version.js';
import type { ChildExit } from '../supervisor/child-types.js';
import type { TokenSource } from '../token/sources.js';
import { createTokenStore } from '../token/store.js';
import { type Children, createChildren } from './children.js';
import { jitterDelay } from './jitter.js';
import {
  CHILDREN,
  type Child,
  classifyAgentExit,
  classifyAgentLine,
  type Effect,
  type ExitReason,
  initialState,
  type MachineEvent,
  type MachinePolicy,
  type MachineState,
  transition,
  type WithoutAt,
} from './machine.js';
import type { Notifier } from './notify.js';
import { NO_OBSERVER, type Observer } from './observe.js';
import { downstreamTokenIfNeeded, registerEntries, setAsideIdentity } from './register.js';
import { type RenderedFiles, writeRendered } from './rendered.js';
import { UpstreamToken } from './upstream-token.js';

export const DEFAULT_POLICY: MachinePolicy = {
  maxTokensPerHour: 6,
  tokenRetry: { initialMs: 1_000, maxMs: 300_000 },
  restart: { initialMs: 500, maxMs: 60_000 },
  restartResetAfterMs: 60_000,
};

const STOP_GRACE_MS = 10_000;

export interface DaemonDeps {
  config: Config;
  layout: Layout;
  logger: Logger;
  notifier: Notifier;
  sources: TokenSource[];
  observer?: Observer;
  now?: () => number;
}

/** One bootstrap run: `start()`, then `stop()` on a signal; `stopped` settles when every child is gone. */
export class Daemon {
  readonly #deps: DaemonDeps;
  /** Replaced by a reload; renders and entry registration use the newest. */
  #config: Config;
  readonly #now: () => number;
  readonly #bootAt: number;
  readonly #identity: Record<string, IdentityReport> = {};
  readonly #observer: Observer;
  readonly #children: Children;
  readonly #token: UpstreamToken;
  readonly #files: RenderedFiles;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #exitReasons: Partial<Record<Child, ExitReason>> = {};
  readonly #abort = new AbortController();
  #state: MachineState;
  #queue: MachineEvent[] = [];
  #draining = false;
  #downstreamToken: string | undefined;
  #tokenOps: Promise<unknown> = Promise.resolve();
  #resolveStopped!: () => void;
  readonly stopped = new Promise<void>((resolve) => {
    this.#resolveStopped = resolve;
  });

  constructor(deps: DaemonDeps) {
    this.#deps = deps;
    this.#config = deps.config;
    this.#now = deps.now ?? Date.now;
    this.#bootAt = this.#now();
    this.#state = initialState(
      { ...DEFAULT_POLICY, maxTokensPerHour: deps.config.token.maxPerHour },
      this.#now(),
    );
    this.#observer = deps.observer ?? NO_OBSERVER;
    this.#token = new UpstreamToken(
      deps.sources,
      createTokenStore({ path: deps.layout.upstreamJoinTokenFile }),
      deps.logger,
      this.#observer,
    );
    this.#files = { config: deps.config, layout: deps.layout, last: new Map() };
    this.#children = createChildren(deps.config, deps.layout, deps.logger, {
      onLine: (child, raw) => this.#onLine(child, raw),
      onExit: (child, exit) => this.#onExit(child, exit),
    });
  }

  get state(): MachineState {
    return this.#state;
  }

  get children(): Children {
    return this.#children;
  }

  /** SPIFFE IDs and expiries of the agents' identities, as last read from their data dirs. */
  get identity(): Readonly<Record<string, IdentityReport>> {
    return this.#identity;
  }

  /**
   * Applies a new config: re-renders every child's SPIRE config and restarts the running children whose config
   * changed (through the normal restart path). Binary paths, ports of the daemon itself and token sources take
   * effect at the next start of the daemon.
   */
  async reload(next: Config): Promise<Child[]> {
    this.#config = next;
    this.#files.config = next;
    const restarted: Child[] = [];
    for (const child of CHILDREN) {
      const changed = await writeRendered(this.#files, child, this.#refFor(child));
      const status = this.#children[child].state.status;
      if (changed && (status === 'ready' || status === 'starting')) {
        restarted.push(child);
        await this.#children[child].stop({ graceMs: STOP_GRACE_MS, reason: 'reload' });
      }
    }
    return restarted;
  }

  start(): void {
    this.#dispatch({ type: 'start' });
  }

  stop(): void {
    this.#abort.abort();
    this.#dispatch({ type: 'stop-requested' });
  }

  /** Fires a pending token retry now (a token file arrived, the trust bundle changed); a no-op otherwise. */
  poke(): void {
    if (this.#state.pending?.timer !== 'token-retry') return;
    // The machine waits on one timer at a time; the armed one would otherwise cut a later backoff short.
    this.#clearTimers();
    this.#dispatch({ type: 'timer-fired', timer: 'token-retry' });
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #dispatch(event: WithoutAt<MachineEvent>): void {
    this.#queue.push({ ...event, at: this.#now() } as MachineEvent);
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
        const before = this.#state;
        const { state, effects } = transition(before, next);
        this.#state = state;
        this.#observer.transition(before, state, next);
        if (state.phase !== before.phase)
          this.#deps.logger.info({ phase: state.phase }, `phase ${state.phase}`);
        if (state.lastError && state.lastError !== before.lastError) {
          this.#deps.logger.warn({ phase: state.lastError.phase }, state.lastError.message);
        }
        for (const effect of effects) void this.#run(effect);
      }
    } finally {
      this.#draining = false;
    }
  }

  async #run(effect: Effect): Promise<void> {
    const log = this.#deps.logger;
    try {
      switch (effect.type) {
        case 'inspect-identity':
          return await this.#inspect();
        case 'set-aside-identity':
          await setAsideIdentity(this.#deps.layout.upstreamAgent, this.#now());
          log.warn(
            { reason: effect.reason },
            'the upstream agent identity was corrupt and has been moved aside',
          );
          return;
        // Token effects run one after another: a discard must be done before the next token is written.
        case 'acquire-token':
          return await this.#serially(async () =>
            this.#dispatch(await this.#token.acquire(this.#config, this.#abort.signal)),
          );
        case 'write-token':
          return await this.#serially(async () => {
            await this.#token.write();
            this.#dispatch({ type: 'token-written' });
          });
        case 'discard-token':
        case 'consume-token':
          return await this.#serially(() => this.#release(effect));
        case 'start-child':
          return await this.#startChild(effect.child);
        case 'register-entries': {
          const done = await registerEntries(this.#config, this.#deps.layout);
          this.#observer.entriesReconciled(done.counts);
          log.info({ entries: done.counts }, 'entries reconciled on the nested server');
          return this.#dispatch({ type: 'entries-registered' });
        }
        case 'notify-ready':
          log.info({ seconds: (this.#now() - this.#startedAt()) / 1000 }, 'ready');
          return await this.#deps.notifier.ready('ready');
        case 'schedule': {
          const timer = setTimeout(
            () => {
              this.#timers.delete(timer);
              this.#dispatch(effect.event);
            },
            jitterDelay(effect.event.timer, effect.afterMs, this.#token.retryAfterMs),
          );
          this.#timers.add(timer);
          return;
        }
        case 'cancel-timers':
          return this.#clearTimers();
        case 'stop-children':
          await this.#deps.notifier.stopping('stopping');
          for (const child of effect.children)
            await this.#children[child].stop({ graceMs: STOP_GRACE_MS, reason: 'shutdown' });
          this.#dispatch({ type: 'stopped' });
          this.#resolveStopped();
          return;
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const step = effect.type;
      if (
        step === 'inspect-identity' ||
        step === 'write-token' ||
        step === 'consume-token' ||
        step === 'register-entries'
      ) {
        this.#dispatch({ type: 'step-failed', step, message });
      } else if (step === 'start-child') {
        this.#dispatch({ type: 'child-exited', child: effect.child, code: null, reason: 'other' });
        log.error({ child: effect.child }, message);
      } else {
        log.error({ effect: step }, message);
      }
    }
  }

  #startedAt(): number {
    return this.#bootAt;
  }

  async #readIdentity(child: 'upstream-agent' | 'downstream-agent'): Promise<void> {
    const { dataDir, keysDir } =
      child === 'upstream-agent' ? this.#deps.layout.upstreamAgent : this.#deps.layout.downstreamAgent;
    const found = await inspectIdentity(dataDir, keysDir, new Date(this.#now()), this.#margin()).catch(
      () => undefined,
    );
    this.#setIdentity(child, found?.spiffeId ?? null, found?.expiresAt?.getTime() ?? null);
  }

  #setIdentity(identity: Identity, spiffeId: string | null, expiresAt: number | null): void {
    this.#identity[identity] = { spiffeId, expiresAt };
    this.#observer.identityExpiry(identity, expiresAt);
  }

  /** The nested server's identity is the CA it serves agents with, signed through the upstream agent. */
  async #readServerIdentity(): Promise<void> {
    const { nestedServer } = this.#config;
    const host = nestedServer.bindAddress === '0.0.0.0' ? '127.0.0.1' : nestedServer.bindAddress;
    const found = await peekServerIdentity(host, nestedServer.bindPort).catch(() => undefined);
    this.#setIdentity('nested-server', found?.spiffeId ?? null, found?.caExpiresAt.getTime() ?? null);
  }

  /** Re-reads every identity's expiry (SVIDs rotate); called periodically and after each child is ready. */
  async refreshIdentities(): Promise<void> {
    if (this.#children['upstream-agent'].state.status === 'ready') await this.#readIdentity('upstream-agent');
    if (this.#children['nested-server'].state.status === 'ready') await this.#readServerIdentity();
    if (this.#children['downstream-agent'].state.status === 'ready')
      await this.#readIdentity('downstream-agent');
  }

  #margin(): number {
    return this.#config.identitySafetyMarginSeconds;
  }

  async #inspect(): Promise<void> {
    const { dataDir, keysDir } = this.#deps.layout.upstreamAgent;
    const found = await inspectIdentity(dataDir, keysDir, new Date(this.#now()), this.#margin());
    this.#setIdentity('upstream-agent', found.spiffeId ?? null, found.expiresAt?.getTime() ?? null);
    this.#dispatch({ type: 'identity-inspected', status: found.status, reason: found.reason });
  }

  #serially<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#tokenOps.then(op);
    this.#tokenOps = run.catch(() => undefined);
    return run;
  }

  /** Consumed or discarded, the token leaves its file and, for SPIRE < 1.13.3, the rendered config too. */
  async #release(effect: Extract<Effect, { type: 'consume-token' | 'discard-token' }>): Promise<void> {
    const consumed = effect.type === 'consume-token';
    const how = consumed ? 'consumed' : effect.reason === 'rejected' ? 'rejected' : 'discarded';
    try {
      await this.#token.release(how, consumed ? undefined : effect.reason);
    } finally {
      await writeRendered(this.#files, 'upstream-agent', { kind: 'none' });
    }
    if (consumed) this.#dispatch({ type: 'token-consumed' });
  }

  /** How a child's config carries its pending join token, if it has one. */
  #refFor(child: Child): JoinTokenRef {
    const layout = this.#deps.layout;
    const [token, file] =
      child === 'upstream-agent'
        ? [this.#token.value, layout.upstreamJoinTokenFile]
        : child === 'downstream-agent'
          ? [this.#downstreamToken, layout.downstreamAgent.joinTokenFile]
          : [undefined, ''];
    if (!token) return { kind: 'none' };
    return chooseJoinToken(mustParseSpireVersion(this.#config.spire.version), file, token);
  }

  /** Errors before the spawn are reported as the child's exit (the machine retries); after it, only logged. */
  async #startChild(child: Child): Promise<void> {
    const layout = this.#deps.layout;
    if (child === 'downstream-agent' && !this.#downstreamToken) {
      this.#downstreamToken = await downstreamTokenIfNeeded(this.#config, layout, this.#margin());
    }
    await writeRendered(this.#files, child, this.#refFor(child));
    // A stop that came in meanwhile has already stopped everything running: never spawn after it.
    if (this.#abort.signal.aborted) return;
    const handle = this.#children[child];
    handle.start();
    try {
      await handle.ready(this.#abort.signal);
    } catch {
      return; // the exit is reported through onExit
    }
    try {
      if (child === 'downstream-agent' && this.#downstreamToken) {
        this.#downstreamToken = undefined;
        await createTokenStore({ path: layout.downstreamAgent.joinTokenFile }).consume();
        await writeRendered(this.#files, child, { kind: 'none' });
      }
      await (child === 'nested-server' ? this.#readServerIdentity() : this.#readIdentity(child));
    } catch (err) {
      this.#deps.logger.warn({ child, err: (err as Error).message }, 'after-start housekeeping failed');
    }
    // It may have exited while the identity was read; that exit is already reported.
    if (handle.state.status === 'ready') this.#dispatch({ type: 'child-ready', child });
  }

  #onLine(child: Child, raw: string): void {
    if (child !== 'upstream-agent' || !this.#token.value || this.#exitReasons[child]) return;
    // SPIRE 1.13 would retry a refused token for a minute; the first refusal is final, so stop the agent now.
    const reason = classifyAgentLine(raw);
    if (reason === 'other') return;
    this.#exitReasons[child] = reason;
    void this.#children[child].stop({ graceMs: STOP_GRACE_MS, reason });
  }

  #onExit(child: Child, exit: ChildExit): void {
    const reason =
      this.#exitReasons[child] ?? (child === 'upstream-agent' ? classifyAgentExit(exit.lines) : 'other');
    delete this.#exitReasons[child];
    this.#dispatch({ type: 'child-exited', child, code: exit.exitCode ?? null, reason });
  }
}
