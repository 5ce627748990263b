// The effect runner: feeds events to the pure state machine and carries out the effects it asks for.
import { rename } from 'node:fs/promises';
import type { Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { IdentityReport } from '../observability/status.js';
import { inspectIdentity } from '../spire/identity.js';
import { chooseJoinToken, type JoinTokenRef } from '../spire/render-common.js';
import { mustParseSpireVersion } from '../spire/version.js';
import type { ChildExit } from '../supervisor/child-types.js';
import { TokenError } from '../token/errors.js';
import { type AcquiredToken, acquireToken, type TokenSource } from '../token/sources.js';
import { createTokenStore } from '../token/store.js';
import { type Children, createChildren } from './children.js';
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
} from './machine.js';
import type { Notifier } from './notify.js';
import { registerEntries, registerUpstreamDownstreamEntry } from './register.js';
import { type RenderedFiles, writeRendered } from './rendered.js';

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
  now?: () => number;
}

type DistributiveOmit<E, K extends PropertyKey> = E extends unknown ? Omit<E, K> : never;

/** One bootstrap run: `start()`, then `stop()` on a signal; `stopped` settles when every child is gone. */
export class Daemon {
  readonly #deps: DaemonDeps;
  /** Replaced by a reload; renders and entry registration use the newest. */
  #config: Config;
  readonly #now: () => number;
  readonly #bootAt: number;
  readonly #identity: Record<string, IdentityReport> = {};
  readonly #children: Children;
  readonly #store;
  readonly #files: RenderedFiles;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #burned = new Set<string>();
  readonly #exitReasons: Partial<Record<Child, ExitReason>> = {};
  readonly #abort = new AbortController();
  #state: MachineState;
  #queue: MachineEvent[] = [];
  #draining = false;
  /** The upstream agent's token while it is pending; only in memory and in its 0600 file. */
  #token: AcquiredToken | undefined;
  #downstreamToken: string | undefined;
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
    this.#store = createTokenStore({ path: deps.layout.upstreamJoinTokenFile });
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

  /** Fires a pending retry now (a token file arrived, the trust bundle changed); a no-op otherwise. */
  poke(): void {
    const pending = this.#state.pending;
    if (pending?.timer === 'token-retry') this.#dispatch({ type: 'timer-fired', timer: 'token-retry' });
  }

  #dispatch(event: DistributiveOmit<MachineEvent, 'at'>): void {
    this.#queue.push({ ...event, at: this.#now() } as MachineEvent);
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
        const before = this.#state;
        const { state, effects } = transition(before, next);
        this.#state = state;
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
        case 'set-aside-identity': {
          const file = this.#deps.layout.upstreamAgent.agentDataFile;
          await rename(file, `${file}.corrupt-${this.#now()}`).catch(() => undefined);
          return;
        }
        case 'acquire-token':
          return await this.#acquire();
        case 'write-token':
          await this.#store.write({ token: this.#token?.token ?? '', expiresAt: this.#token?.expiresAt });
          return this.#dispatch({ type: 'token-written' });
        case 'discard-token':
        case 'consume-token':
          return await this.#consume(effect);
        case 'start-child':
          return await this.#startChild(effect.child);
        case 'register-entries': {
          const done = await registerEntries(this.#config, this.#deps.layout, this.#margin());
          this.#downstreamToken = done.downstreamToken;
          log.info({ entries: done.counts }, 'entries reconciled on the nested server');
          return this.#dispatch({ type: 'entries-registered' });
        }
        case 'notify-ready':
          log.info({ seconds: (this.#now() - this.#startedAt()) / 1000 }, 'ready');
          return await this.#deps.notifier.ready('ready');
        case 'schedule': {
          const timer = setTimeout(() => {
            this.#timers.delete(timer);
            this.#dispatch(effect.event);
          }, effect.afterMs);
          this.#timers.add(timer);
          return;
        }
        case 'cancel-timers':
          for (const t of this.#timers) clearTimeout(t);
          this.#timers.clear();
          return;
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
    this.#identity[child] = {
      spiffeId: found?.spiffeId ?? null,
      expiresAt: found?.expiresAt?.getTime() ?? null,
    };
  }

  #margin(): number {
    return this.#config.identitySafetyMarginSeconds;
  }

  async #inspect(): Promise<void> {
    const { dataDir, keysDir } = this.#deps.layout.upstreamAgent;
    const found = await inspectIdentity(dataDir, keysDir, new Date(this.#now()), this.#margin());
    this.#identity['upstream-agent'] = {
      spiffeId: found.spiffeId ?? null,
      expiresAt: found.expiresAt?.getTime() ?? null,
    };
    this.#dispatch({ type: 'identity-inspected', status: found.status, reason: found.reason });
  }

  async #acquire(): Promise<void> {
    try {
      const token = await acquireToken({
        sources: this.#deps.sources,
        burned: this.#burned,
        signal: this.#abort.signal,
        onSkip: (s) =>
          this.#deps.logger.info(
            { source: s.source, reason: s.reason, fingerprint: s.fingerprint },
            'token source skipped',
          ),
      });
      if (token.source === 'spire-server' && token.parentId) {
        await registerUpstreamDownstreamEntry(this.#config, token.parentId);
      }
      this.#token = token;
      this.#deps.logger.info({ source: token.source, fingerprint: token.fingerprint }, 'join token acquired');
      this.#dispatch({
        type: 'token-acquired',
        source: token.source,
        expiresAt: token.expiresAt?.getTime() ?? null,
        fingerprint: token.fingerprint,
      });
    } catch (err) {
      const e = err instanceof TokenError ? err : undefined;
      this.#dispatch({
        type: 'token-failed',
        retryable: e?.retryable ?? true,
        ...(e?.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
        message: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** Consumed or discarded, a token is gone for good: its file is deleted and it is never offered again. */
  async #consume(effect: Extract<Effect, { type: 'consume-token' | 'discard-token' }>): Promise<void> {
    const token = this.#token;
    this.#token = undefined;
    if (token) this.#burned.add(token.fingerprint);
    await this.#store.consume();
    // An inline token (SPIRE < 1.13.3) must leave the rendered config too.
    await writeRendered(this.#files, 'upstream-agent', { kind: 'none' });
    if (effect.type === 'consume-token') {
      this.#deps.logger.info({ fingerprint: token?.fingerprint }, 'join token consumed');
      this.#dispatch({ type: 'token-consumed' });
    } else {
      this.#deps.logger.warn(
        { fingerprint: token?.fingerprint, reason: effect.reason },
        'join token discarded',
      );
    }
  }

  /** How a child's config carries its pending join token, if it has one. */
  #refFor(child: Child): JoinTokenRef {
    const layout = this.#deps.layout;
    const [token, file] =
      child === 'upstream-agent'
        ? [this.#token?.token, layout.upstreamJoinTokenFile]
        : child === 'downstream-agent'
          ? [this.#downstreamToken, layout.downstreamAgent.joinTokenFile]
          : [undefined, ''];
    if (!token) return { kind: 'none' };
    return chooseJoinToken(mustParseSpireVersion(this.#config.spire.version), file, token);
  }

  async #startChild(child: Child): Promise<void> {
    const layout = this.#deps.layout;
    await writeRendered(this.#files, child, this.#refFor(child));
    const handle = this.#children[child];
    handle.start();
    try {
      await handle.ready(this.#abort.signal);
    } catch {
      return; // the exit is reported through onExit
    }
    if (child === 'downstream-agent' && this.#downstreamToken) {
      this.#downstreamToken = undefined;
      await createTokenStore({ path: layout.downstreamAgent.joinTokenFile }).consume();
      await writeRendered(this.#files, child, { kind: 'none' });
    }
    if (child !== 'nested-server') await this.#readIdentity(child);
    this.#dispatch({ type: 'child-ready', child });
  }

  #onLine(child: Child, raw: string): void {
    if (child !== 'upstream-agent' || !this.#token || this.#exitReasons[child]) return;
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
