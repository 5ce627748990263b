// Readiness probes for a supervised child: SPIRE's `health_checks` listener answers GET /ready with 200 once
// the agent has attested or the server serves its APIs.

/** Resolves true when the child is ready; false or a rejection means "not yet". */
export type ReadinessProbe = (signal: AbortSignal) => Promise<boolean>;

export interface HttpReadiness {
  url: string;
  /** Per-request limit, so a listener that accepts but never answers does not stall the poll. Default 2 s. */
  timeoutMs?: number;
}

export type Readiness = ReadinessProbe | HttpReadiness;

/** Turns a readiness option into a probe; an HTTP probe is ready on any 2xx answer. */
export function toProbe(readiness: Readiness): ReadinessProbe {
  if (typeof readiness === 'function') return readiness;
  const { url, timeoutMs = 2_000 } = readiness;
  return async (signal) => {
    const response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
    // Drain the body so the keep-alive connection is reusable for the next poll.
    await response.arrayBuffer();
    return response.ok;
  };
}
