// One agent's join token between acquisition and release: the secret lives only in memory and in its 0600 file,
// every acquisition and release is audited by fingerprint, and a released token is never offered again.
import type { Logger } from '../observability/logger.js';
import { maskJoinTokenIds } from '../spire/join-token-id.js';
import type { BurnedTokens } from '../token/burned.js';
import { MINTING_SOURCES, TokenError } from '../token/errors.js';
import { type AcquiredToken, acquireToken, type SkippedSource, type TokenSource } from '../token/sources.js';
import type { TokenStore } from '../token/store.js';
import { failureOf } from './failures.js';
import type { Agent, EventBody, TokenInfo, TokenRelease } from './machine-types.js';
import type { Observer } from './observe.js';

export interface AgentTokensDeps {
  agent: Agent;
  sources: readonly TokenSource[];
  store: TokenStore;
  burned: BurnedTokens;
  logger: Logger;
  observer: Observer;
  now: () => number;
  /** Runs on a freshly minted token before it is handed out (direct mode registers its downstream entry). */
  afterMint?: (token: AcquiredToken) => Promise<void>;
}

type TokenEvent = Extract<EventBody, { type: 'token-acquired' | 'token-failed' }>;

export class AgentTokens {
  readonly #deps: AgentTokensDeps;
  #pending: AcquiredToken | undefined;

  constructor(deps: AgentTokensDeps) {
    this.#deps = deps;
  }

  /** The token handed to the agent and not yet released; a secret. */
  get value(): string | undefined {
    return this.#pending?.token;
  }

  /** Asks the sources in order; counts every request that may have created a token, for the rate limit. */
  async acquire(signal: AbortSignal): Promise<TokenEvent> {
    const { agent, logger, observer } = this.#deps;
    let mints = 0;
    // A token minted for us and passed over (it arrived already inside the expiry margin: a short TTL, or this
    // host's clock ahead of the server's) is a token in the cluster all the same: counted and audited. A minting
    // source never offers it again, so it needs no burning.
    const unused: SkippedSource[] = [];
    try {
      const token = await acquireToken({
        sources: this.#deps.sources,
        burned: this.#deps.burned.all,
        now: this.#deps.now,
        signal,
        onSkip: (s) => {
          if (s.error?.mayHaveMinted) mints++;
          if (MINTING_SOURCES.has(s.source) && s.fingerprint !== undefined && s.reason === 'expired') {
            mints++;
            unused.push(s);
          }
          const fields = { agent, source: s.source, reason: s.reason, fingerprint: s.fingerprint };
          if (s.reason === 'failed') logger.warn({ ...fields, err: s.error?.message }, 'token source failed');
          else if (unused.at(-1) === s)
            logger.warn(
              fields,
              'join token discarded: it arrived expiring (is this clock ahead of the server?)',
            );
          else logger.info(fields, 'token source skipped');
        },
      }).finally(() => this.#discardUnused(unused));
      if (MINTING_SOURCES.has(token.source)) mints++;
      // Without its downstream entry the token is useless; it is minted, so it must never be offered again.
      await this.#deps.afterMint?.(token).catch(async (err: unknown) => {
        // SPIRE's error may name the token's agent ID, which embeds the token.
        if (err instanceof Error) err.message = maskJoinTokenIds(err.message);
        observer.tokenReleased(token, 'discarded', 'its downstream entry could not be created');
        await this.#deps.burned.add(token.fingerprint, this.#deps.now());
        throw err;
      });
      this.#pending = token;
      logger.info({ agent, source: token.source, fingerprint: token.fingerprint }, 'join token acquired');
      observer.tokenAcquired(token);
      const expiresAt = token.expiresAt?.getTime() ?? null;
      return {
        type: 'token-acquired',
        agent,
        source: token.source,
        fingerprint: token.fingerprint,
        expiresAt,
        mints,
      };
    } catch (err) {
      signal.throwIfAborted();
      if (err instanceof TokenError && err.code === 'insecure-file' && err.fingerprint) {
        observer.tokenInsecure({ source: err.source, fingerprint: err.fingerprint }, err.message);
      }
      const failure = failureOf('acquire-token', err instanceof TokenError ? err.source : null, err);
      return { type: 'token-failed', agent, failure, mints };
    }
  }

  #discardUnused(unused: readonly SkippedSource[]): void {
    for (const s of unused)
      this.#deps.observer.tokenReleased(
        { source: s.source, fingerprint: s.fingerprint as string, expiresAt: s.expiresAt },
        'discarded',
        'arrived expiring',
      );
  }

  /** Writes the pending token to the agent's 0600 token file. */
  async write(): Promise<void> {
    if (!this.#pending) throw new Error(`no join token to write for the ${this.#deps.agent}`);
    await this.#deps.store.write({ token: this.#pending.token, expiresAt: this.#pending.expiresAt });
  }

  /** The token file as it is on disk (fingerprint and expiry), or null when there is none or it is unreadable. */
  async onDisk(): Promise<{ fingerprint: string; expiresAt: number | null } | null> {
    const stored = await this.#deps.store.read().catch(() => undefined);
    return stored
      ? { fingerprint: stored.fingerprint, expiresAt: stored.expiresAt?.getTime() ?? null }
      : null;
  }

  /** Consumed, refused by the server or discarded, a token is gone for good: burned, audited, its file deleted. */
  async release(token: TokenInfo, { how, reason }: TokenRelease): Promise<void> {
    const { agent, logger, observer, burned, store, now } = this.#deps;
    if (this.#pending?.fingerprint === token.fingerprint) this.#pending = undefined;
    const expiresAt = token.expiresAt === null ? undefined : new Date(token.expiresAt);
    observer.tokenReleased(
      { source: token.source, fingerprint: token.fingerprint, expiresAt },
      how,
      reason ?? undefined,
    );
    const fields = { agent, fingerprint: token.fingerprint, source: token.source, reason };
    if (how === 'consumed') logger.info(fields, 'join token consumed');
    else logger.warn(fields, 'join token discarded');
    // Both, whatever happens to the other: the file must go, and the refusal must outlive a restart.
    const done = await Promise.allSettled([
      store.consume(token.fingerprint),
      burned.add(token.fingerprint, now()),
    ]);
    const failed = done.find((d) => d.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
