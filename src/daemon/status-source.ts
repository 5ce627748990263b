// What /status and /readyz answer: "starting" until the bootstrap is loaded, then the daemon's own projection.
import type { Readiness } from '../observability/http.js';

export interface StatusSource {
  status(): unknown;
  readiness(): Readiness;
  /** Hands /status and /readyz to the running daemon. */
  set(source: { status(): unknown; readiness(): Readiness }): void;
}

export function statusSource(version: string): StatusSource {
  let current = {
    status: (): unknown => ({ phase: 'init', ready: false, version }),
    readiness: (): Readiness => ({ ready: false, reason: 'starting' }),
  };
  return {
    status: () => current.status(),
    readiness: () => current.readiness(),
    set(source) {
      current = source;
    },
  };
}
