import { describe, expect, it } from 'vitest';
import { limiter, tokenBucket } from '../../../src/broker/rate-limit.js';

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
});
