// The broker's answers, in the shapes ServiceRadar core used and its clients parse (DESIGN §7): JSON
// `{"message", "status"}` errors (plus the `rule` that denied the request), 201 with the token.

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** core's writeError shape, with the policy rule that decided when there is one. */
export function errorReply(
  status: number,
  message: string,
  rule?: string,
  retryAfterSeconds?: number,
): Reply {
  return {
    status,
    body: rule === undefined ? { message, status } : { message, status, rule },
    ...(retryAfterSeconds === undefined ? {} : { headers: { 'retry-after': String(retryAfterSeconds) } }),
  };
}

/** RFC 3339 without fractions, as Go's time.Time marshals a whole second. */
export const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
