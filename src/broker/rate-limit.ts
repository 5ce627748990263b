// Token buckets: a caller may mint `perMinute` tokens in a burst, then one every 60/perMinute seconds. One
// bucket per caller and one for everybody; both live in this process, so with several replicas each has its own.
//
// The global bucket hands out its future: a request it cannot admit now is given the next free slot (the k-th
// refused while the bucket is empty is told about k/R seconds, R its rate), and when that request comes back at
// or after its slot it is admitted without taking again. A fleet refused at once thus returns spread at the rate
// the broker admits, instead of all being told "1 s" and coming back together. The backlog is bounded (how far
// ahead slots are given, how many are held, and at most a caller's own per-minute limit of them per caller).

export interface Bucket {
  /** Seconds until one more request would be admitted; 0 when one is admitted now. */
  wait(nowMs: number): number;
  take(nowMs: number): void;
  /** The tokens there are now; below 1 none is left, below 0 some were taken from the future. */
  level(nowMs: number): number;
}

/** A bucket refilled with `perMinute` requests a minute up to `capacity` (default a minute's worth), full at the start. */
export function tokenBucket(perMinute: number, capacity = perMinute): Bucket {
  const ratePerMs = perMinute / 60_000;
  let tokens = capacity;
  let at = Number.NEGATIVE_INFINITY;
  const level = (nowMs: number) => {
    if (at !== Number.NEGATIVE_INFINITY)
      tokens = Math.min(capacity, tokens + Math.max(0, nowMs - at) * ratePerMs);
    at = nowMs;
    return tokens;
  };
  return {
    level,
    wait(nowMs) {
      const now = level(nowMs);
      return now >= 1 ? 0 : Math.max(1, Math.ceil((1 - now) / ratePerMs / 1000));
    },
    take(nowMs) {
      level(nowMs);
      tokens -= 1;
    },
  };
}

/** Slots are given at most this far ahead: beyond it a request is told when the backlog ends, and holds nothing. */
export const MAX_BACKLOG_MS = 300_000;
/** At most this many slots are held at once (each is a few dozen bytes). */
export const MAX_RESERVATIONS = 10_000;
/**
 * How late a holder may come back: a client backing off may return well after the time it was told (the daemon,
 * after several failures in a row, up to its 30 s transient cap or a tenth of the wait:
 * src/daemon/machine-steps.ts tokenRetryDelay), and a request takes a moment to arrive.
 */
export const holdMs = (waitMs: number): number => Math.max(30_000, waitMs / 2) + 2_000;
/**
 * When a slot given at `nowMs`, `waitMs` ahead, is dropped: its holder was told a whole number of seconds,
 * rounded up, and is held for holdMs after that. A holder later than this asks afresh.
 */
export const slotExpiresAt = (nowMs: number, waitMs: number): number =>
  nowMs + Math.ceil(waitMs / 1000) * 1000 + holdMs(waitMs);
/** Expired slots behind a longer-held one are looked for at most this often (a full pass over the slots). */
const SWEEP_ALL_MS = 1_000;

export interface GlobalOptions {
  /** Requests admitted at once from a full bucket; default `perMinute` (a minute's worth). */
  burst?: number;
  maxBacklogMs?: number;
  maxReservations?: number;
}

interface Reservation {
  key: string;
  slotAt: number;
  expiresAt: number;
}

interface Schedule {
  /** 0: admitted (taken now, or its slot is due); else the ms until this request's slot or the backlog's end. */
  admit(request: string, key: string, nowMs: number, maxPerKey: number): number;
  readonly held: number;
}

function schedule(perMinute: number, options: GlobalOptions): Schedule {
  const intervalMs = 60_000 / perMinute;
  const burst = options.burst ?? perMinute;
  const maxBacklogMs = options.maxBacklogMs ?? MAX_BACKLOG_MS;
  const maxReservations = options.maxReservations ?? MAX_RESERVATIONS;
  // May go below 0: each slot given takes its token from the future.
  const bucket = tokenBucket(perMinute, burst);
  // By request, in the order given, which is slot order; not quite expiry order, since a longer wait is held
  // longer.
  const reservations = new Map<string, Reservation>();
  let sweptAllAt = Number.NEGATIVE_INFINITY;
  const perKey = new Map<string, number>();
  const drop = (request: string, r: Reservation) => {
    reservations.delete(request);
    const n = (perKey.get(r.key) ?? 1) - 1;
    if (n > 0) perKey.set(r.key, n);
    else perKey.delete(r.key);
  };
  return {
    get held() {
      return reservations.size;
    },
    admit(request, key, nowMs, maxPerKey) {
      const all = nowMs - sweptAllAt >= SWEEP_ALL_MS;
      if (all) sweptAllAt = nowMs;
      for (const [k, r] of reservations) {
        if (r.expiresAt <= nowMs) drop(k, r);
        else if (!all) break;
      }
      const mine = reservations.get(request);
      if (mine && mine.expiresAt > nowMs) {
        if (mine.slotAt > nowMs) return mine.slotAt - nowMs;
        drop(request, mine);
        return 0;
      }
      if (mine) drop(request, mine);
      const tokens = bucket.level(nowMs);
      if (tokens >= 1) {
        bucket.take(nowMs);
        return 0;
      }
      const waitMs = (1 - tokens) * intervalMs;
      const full =
        waitMs > maxBacklogMs || reservations.size >= maxReservations || (perKey.get(key) ?? 0) >= maxPerKey;
      if (full) return Math.min(waitMs, maxBacklogMs);
      bucket.take(nowMs);
      const slotAt = nowMs + waitMs;
      reservations.set(request, { key, slotAt, expiresAt: slotExpiresAt(nowMs, waitMs) });
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
      return waitMs;
    },
  };
}

export interface Limiter {
  /**
   * Admits a request of `key` (taking from its bucket and the global one), or says which limit and how long.
   * `request` names the request itself (its caller and what it asks for; default `key`), so that one refused by
   * the global limit is recognised when it comes back for its slot.
   */
  admit(
    key: string,
    nowMs: number,
    request?: string,
  ): { scope: 'caller' | 'global'; retryAfterSeconds: number } | undefined;
  /** Slots of the global limit given and not yet claimed or expired. */
  readonly reserved: number;
}

/** Per-key buckets (created on first use, dropped once full again) plus an optional global bucket. */
export function limiter(
  perKeyPerMinute: number,
  globalPerMinute: number | null,
  globalOptions: GlobalOptions = {},
): Limiter {
  const keys = new Map<string, Bucket>();
  const global = globalPerMinute === null ? null : schedule(globalPerMinute, globalOptions);
  // A bucket refills `perMinute` a minute, so one untouched for a minute is full and can be forgotten.
  const FULL_AFTER_MS = 60_000;
  const lastUse = new Map<string, number>();
  return {
    get reserved() {
      return global?.held ?? 0;
    },
    admit(key, nowMs, request = key) {
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
      // A caller holds at most as many slots as it may have tokens a minute.
      const all = global?.admit(request, key, nowMs, perKeyPerMinute) ?? 0;
      if (all > 0) return { scope: 'global', retryAfterSeconds: Math.max(1, Math.ceil(all / 1000)) };
      bucket.take(nowMs);
      return undefined;
    },
  };
}
