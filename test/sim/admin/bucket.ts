import type { FaultState } from '../common/faults.js';

// The `throttleRate` knob: a token bucket standing in for a rate limiter in front of core (or the broker's global
// throttle), so that a fleet can be held to R join tokens a second and told when to come back.

/** A token bucket of `burst` requests refilled at `ratePerSecond`, full at the start. */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #at: number | undefined;

  constructor(ratePerSecond: number, burst: number) {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokens = burst;
  }

  /** Takes one token at `nowMs` and answers 0, or answers the Retry-After seconds (≥ 1, as HTTP counts them). */
  admit(nowMs: number): number {
    if (this.#at !== undefined) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((nowMs - this.#at) * this.ratePerSecond) / 1000);
    }
    this.#at = nowMs;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.ratePerSecond));
  }
}

/**
 * The bucket the knobs ask for: a new, full one whenever `throttleRate` or `throttleBurst` changes, none while
 * `throttleRate` is 0. `route` is the admin API's route name; only `join_tokens` counts unless the scope is `all`.
 */
export function bucketKnob(): (state: Readonly<FaultState>, route: string, nowMs: number) => number {
  let bucket: TokenBucket | undefined;
  return (state, route, nowMs) => {
    const rate = state.throttleRate;
    if (rate <= 0) {
      bucket = undefined;
      return 0;
    }
    if (state.throttleScope !== 'all' && route !== 'join_tokens') return 0;
    const burst = state.throttleBurst > 0 ? state.throttleBurst : Math.max(1, rate);
    if (bucket?.ratePerSecond !== rate || bucket.burst !== burst) bucket = new TokenBucket(rate, burst);
    return bucket.admit(nowMs);
  };
}
