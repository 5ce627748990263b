// Every HTTP request the pollers send, as node:http reports it on its diagnostics channels (the daemon's admin
// client is node:http/node:https, src/token/admin-http.ts; nothing in src/ is wrapped): sent, answered with a
// status, or failed. `http.client.request.start` names each request once it is sent; `http.client.response.finish`
// its answer; a failure (refused connection, reset, abort) is the request's own 'error' event, heard by a one-shot
// listener attached at start (Node 20.19, the oldest the project runs on, has no error channel of its own).

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

export type Sent = [at: number, path: string];
export type Outcome = [at: number, path: string, status: number | string];

export interface RequestLog {
  readonly sent: Sent[];
  /** An HTTP status, or the error's code (ECONNREFUSED, ECONNRESET, ABORT_ERR…). */
  readonly outcomes: Outcome[];
  stop(): void;
}

const START = 'http.client.request.start';
const FINISH = 'http.client.response.finish';

/** The request's origin, from its protocol and Host header (default ports normalised as URL does). */
function originOf(request: ClientRequest): string | null {
  const host = request.getHeader('host');
  if (typeof host !== 'string') return null;
  try {
    return new URL(`${request.protocol}//${host}`).origin;
  } catch {
    return null;
  }
}

/** The path without its query: what figures.ts classifies (login, join tokens, other). */
const pathOf = (request: ClientRequest) => request.path.replace(/\?.*$/, '');

/** Records the requests to `origin` from now until `stop()`. */
export function recordRequests(origin: string, now: () => number = Date.now): RequestLog {
  const want = new URL(origin).origin;
  const sent: Sent[] = [];
  const outcomes: Outcome[] = [];
  // Requests sent and not yet answered: an answer or an error settles each once.
  const open = new WeakSet<ClientRequest>();
  let stopped = false;
  const settle = (request: ClientRequest, status: number | string) => {
    if (stopped || !open.has(request)) return;
    open.delete(request);
    outcomes.push([now(), pathOf(request), status]);
  };
  const onStart = (m: unknown) => {
    const { request } = m as { request: ClientRequest };
    if (stopped || originOf(request) !== want) return;
    open.add(request);
    sent.push([now(), pathOf(request)]);
    request.once('error', (error: Error & { code?: string }) =>
      settle(request, error.code ?? error.name ?? 'error'),
    );
  };
  const onFinish = (m: unknown) => {
    const { request, response } = m as { request: ClientRequest; response: IncomingMessage };
    settle(request, response.statusCode ?? 0);
  };
  subscribe(START, onStart);
  subscribe(FINISH, onFinish);
  return {
    sent,
    outcomes,
    stop() {
      stopped = true;
      unsubscribe(START, onStart);
      unsubscribe(FINISH, onFinish);
    },
  };
}
