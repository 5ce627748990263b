import type { ServerResponse } from 'node:http';
import type { FaultState } from '../common/faults.js';
import { jsonError, plainError, type Reply } from './http.js';

/**
 * The answer `failNext` gives, shaped as core (or the proxy in front of it) would send that status unless a
 * `failMessage` is set: 401 core's JSON `Invalid bearer token`, 403 RBAC's plain `insufficient permissions`,
 * 429 the proxy's plain `Too Many Requests`, anything else core's JSON error. 429 and 503 carry Retry-After
 * when `retryAfterSeconds` is set.
 */
export function failureReply(state: Readonly<FaultState>): Reply {
  const { failStatus: status, failMessage: message } = state;
  const custom = message !== 'simulated failure';
  let reply: Reply;
  if (!custom && status === 401) reply = jsonError(401, 'Invalid bearer token');
  else if (!custom && status === 403) reply = plainError(403, 'insufficient permissions');
  else if (!custom && status === 429) reply = plainError(429, 'Too Many Requests');
  else reply = jsonError(status, message);
  if ((status === 429 || status === 503) && state.retryAfterSeconds > 0) {
    reply.headers['retry-after'] = String(state.retryAfterSeconds);
  }
  return reply;
}

/** Sends the headers at once, then the body in ten pieces spread over `totalMs`: a stalled-body case. */
export function sendSlowly(res: ServerResponse, reply: Reply, totalMs: number): void {
  const body = Buffer.from(reply.body);
  res.writeHead(reply.status, { ...reply.headers, 'content-length': body.length });
  res.flushHeaders();
  const pieces = 10;
  const size = Math.ceil(body.length / pieces);
  let i = 0;
  const timer = setInterval(
    () => {
      if (res.destroyed) return clearInterval(timer);
      const chunk = body.subarray(i * size, (i + 1) * size);
      i += 1;
      if (i >= pieces || chunk.length === 0) {
        clearInterval(timer);
        res.end(chunk);
      } else res.write(chunk);
    },
    Math.max(1, Math.floor(totalMs / pieces)),
  );
  timer.unref();
}
