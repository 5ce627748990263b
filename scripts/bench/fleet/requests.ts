// Every HTTP request the pollers send, as undici reports it on its diagnostics channels (the daemon's admin client
// uses undici with its own Agent; nothing in src/ is wrapped): sent, answered with a status, or failed.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

export type Sent = [at: number, path: string];
export type Outcome = [at: number, path: string, status: number | string];

export interface RequestLog {
  readonly sent: Sent[];
  /** An HTTP status, or the error's code (ECONNREFUSED, UND_ERR_SOCKET…). */
  readonly outcomes: Outcome[];
  stop(): void;
}

interface UndiciRequest {
  origin: string;
  path: string;
}

/** Records the requests to `origin` from now until `stop()`. */
export function recordRequests(origin: string, now: () => number = Date.now): RequestLog {
  const want = new URL(origin).origin;
  const sent: Sent[] = [];
  const outcomes: Outcome[] = [];
  const ours = (r: UndiciRequest) => new URL(r.origin).origin === want;
  const onCreate = (m: unknown) => {
    const { request } = m as { request: UndiciRequest };
    if (ours(request)) sent.push([now(), request.path]);
  };
  const onHeaders = (m: unknown) => {
    const { request, response } = m as { request: UndiciRequest; response: { statusCode: number } };
    if (ours(request)) outcomes.push([now(), request.path, response.statusCode]);
  };
  const onError = (m: unknown) => {
    const { request, error } = m as { request: UndiciRequest; error: { code?: string; name?: string } };
    if (ours(request)) outcomes.push([now(), request.path, error.code ?? error.name ?? 'error']);
  };
  const channels: [string, (m: unknown) => void][] = [
    ['undici:request:create', onCreate],
    ['undici:request:headers', onHeaders],
    ['undici:request:error', onError],
  ];
  for (const [name, fn] of channels) subscribe(name, fn);
  return {
    sent,
    outcomes,
    stop() {
      for (const [name, fn] of channels) unsubscribe(name, fn);
    },
  };
}
