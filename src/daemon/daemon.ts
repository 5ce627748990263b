// The runner: feeds events to the pure state machine and performs the effects it asks for (src/daemon/effects.ts).
// It decides nothing: what a child's output, exit or a new config means is the machine's business.
import type { Config } from '../config/types.js';
import { perform, type Runner } from './effects.js';
import { eventQueue } from './event-queue.js';
import type { IdentityReports } from './identity-report.js';
import { type Child, type EventBody, initialState, type MachineState, transition } from './machine.js';
import { machinePolicy } from './policy.js';
import { planReload } from './reload.js';
import { createRunner, type DaemonDeps } from './runner.js';

export type { DaemonDeps };

/** One bootstrap run: `start()`, then `stop()` on a signal; `stopped` settles when every child is gone. */
export class Daemon {
  readonly #deps: DaemonDeps;
  readonly #run: Runner;
  readonly #abort = new AbortController();
  #config: Config;
  #state: MachineState;
  readonly #enqueue = eventQueue<EventBody>((body) => this.#step(body));
  #resolveStopped!: () => void;
  readonly stopped = new Promise<void>((resolve) => {
    this.#resolveStopped = resolve;
  });

  constructor(deps: DaemonDeps) {
    this.#deps = deps;
    this.#config = deps.config;
    const initial = initialState(machinePolicy(deps.config), (deps.now ?? Date.now)());
    this.#state = deps.mints ? { ...initial, mintedAt: deps.mints.loaded } : initial;
    this.#run = createRunner(deps, {
      config: () => this.#config,
      state: () => this.#state,
      dispatch: (event) => this.#dispatch(event),
      signal: this.#abort.signal,
    });
  }

  get state(): MachineState {
    return this.#state;
  }

  get identities(): IdentityReports {
    return this.#run.identities;
  }

  pid(child: Child): number | undefined {
    return this.#run.children[child].pid;
  }

  start(): void {
    this.#dispatch({ type: 'start' });
  }

  stop(): void {
    this.#abort.abort();
    this.#dispatch({ type: 'stop-requested' });
  }

  /** Applies a new config: the machine restarts the children it changed and registers changed entries again. */
  reload(next: Config): Child[] {
    const change = planReload(this.#config, next, this.#deps.layout);
    this.#config = next;
    this.#dispatch({ type: 'config-changed', ...change, policy: machinePolicy(next) });
    return change.children;
  }

  /** Tells the machine why a new config was not applied (the old one keeps running). */
  reloadFailed(message: string): void {
    const hint = 'fix the configuration file; the previous configuration keeps running';
    this.#dispatch({
      type: 'config-rejected',
      failure: {
        step: 'reload',
        source: null,
        code: 'config',
        retryable: false,
        retryAfterMs: null,
        message,
        hint,
      },
    });
  }

  /** A token file arrived or the trust bundle changed. */
  inputChanged(input: 'token-file' | 'trust-bundle'): void {
    this.#dispatch({ type: 'input-changed', input });
  }

  #dispatch(body: EventBody): void {
    this.#enqueue(body);
  }

  #step(body: EventBody): void {
    const event = { ...body, at: this.#run.now(), rand: (this.#deps.random ?? Math.random)() };
    const before = this.#state;
    const { state, effects } = transition(before, event);
    this.#state = state;
    this.#run.observer.transition(before, state, event);
    const log = this.#deps.logger;
    if (state.phase !== before.phase) log.info({ phase: state.phase }, `phase ${state.phase}`);
    if (state.lastError && state.lastError !== before.lastError) {
      log.warn({ error: state.lastError }, state.lastError.message);
    }
    if (state.mintedAt !== before.mintedAt) {
      void this.#deps.mints?.save(state.mintedAt).catch((err: Error) => {
        log.warn(
          { err: err.message },
          'cannot record the token mint times: a restart would reset the token.max_per_hour count',
        );
      });
    }
    // Stopped once the mint times are on disk too: the next daemon's limit starts from them.
    if (state.phase === 'stopped' && before.phase !== 'stopped')
      void (this.#deps.mints?.saved() ?? Promise.resolve()).catch(() => {}).then(this.#resolveStopped);
    for (const effect of effects) {
      void perform(this.#run, effect).then((result) => result && this.#dispatch(result));
    }
  }
}
