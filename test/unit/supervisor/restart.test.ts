import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  DEFAULT_RESTART_POLICY,
  planRestart,
  type RestartPolicy,
} from '../../../src/supervisor/restart.js';

const policy: RestartPolicy = { initialMs: 1_000, maxMs: 30_000, factor: 2, jitter: 0.5, stableMs: 60_000 };
const fixed = (value: number) => () => value;

describe('backoffDelayMs', () => {
  it.each([
    // failures, random, delay
    [1, 0, 1_000],
    [2, 0, 2_000],
    [3, 0, 4_000],
    [5, 0, 16_000],
    [6, 0, 30_000],
    [40, 0, 30_000],
    [1, 1, 500],
    [3, 0.5, 3_000],
    [6, 0.999, 15_015],
    [0, 0, 1_000],
  ])('failure %i with random %d waits %i ms', (failures, random, expected) => {
    expect(backoffDelayMs(failures, policy, fixed(random))).toBe(expected);
  });

  it('without jitter the random source does not matter', () => {
    expect(backoffDelayMs(2, { ...policy, jitter: 0 }, fixed(0.9))).toBe(2_000);
  });

  it('defaults: 1 s doubling up to 60 s', () => {
    expect(backoffDelayMs(1, DEFAULT_RESTART_POLICY, fixed(0))).toBe(1_000);
    expect(backoffDelayMs(10, DEFAULT_RESTART_POLICY, fixed(0))).toBe(60_000);
  });
});

describe('planRestart', () => {
  it.each([
    // previous failures, up ms, next failures, delay
    [0, 100, 1, 1_000],
    [1, 100, 2, 2_000],
    [4, 59_999, 5, 16_000],
    [4, 60_000, 1, 1_000],
    [9, 3_600_000, 1, 1_000],
    [9, 10, 10, 30_000],
  ])('after %i failures and a %i ms run: failure %i, wait %i ms', (previous, upMs, failures, delayMs) => {
    expect(planRestart(previous, upMs, policy, fixed(0))).toEqual({ failures, delayMs });
  });
});
