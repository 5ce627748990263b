// Restart policy for a child that exits on its own: capped exponential backoff with jitter, and a clean slate
// once the child had stayed up long enough to count as healthy.

export interface RestartPolicy {
  /** Delay before the first restart. */
  initialMs: number;
  /** Cap of every delay. */
  maxMs: number;
  /** Growth per consecutive failure. */
  factor: number;
  /** Fraction of the delay that is random, in [0, 1]: 0.2 gives a delay in [0.8·d, d]. */
  jitter: number;
  /** A run at least this long resets the failure count. */
  stableMs: number;
}

export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = Object.freeze({
  initialMs: 1_000,
  maxMs: 60_000,
  factor: 2,
  jitter: 0.2,
  stableMs: 60_000,
});

export interface RestartDecision {
  /** Consecutive failures including this one; the next call takes it back as `failures`. */
  failures: number;
  delayMs: number;
}

/** Delay before restart number `failures` (1 = first restart): min(max, initial·factor^(failures-1)), jittered down. */
export function backoffDelayMs(
  failures: number,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, failures - 1);
  const ceiling = Math.min(policy.maxMs, policy.initialMs * policy.factor ** exponent);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  // Jitter only shortens the delay, so the cap really is a cap and many pollers do not restart in lockstep.
  return Math.round(ceiling * (1 - jitter * random()));
}

/**
 * Decides the next restart after a child ran for `upMs` and exited: a stable run resets the count, so a child
 * that crashes once a day restarts after `initialMs`, while a crash loop backs off to `maxMs`.
 */
export function planRestart(
  previousFailures: number,
  upMs: number,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
  random: () => number = Math.random,
): RestartDecision {
  const failures = (upMs >= policy.stableMs ? 0 : previousFailures) + 1;
  return { failures, delayMs: backoffDelayMs(failures, policy, random) };
}
