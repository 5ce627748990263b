import { describe, expect, it } from 'vitest';
import { nextLook } from '../../../src/daemon/identity-report.js';

const HOUR = 3_600_000;

describe('nextLook: when an identity is looked at again', () => {
  it('follows SPIRE: after the rotation at half-life, at 5/6 (a CA activated), then at expiry', () => {
    const issued = 0;
    const expires = 6 * HOUR;
    expect(nextLook(issued, expires, 0)).toBe(3 * HOUR + 30_000);
    expect(nextLook(issued, expires, 3 * HOUR + 30_000)).toBe(5 * HOUR);
    expect(nextLook(issued, expires, 5 * HOUR)).toBe(6 * HOUR + 1_000);
  });

  it('stops looking once it has expired: a new one comes with the next start', () => {
    expect(nextLook(0, HOUR, HOUR + 5_000)).toBeNull();
  });
});
