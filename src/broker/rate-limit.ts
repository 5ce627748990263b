// Token buckets: a caller may mint `perMinute` tokens in a burst, then one every 60/perMinute seconds. One
// bucket per caller and one for everybody; both live in this process, so with several replicas each has its own.

export interface Bucket {
  /** Seconds until one more request would be admitted; 0 when one is admitted now. */
  wait(nowMs: number): number;
  take(nowMs: number): void;
}

/** A bucket of `burst` (default `perMinute`) requests, full at the start, refilled `perMinute` a minute. */
export function tokenBucket(perMinute: number, burst = perMinute): Bucket {
  const ratePerMs = perMinute / 60_000;
  let tokens = burst;
  let at = Number.NEGATIVE_INFINITY;
  const refill = (nowMs: number) => {
    if (at !== Number.NEGATIVE_INFINITY) tokens = Math.min(burst, tokens + (nowMs - at) * ratePerMs);
    at = nowMs;
  };
  return {
    wait(nowMs) {
      refill(nowMs);
      return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / ratePerMs / 1000));
    },
    take(nowMs) {
      refill(nowMs);
      tokens -= 1;
    },
  };
}

export interface Limiter {
  /** Admits a request of `key` (taking from its bucket and the global one), or says which limit and how long. */
  admit(key: string, nowMs: number): { scope: 'caller' | 'global'; retryAfterSeconds: number } | undefined;
}

/** Per-key buckets (created on first use, dropped once full again) plus an optional global bucket. */
export function limiter(
  perKeyPerMinute: number,
  globalPerMinute: number | null,
  globalOptions: { burst?: number } = {},
): Limiter {
  const keys = new Map<string, Bucket>();
  const global = globalPerMinute === null ? null : tokenBucket(globalPerMinute, globalOptions.burst);
  // A bucket refills `perMinute` a minute, so one untouched for a minute is full and can be forgotten.
  const FULL_AFTER_MS = 60_000;
  const lastUse = new Map<string, number>();
  return {
    admit(key, nowMs) {
      // Buckets that are full again are forgotten, so keys from many addresses cannot grow the map forever.
      for (const [k, t] of lastUse) {
        if (nowMs - t < FULL_AFTER_MS) break;
        lastUse.delete(k);
        keys.delete(k);
      }
      let bucket = keys.get(key);
      if (!bucket) {
        bucket = tokenBucket(perKeyPerMinute);
        keys.set(key, bucket);
      }
      lastUse.delete(key);
      lastUse.set(key, nowMs);
      const own = bucket.wait(nowMs);
      if (own > 0) return { scope: 'caller', retryAfterSeconds: own };
      const all = global?.wait(nowMs) ?? 0;
      if (all > 0) return { scope: 'global', retryAfterSeconds: all };
      bucket.take(nowMs);
      global?.take(nowMs);
      return undefined;
    },
  };
}
