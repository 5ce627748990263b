import { describe, expect, it } from 'vitest';
import { limiter, slotExpiresAt, tokenBucket } from '../../../src/broker/rate-limit.js';

describe('token buckets', () => {
  it('admits a burst of perMinute, then one every 60/perMinute seconds, saying how long to wait', () => {
    const b = tokenBucket(10);
    for (let i = 0; i < 10; i++) {
      expect(b.wait(0)).toBe(0);
      b.take(0);
    }
    expect(b.wait(0)).toBe(6);
    expect(b.wait(5_999)).toBe(1);
    expect(b.wait(6_000)).toBe(0);
  });

  it('a caller at its limit does not use up the global budget; the global limit stops everybody', () => {
    const l = limiter(2, 3);
    expect([l.admit('a', 0), l.admit('a', 0)]).toEqual([undefined, undefined]);
    expect(l.admit('a', 0)).toEqual({ scope: 'caller', retryAfterSeconds: 30 });
    expect(l.admit('b', 0)).toBeUndefined();
    expect(l.admit('c', 0)).toEqual({ scope: 'global', retryAfterSeconds: 20 });
    expect(l.admit('c', 20_000)).toBeUndefined();
  });

  it('forgets callers whose bucket is full again', () => {
    const l = limiter(1, null);
    expect(l.admit('a', 0)).toBeUndefined();
    expect(l.admit('a', 1_000)?.scope).toBe('caller');
    expect(l.admit('b', 120_000)).toBeUndefined();
    expect(l.admit('a', 120_000)).toBeUndefined();
  });

  it('the k-th caller refused by the global limit is told about k/R seconds, and admitted when it comes back', () => {
    // R = 10 a second, a burst of 2, callers' own limits far away.
    const l = limiter(10_000, 600, { burst: 2 });
    const told: number[] = [];
    for (let i = 0; i < 32; i++) {
      const got = l.admit('fleet', 0, `poller-${i}`);
      told.push(got ? got.retryAfterSeconds : 0);
      if (got) expect(got.scope).toBe('global');
    }
    // 2 at once; the 3rd is slot 100 ms away, the 12th 1 s, the 32nd 3 s: told in whole seconds, rounded up.
    expect(told.slice(0, 2)).toEqual([0, 0]);
    expect(told.slice(2, 12)).toEqual(new Array(10).fill(1));
    expect(told.slice(12, 22)).toEqual(new Array(10).fill(2));
    expect(told.slice(22)).toEqual(new Array(10).fill(3));
    expect(l.reserved).toBe(30);
    // A newcomer while the backlog lasts queues behind it, it does not take a returning caller's token.
    expect(l.admit('fleet', 1_000, 'newcomer')).toEqual({ scope: 'global', retryAfterSeconds: 3 });
    // Each comes back when told (or later) and is admitted: the fleet is served at R, none refused twice.
    for (let i = 2; i < 32; i++)
      expect(l.admit('fleet', (told[i] as number) * 1000, `poller-${i}`)).toBeUndefined();
    expect(l.reserved).toBe(1);
  });

  it('a caller back before its slot is told the rest of its wait and keeps its slot', () => {
    const l = limiter(10_000, 60, { burst: 1 });
    expect(l.admit('a', 0, 'x')).toBeUndefined();
    expect(l.admit('a', 0, 'y')).toEqual({ scope: 'global', retryAfterSeconds: 1 });
    expect(l.admit('a', 0, 'z')).toEqual({ scope: 'global', retryAfterSeconds: 2 });
    expect(l.admit('a', 1_500, 'z')).toEqual({ scope: 'global', retryAfterSeconds: 1 });
    expect(l.admit('a', 2_000, 'z')).toBeUndefined();
    expect(l.admit('a', 2_000, 'y')).toBeUndefined();
    // Both slots are spent: the bucket is empty again at 2 s.
    expect(l.admit('a', 2_000, 'w')).toEqual({ scope: 'global', retryAfterSeconds: 1 });
  });

  it('gives slots at most maxBacklogMs ahead and holds at most maxReservations; beyond, it says when the backlog ends', () => {
    const l = limiter(10_000, 60, { burst: 1, maxBacklogMs: 3_000, maxReservations: 100 });
    expect(l.admit('a', 0, 'r0')).toBeUndefined();
    expect([1, 2, 3].map((i) => l.admit('a', 0, `r${i}`)?.retryAfterSeconds)).toEqual([1, 2, 3]);
    expect(l.admit('a', 0, 'r4')).toEqual({ scope: 'global', retryAfterSeconds: 3 });
    expect(l.admit('a', 0, 'r5')).toEqual({ scope: 'global', retryAfterSeconds: 3 });
    expect(l.reserved).toBe(3);
    const few = limiter(10_000, 60, { burst: 1, maxReservations: 2 });
    expect(few.admit('a', 0, 'r0')).toBeUndefined();
    few.admit('a', 0, 'r1');
    few.admit('a', 0, 'r2');
    expect(few.admit('a', 0, 'r3')).toEqual({ scope: 'global', retryAfterSeconds: 3 });
    expect(few.reserved).toBe(2);
  });

  it('a caller holds at most its own per-minute limit of slots; its own limit still applies when it comes back', () => {
    const l = limiter(2, 60, { burst: 1 });
    expect(l.admit('b', 0, 'other')).toBeUndefined();
    expect(l.admit('a', 0, 'a1')?.retryAfterSeconds).toBe(1);
    expect(l.admit('a', 0, 'a2')?.retryAfterSeconds).toBe(2);
    // A third slot would pass a's 2 a minute: told when the backlog ends, nothing held.
    expect(l.admit('a', 0, 'a3')).toEqual({ scope: 'global', retryAfterSeconds: 3 });
    expect(l.reserved).toBe(2);
    expect(l.admit('a', 1_000, 'a1')).toBeUndefined();
    expect(l.admit('a', 2_000, 'a2')).toBeUndefined();
    // a has had its 2 this minute: its own limit, unchanged, refuses the next, and no global slot is taken for it.
    expect(l.admit('a', 3_000, 'a3')).toEqual({ scope: 'caller', retryAfterSeconds: 28 });
    expect(l.reserved).toBe(0);
  });

  it('drops a slot whose holder does not come back in time; the holder asks afresh later', () => {
    const l = limiter(10_000, 60, { burst: 1 });
    expect(l.admit('a', 0, 'x')).toBeUndefined();
    expect(l.admit('a', 0, 'gone')?.retryAfterSeconds).toBe(1);
    const late = slotExpiresAt(0, 1_000);
    expect(l.admit('a', late - 1, 'y')).toBeUndefined();
    expect(l.reserved).toBe(1);
    expect(l.admit('a', late, 'z')).toEqual({ scope: 'global', retryAfterSeconds: 1 });
    expect(l.reserved).toBe(1);
    expect(l.admit('a', late, 'gone')).toEqual({ scope: 'global', retryAfterSeconds: 2 });
  });

  it('holds a slot for the backoff after the whole seconds its holder was told, not after the slot itself', () => {
    const l = limiter(10_000, 60, { burst: 1 });
    expect(l.admit('a', 0, 'x')).toBeUndefined();
    expect(l.admit('a', 0, 'z')).toEqual({ scope: 'global', retryAfterSeconds: 1 });
    // Told 2 s for a slot 1.99 s away; backing off by its 30 s ceiling on top, it is back at 32.01 s.
    expect(l.admit('a', 10, 'y')).toEqual({ scope: 'global', retryAfterSeconds: 2 });
    // Meanwhile a newcomer empties the bucket: only a slot still held lets it in.
    expect(l.admit('a', 32_000, 'w')).toBeUndefined();
    expect(l.admit('a', 32_010, 'y')).toBeUndefined();
  });

  it('drops an expired slot even behind one given earlier and held longer', () => {
    const l = limiter(10_000, 60, { burst: 1 });
    expect(l.admit('a', 0, 'x')).toBeUndefined();
    // Slots 1 s … 200 s ahead, the k-th held for max(30 s, k/2) + 2 s after it.
    for (let k = 1; k <= 200; k++) expect(l.admit('a', 0, `r${k}`)?.retryAfterSeconds).toBe(k);
    // At 190 s the backlog is 11 s long: this slot, given later, expires (at 233 s) before many earlier ones.
    expect(l.admit('a', 190_000, 'late')?.retryAfterSeconds).toBe(11);
    l.admit('a', 240_000, 'probe');
    // At 240 s the slots of r159 … r200 are still held, that of 'late' is not.
    expect(l.reserved).toBe(42);
  });
});
