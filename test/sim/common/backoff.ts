import { timeScale } from './grpc.js';

/**
 * SPIRE's pkg/common/backoff.NewBackoff: cenkalti ExponentialBackOff with ±10 % jitter, multiplier 1.5, a cap
 * of 24 intervals (or `maxIntervalMs`) and an optional maximum elapsed time after which `next` says stop.
 * Times are SPIRE's (unscaled) milliseconds; elapsed time is measured on the scaled clock and converted back.
 */
export class Backoff {
  #current: number;
  #started = Date.now();
  readonly #initial: number;
  readonly #max: number;
  readonly #maxElapsed: number;

  constructor(initialMs: number, opts: { maxIntervalMs?: number; maxElapsedMs?: number } = {}) {
    this.#initial = initialMs;
    this.#current = initialMs;
    this.#max = opts.maxIntervalMs ?? 24 * initialMs;
    this.#maxElapsed = opts.maxElapsedMs ?? 0;
  }

  /** The next wait in SPIRE milliseconds, or undefined once the elapsed budget would be exceeded. */
  next(): number | undefined {
    const elapsed = (Date.now() - this.#started) / timeScale();
    const wait = this.#current * (0.9 + Math.random() * 0.2);
    this.#current = Math.min(this.#current * 1.5, this.#max);
    if (this.#maxElapsed > 0 && elapsed + wait > this.#maxElapsed) return undefined;
    return wait;
  }

  reset(): void {
    this.#current = this.#initial;
    this.#started = Date.now();
  }
}
