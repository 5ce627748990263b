import type { RetryClass } from './errors.js';

export interface BackoffOptions {
  /** Ceiling of the first delay. Default 1 s. */
  initialMs?: number;
  /** Cap of every delay, and of an honoured Retry-After. Default 5 min. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Uniform in [0, 1); injectable for tests. Default Math.random. */
  random?: () => number;
}

export interface RetryHint {
  /** From the server's Retry-After; the delay is never shorter (up to the cap). */
  retryAfterMs?: number;
  /** `slow` jumps straight to the cap: a refused credential or a bad request will not fix itself quickly. */
  retry?: RetryClass;
}

const DEFAULTS = { initialMs: 1_000, maxMs: 300_000, factor: 2 };

/**
 * Delay before retry number `attempt` (0 = the first retry): full jitter, uniform in
 * [0, min(max, initial·factor^attempt)), but at least the server's Retry-After (capped at max).
 */
export function nextDelayMs(attempt: number, hint: RetryHint = {}, options: BackoffOptions = {}): number {
  const { initialMs, maxMs, factor } = { ...DEFAULTS, ...options };
  const random = options.random ?? Math.random;
  let delay: number;
  if (hint.retry === 'slow') {
    // Half to full cap: spread many pollers out without ever retrying a refusal quickly.
    delay = maxMs * (0.5 + random() / 2);
  } else {
    const ceiling = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt));
    delay = random() * ceiling;
  }
  const floor = Math.min(hint.retryAfterMs ?? 0, maxMs);
  return Math.round(Math.max(delay, floor));
}

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date); undefined when absent or bad. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date always names a weekday and month; this keeps Date.parse from reading "-5" as a year.
  const at = /[A-Za-z]/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** Attempt counter around nextDelayMs, with an injectable clock to say when the next attempt is due. */
export class Backoff {
  #attempt = 0;
  readonly #options: BackoffOptions;
  readonly #now: () => number;

  constructor(options: BackoffOptions & { now?: () => number } = {}) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Failures recorded since the last success. */
  get attempt(): number {
    return this.#attempt;
  }

  /** Records a failure; returns how long to wait and the clock time of the next attempt. */
  fail(hint: RetryHint = {}): { delayMs: number; at: number } {
    const delayMs = nextDelayMs(this.#attempt, hint, this.#options);
    this.#attempt += 1;
    return { delayMs, at: this.#now() + delayMs };
  }

  /** Records a success: the next failure starts from the initial delay again. */
  reset(): void {
    this.#attempt = 0;
  }
}

export interface RateLimit {
  /** At most this many new tokens ... */
  max: number;
  /** ... per rolling window. Default one hour. */
  windowMs?: number;
}

export interface RateDecision {
  allowed: boolean;
  /** The timestamps still inside the window; append `now` to them when you go ahead. */
  recent: number[];
  /** When not allowed: the earliest time at which a new token is allowed. */
  retryAt?: number;
}

/** Pure rate limiter "at most N new tokens per rolling hour" over the timestamps of earlier mints. */
export function checkRate(timestamps: readonly number[], now: number, limit: RateLimit): RateDecision {
  const windowMs = limit.windowMs ?? 3_600_000;
  const recent = timestamps.filter((t) => t > now - windowMs && t <= now).sort((a, b) => a - b);
  if (recent.length < limit.max) return { allowed: true, recent };
  // The window must drop enough old mints to leave room for one more.
  const oldestToExpire = recent[recent.length - limit.max] ?? now;
  return { allowed: false, recent, retryAt: oldestToExpire + windowMs };
}
