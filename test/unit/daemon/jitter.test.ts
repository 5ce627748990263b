import { describe, expect, it } from 'vitest';
import { jitterDelay } from '../../../src/daemon/jitter.js';

describe('jitterDelay', () => {
  it.each([
    ['restart, lowest draw', 'restart', 1000, 0, 0, 800],
    ['restart, highest draw', 'restart', 1000, 0, 1, 1200],
    ['token retry, full jitter down to zero', 'token-retry', 8000, 0, 0, 0],
    ['token retry, full jitter up to the delay', 'token-retry', 8000, 0, 1, 8000],
    ['token retry never below Retry-After', 'token-retry', 8000, 5000, 0, 5000],
    ['token retry, a delay no longer than Retry-After is kept', 'token-retry', 2000, 5000, 0.5, 2000],
    ['step retries are not jittered', 'step-retry', 1500, 0, 0.9, 1500],
  ] as const)('%s', (_name, timer, afterMs, floor, draw, expected) => {
    expect(jitterDelay(timer, afterMs, floor, () => draw)).toBe(expected);
  });
});
