// The upstream agent's join token between acquisition and use: held in memory and in its 0600 file only, never
// offered again once consumed or discarded.
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { TokenError } from '../token/errors.js';
import { type AcquiredToken, acquireToken, type TokenSource } from '../token/sources.js';
import type { TokenStore } from '../token/store.js';
import type { MachineEvent, WithoutAt } from './machine.js';
import type { Observer } from './observe.js';
import { registerUpstreamDownstreamEntry } from './register.js';

type TokenEvent = WithoutAt<Extract<MachineEvent, { type: 'token-acquired' | 'token-failed' }>>;

export class UpstreamToken {
  readonly #sources: readonly TokenSource[];
  readonly #store: TokenStore;
  readonly #logger: Logger;
  readonly #burned = new Set<string>();
  #pending: AcquiredToken | undefined;
  #retryAfterMs: number | undefined;

  readonly #observer: Observer;

  constructor(sources: readonly TokenSource[], store: TokenStore, logger: Logger, observer: Observer) {
    this.#sources = sources;
    this.#store = store;
    this.#logger = logger;
    this.#observer = observer;
  }

  /** The token handed to the agent and not yet consumed or discarded. */
  get value(): string | undefined {
    return this.#pending?.token;
  }

  /** The Retry-After of the last failed request, which the next attempt must honour. */
  get retryAfterMs(): number | undefined {
    return this.#retryAfterMs;
  }

  /** Asks the sources in order; direct mode also registers the nested server's downstream entry upstream. */
  async acquire(config: Config, signal: AbortSignal): Promise<TokenEvent> {
    try {
      const token = await acquireToken({
        sources: this.#sources,
        burned: this.#burned,
        signal,
        onSkip: (s) =>
          this.#logger.info(
            { source: s.source, reason: s.reason, fingerprint: s.fingerprint },
            'token source skipped',
          ),
      });
      if (token.source === 'spire-server' && token.parentId) {
        // Without its downstream entry the token is useless; it is minted, so it must never be offered again.
        await registerUpstreamDownstreamEntry(config, token.parentId).catch((err: unknown) => {
          this.#burned.add(token.fingerprint);
          throw err;
        });
      }
      this.#pending = token;
      this.#retryAfterMs = undefined;
      this.#logger.info({ source: token.source, fingerprint: token.fingerprint }, 'join token acquired');
      this.#observer.tokenAcquired(token);
      return {
        type: 'token-acquired',
        source: token.source,
        expiresAt: token.expiresAt?.getTime() ?? null,
        fingerprint: token.fingerprint,
      };
    } catch (err) {
      const e = err instanceof TokenError ? err : undefined;
      this.#retryAfterMs = e?.retryAfterMs;
      return {
        type: 'token-failed',
        // 'slow' failures (refused credentials, a bad request) need a person: wait the longest, not 1 s, 2 s, …
        retryable: e ? e.retry === 'backoff' : true,
        ...(e?.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
        message: err instanceof Error ? err.message : String(err),
      };
    }
  }

  /** Writes the pending token to the agent's 0600 token file. */
  async write(): Promise<void> {
    if (!this.#pending) throw new Error('no join token to write');
    await this.#store.write({ token: this.#pending.token, expiresAt: this.#pending.expiresAt });
  }

  /**
   * Consumed, refused by the server or discarded, a token is gone for good: its file is deleted and it is never
   * offered again.
   */
  async release(how: 'consumed' | 'rejected' | 'discarded', reason?: string): Promise<void> {
    const token = this.#pending;
    this.#pending = undefined;
    if (token) {
      this.#burned.add(token.fingerprint);
      this.#observer.tokenReleased(token, how, reason);
    }
    await this.#store.consume();
    const fields = { fingerprint: token?.fingerprint, source: token?.source, reason };
    if (how === 'consumed') this.#logger.info(fields, 'join token consumed');
    else this.#logger.warn(fields, 'join token discarded');
  }
}
