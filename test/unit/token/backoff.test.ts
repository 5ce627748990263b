import { describe, expect, it } from 'vitest';
import { Backoff, checkRate, nextDelayMs, parseRetryAfter } from '../../../src/token/backoff.js';

const fixed = (value: number) => () => value;
const ALMOST_ONE = 1 - Number.EPSILON;

describe('nextDelayMs', () => {
  it('stays within [0, min(5 min, 1 s · 2^attempt)) with full jitter', () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      const ceiling = Math.min(300_000, 1000 * 2 ** attempt);
      expect(nextDelayMs(attempt, {}, { random: fixed(0) })).toBe(0);
      expect(nextDelayMs(attempt, {}, { random: fixed(ALMOST_ONE) })).toBe(ceiling);
    }
  });

  it.each([
    [0, 500],
    [3, 4000],
    [8, 128_000],
    [9, 150_000],
    [50, 150_000],
  ])('attempt %i with random 0.5 waits %i ms', (attempt, delay) => {
    expect(nextDelayMs(attempt, {}, { random: fixed(0.5) })).toBe(delay);
  });

  it('honours Retry-After as a floor, but never beyond the cap', () => {
    expect(nextDelayMs(0, { retryAfterMs: 7000 }, { random: fixed(0) })).toBe(7000);
    expect(nextDelayMs(0, { retryAfterMs: 86_400_000 }, { random: fixed(0) })).toBe(300_000);
    expect(nextDelayMs(10, { retryAfterMs: 1000 }, { random: fixed(0.5) })).toBe(150_000);
  });

  it('retries slowly (half to full cap) for refusals a human must fix', () => {
    expect(nextDelayMs(0, { retry: 'slow' }, { random: fixed(0) })).toBe(150_000);
    expect(nextDelayMs(0, { retry: 'slow' }, { random: fixed(ALMOST_ONE) })).toBe(300_000);
  });

  it('takes custom bounds', () => {
    expect(nextDelayMs(4, {}, { initialMs: 100, maxMs: 1000, factor: 3, random: fixed(ALMOST_ONE) })).toBe(
      1000,
    );
    expect(nextDelayMs(1, {}, { initialMs: 100, maxMs: 1000, factor: 3, random: fixed(ALMOST_ONE) })).toBe(
      300,
    );
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  it.each([
    ['120', 120_000],
    [' 0 ', 0],
    ['Tue, 01 Jan 2030 00:00:30 GMT', 30_000],
    ['Mon, 31 Dec 2029 23:00:00 GMT', 0],
    ['soon', undefined],
    ['-5', undefined],
    [null, undefined],
  ])('%j → %j', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
});

describe('Backoff', () => {
  it('grows per failure, schedules on the injected clock and starts over after reset', () => {
    const backoff = new Backoff({ random: fixed(ALMOST_ONE), now: () => 1_000_000 });
    expect(backoff.fail()).toEqual({ delayMs: 1000, at: 1_001_000 });
    expect(backoff.fail()).toEqual({ delayMs: 2000, at: 1_002_000 });
    expect(backoff.fail({ retryAfterMs: 60_000 })).toEqual({ delayMs: 60_000, at: 1_060_000 });
    expect(backoff.attempt).toBe(3);
    backoff.reset();
    expect(backoff.fail().delayMs).toBe(1000);
  });
});

describe('checkRate', () => {
  const hour = 3_600_000;
  const now = 10 * hour;

  it('allows up to N tokens per rolling hour and drops timestamps outside it', () => {
    expect(checkRate([], now, { max: 3 })).toEqual({ allowed: true, recent: [] });
    expect(checkRate([now - hour, now - 10, now - 20], now, { max: 3 })).toEqual({
      allowed: true,
      recent: [now - 20, now - 10],
    });
  });

  it('refuses the N+1th and says when the window frees a slot', () => {
    const stamps = [now - 30 * 60_000, now - 50 * 60_000, now - 10 * 60_000];
    expect(checkRate(stamps, now, { max: 3 })).toEqual({
      allowed: false,
      recent: [now - 50 * 60_000, now - 30 * 60_000, now - 10 * 60_000],
      retryAt: now + 10 * 60_000,
    });
    expect(checkRate(stamps, now, { max: 2 }).retryAt).toBe(now + 30 * 60_000);
  });

  it('takes a custom window and ignores timestamps from the future', () => {
    expect(checkRate([now - 500, now + 5000], now, { max: 1, windowMs: 1000 })).toEqual({
      allowed: false,
      recent: [now - 500],
      retryAt: now + 500,
    });
  });
});
