// One simulated poller: the daemon's own state machine fed the events its runner would feed it. Token requests
// go through the daemon's AgentTokens and token sources to the server under test; timers are real timers (the
// daemon's scheduler); everything a SPIRE child or the disk would do succeeds at once, so a poller is done as soon
// as its agents would be ready. Decisions (retries, jitter, backoff, the hourly limit) are the machine's alone.
import { AgentTokens } from '../../../src/daemon/agent-tokens.js';
import { eventQueue } from '../../../src/daemon/event-queue.js';
import { failureOf } from '../../../src/daemon/failures.js';
import {
  type Agent,
  type Effect,
  type EventBody,
  initialState,
  type MachineEvent,
  type MachinePolicy,
  type MachineState,
  transition,
} from '../../../src/daemon/machine.js';
import { NO_OBSERVER } from '../../../src/daemon/observe.js';
import { timerScheduler } from '../../../src/daemon/scheduler.js';
import type { TokenSource } from '../../../src/token/sources.js';
import { localNestedSource, memoryBurnedTokens, memoryTokenStore, silentLogger } from './poller-deps.js';

/** One answer to the upstream agent's token request, as the machine took it. */
export interface Attempt {
  at: number;
  /** 'acquired', or the failure's code (e.g. 'unavailable'). */
  result: string;
  retryAfterMs: number | null;
  /** How long the machine chose to wait before asking again (null after a success). */
  waitMs: number | null;
}

export interface PollerRecord {
  index: number;
  startedAt: number | null;
  /** When each upstream token was handed to the machine (more than one is a P6 failure). */
  tokensAt: number[];
  attempts: Attempt[];
  upstreamReadyAt: number | null;
  readyAt: number | null;
}

export interface PollerOptions {
  index: number;
  policy: MachinePolicy;
  /** The upstream agent's token sources, as the daemon builds them from its config. */
  sources: TokenSource[];
  random: () => number;
  now: () => number;
  /** Called once, when the poller reaches phase ready. */
  onReady?: (record: PollerRecord) => void;
}

const HOUR_MS = 3_600_000;

export class Poller {
  readonly record: PollerRecord;
  readonly #options: PollerOptions;
  readonly #tokens: Record<Agent, AgentTokens>;
  readonly #scheduler = timerScheduler();
  readonly #abort = new AbortController();
  #state: MachineState;
  readonly #enqueue = eventQueue<EventBody>((body) => this.#step(body));

  constructor(options: PollerOptions) {
    this.#options = options;
    this.record = {
      index: options.index,
      startedAt: null,
      tokensAt: [],
      attempts: [],
      upstreamReadyAt: null,
      readyAt: null,
    };
    this.#state = initialState(options.policy, options.now());
    const tokens = (agent: Agent, sources: readonly TokenSource[]) =>
      new AgentTokens({
        agent,
        sources,
        store: memoryTokenStore(`${options.index}/${agent}`),
        burned: memoryBurnedTokens(),
        logger: silentLogger,
        observer: NO_OBSERVER,
        now: options.now,
      });
    this.#tokens = {
      'upstream-agent': tokens('upstream-agent', options.sources),
      'downstream-agent': tokens('downstream-agent', [localNestedSource(options.now)]),
    };
  }

  get state(): MachineState {
    return this.#state;
  }

  start(): void {
    this.record.startedAt = this.#options.now();
    this.#dispatch({ type: 'start' });
  }

  /** Stops the machine and every timer; a request in flight is aborted. */
  stop(): void {
    this.#abort.abort();
    this.#dispatch({ type: 'stop-requested' });
    this.#scheduler.clearAll();
  }

  #dispatch(body: EventBody): void {
    this.#enqueue(body);
  }

  #step(body: EventBody): void {
    const event = { ...body, at: this.#options.now(), rand: this.#options.random() } as MachineEvent;
    const { state, effects } = transition(this.#state, event);
    this.#state = state;
    if (event.type === 'token-acquired' || event.type === 'token-failed') this.#noteAttempt(event);
    for (const effect of effects) {
      void this.#perform(effect).then((result) => {
        if (result && !this.#abort.signal.aborted) this.#dispatch(result);
      });
    }
  }

  #noteAttempt(event: Extract<MachineEvent, { type: 'token-acquired' | 'token-failed' }>) {
    if (event.agent !== 'upstream-agent') return;
    if (event.type === 'token-acquired') {
      this.record.tokensAt.push(event.at);
      this.record.attempts.push({ at: event.at, result: 'acquired', retryAfterMs: null, waitMs: null });
      return;
    }
    const pending = this.#state.pending;
    const cause = event.failure;
    this.record.attempts.push({
      at: event.at,
      result: cause.code,
      retryAfterMs: cause.retryAfterMs,
      waitMs: pending?.timer === 'token-retry' ? pending.dueAt - event.at : null,
    });
  }

  async #perform(effect: Effect): Promise<EventBody | undefined> {
    const now = this.#options.now();
    switch (effect.type) {
      case 'inspect-identity': {
        // A poller on first boot, or one whose identity was lost with the outage: nothing on disk.
        const onDisk = await this.#tokens[effect.agent].onDisk();
        const source = effect.agent === 'upstream-agent' ? 'file' : 'nested-server';
        return {
          type: 'identity-inspected',
          agent: effect.agent,
          status: 'missing',
          reason: 'no agent-data.json',
          expiresAt: null,
          attestedWith: null,
          tokenFile: onDisk && { source, ...onDisk },
        };
      }
      case 'acquire-token':
        // AgentTokens never throws but on abort; the daemon's effects.ts reports a throw the same way.
        return this.#tokens[effect.agent].acquire(this.#abort.signal).catch((err: unknown) => ({
          type: 'token-failed' as const,
          agent: effect.agent,
          failure: failureOf('acquire-token', null, err),
          mints: 0,
        }));
      case 'write-token':
        await this.#tokens[effect.agent].write();
        return { type: 'step-done', step: { name: 'write-token', agent: effect.agent } };
      case 'release-token': {
        const token = this.#state.tokens[effect.agent];
        if (token !== null) await this.#tokens[effect.agent].release(token, effect);
        return { type: 'token-released', agent: effect.agent, failure: null };
      }
      case 'start-child':
        if (effect.child === 'upstream-agent') this.record.upstreamReadyAt = now;
        return {
          type: 'child-ready',
          child: effect.child,
          svidExpiresAt: effect.child === 'nested-server' ? null : now + HOUR_MS,
        };
      case 'stop-child':
        return { type: 'child-exited', child: effect.child, code: 0, signal: null };
      case 'register-entries':
        return { type: 'step-done', step: { name: 'register-entries', agent: null } };
      case 'notify-ready':
        this.record.readyAt = now;
        this.#options.onReady?.(this.record);
        return undefined;
      case 'set-timer':
        this.#scheduler.set(effect.key, effect.afterMs, () =>
          this.#dispatch({ type: 'timer-fired', key: effect.key, dueAt: effect.dueAt }),
        );
        return undefined;
      case 'clear-timer':
        this.#scheduler.clear(effect.key);
        return undefined;
      case 'clear-timers':
        this.#scheduler.clearAll();
        return undefined;
      case 'stop-children':
        return { type: 'stopped' };
      case 'set-aside-identity':
        return undefined;
    }
  }
}
