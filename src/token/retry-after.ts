// HTTP Retry-After (RFC 9110 §10.2.3): how long a server asks to be left alone; the machine treats it as a floor.

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date); undefined when absent or bad. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date always names a weekday and month; this keeps Date.parse from reading "-5" as a year.
  const at = /[A-Za-z]/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
