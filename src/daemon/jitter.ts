// The state machine's delays are deterministic; many pollers restarting at once must not hit the servers in step.
import type { TimerEvent } from './machine-types.js';

/**
 * Spreads a scheduled delay: child restarts ±20 %; token retries get full jitter, but never less than a
 * server's Retry-After (`floorMs`); other timers are left as they are.
 */
export function jitterDelay(
  timer: TimerEvent['timer'],
  afterMs: number,
  floorMs = 0,
  random: () => number = Math.random,
): number {
  if (timer === 'restart') return Math.round(afterMs * (0.8 + 0.4 * random()));
  if (timer !== 'token-retry') return afterMs;
  const floor = Math.min(floorMs, afterMs);
  return Math.round(floor + random() * (afterMs - floor));
}
