import type { IncomingMessage, ServerResponse } from 'node:http';

// Core answers its own errors as JSON {message, status} (pkg/core/api writeError) but the auth package uses Go's
// http.Error: text/plain with a trailing newline. Clients meet both shapes, so the simulator writes both exactly.

/** An answer decided by a handler, written by the server (which may still apply fault knobs to it). */
export interface Reply {
  status: number;
  body: string;
  headers: Record<string, string>;
  /** True for JSON success bodies: the ones `malformedNext` and `oversizeNext` replace. */
  success: boolean;
}

/** Go's json.Encoder output: the value and a newline. */
export function jsonReply(status: number, value: unknown): Reply {
  return {
    status,
    body: `${JSON.stringify(value)}\n`,
    headers: { 'content-type': 'application/json' },
    success: status < 300,
  };
}

/** core's writeError: `{"message": …, "status": …}`. */
export function jsonError(status: number, message: string): Reply {
  return jsonReply(status, { message, status });
}

/** Go's http.Error. */
export function plainError(status: number, message: string): Reply {
  return {
    status,
    body: `${message}\n`,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
    success: false,
  };
}

/** Writes a reply with an explicit length (the oversize fault relies on clients honouring a cap, not on chunking). */
export function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
  res.end(reply.body);
}

const MAX_BODY = 1024 * 1024;

/** The request body as text, or undefined when it is larger than any sane request. */
export async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Sliding-window limiter standing in for a proxy in front of core; answers how long to wait, or 0. */
export class Throttle {
  #stamps: number[] = [];
  readonly #max: number;
  readonly #windowMs: number;

  constructor(maxRequests: number, perSeconds: number) {
    this.#max = maxRequests;
    this.#windowMs = perSeconds * 1000;
  }

  /** Records a request at `nowMs` when allowed; otherwise returns the Retry-After seconds. */
  admit(nowMs: number): number {
    this.#stamps = this.#stamps.filter((t) => nowMs - t < this.#windowMs);
    if (this.#stamps.length < this.#max) {
      this.#stamps.push(nowMs);
      return 0;
    }
    const oldest = this.#stamps[0] ?? nowMs;
    return Math.max(1, Math.ceil((oldest + this.#windowMs - nowMs) / 1000));
  }
}
