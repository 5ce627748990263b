// The daemon's small HTTP surface: /healthz, /readyz, /status on loopback (default 127.0.0.1:9466).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { maskJoinTokenIds } from './status.js';

export const DEFAULT_HTTP_HOST = '127.0.0.1';
export const DEFAULT_HTTP_PORT = 9466;

export interface RouteResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** A GET/HEAD handler; the route table maps exact paths (no query) to these. */
export type RouteHandler = (request: IncomingMessage) => RouteResponse | Promise<RouteResponse>;

/** isReady() may explain itself; a bare `false` is answered with reason "not ready". */
export type Readiness = boolean | { readonly ready: boolean; readonly reason: string };

export interface HttpServerOptions {
  readonly host?: string;
  readonly port?: number;
  readonly getStatus: () => unknown | Promise<unknown>;
  readonly isReady: () => Readiness;
  /** Added to the table; e.g. `/metrics`. May not replace the built-in routes. */
  readonly extraRoutes?: Readonly<Record<string, RouteHandler>>;
  /** /status describes the node's identity; exposing it beyond this host must be a deliberate choice. */
  readonly allowNonLoopback?: boolean;
  /** Told about a handler that threw; the client only sees 500 `internal error`. */
  readonly onError?: (error: unknown, path: string) => void;
}

export interface HttpServerHandle {
  readonly url: string;
  close(): Promise<void>;
}

/** The HTTP domain's one error type: refusing an address, or failing to listen. */
export class HttpServerError extends Error {
  override readonly name = 'HttpServerError';
  readonly host: string;
  readonly port: number;
  readonly code: 'not-loopback' | 'duplicate-route' | 'listen-failed';

  constructor(host: string, port: number, code: HttpServerError['code'], message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.host = host;
    this.port = port;
    this.code = code;
  }
}

/** True for `localhost`, 127.0.0.0/8 and ::1 (also as IPv4-mapped ::ffff:127.x). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

const text = (status: number, body: string): RouteResponse => ({
  status,
  contentType: 'text/plain; charset=utf-8',
  body: `${body}\n`,
});
const json = (status: number, value: unknown): RouteResponse => ({
  status,
  contentType: 'application/json; charset=utf-8',
  // Defence in depth: the status builder masks already, but a raw token must never leave this process.
  body: `${maskJoinTokenIds(JSON.stringify(value))}\n`,
});

function builtInRoutes(options: HttpServerOptions): Record<string, RouteHandler> {
  return {
    '/healthz': () => text(200, 'ok'),
    '/readyz': () => {
      const answer = options.isReady();
      const { ready, reason } = typeof answer === 'boolean' ? { ready: answer, reason: 'not ready' } : answer;
      return ready ? text(200, 'ready') : json(503, { ready: false, reason });
    },
    '/status': async () => json(200, await options.getStatus()),
  };
}

function routeTable(options: HttpServerOptions, host: string, port: number): Map<string, RouteHandler> {
  const table = new Map(Object.entries(builtInRoutes(options)));
  for (const [path, handler] of Object.entries(options.extraRoutes ?? {})) {
    if (table.has(path)) {
      throw new HttpServerError(host, port, 'duplicate-route', `HTTP route ${path} is already defined`);
    }
    table.set(path, handler);
  }
  return table;
}

async function respond(
  table: Map<string, RouteHandler>,
  onError: HttpServerOptions['onError'],
  req: IncomingMessage,
  res: ServerResponse,
) {
  let path: string;
  try {
    path = new URL(req.url ?? '/', 'http://localhost').pathname;
  } catch {
    // A request target no URL parser accepts (e.g. `//[`) must not take the daemon down.
    path = '';
  }
  let answer: RouteResponse;
  if (path === '') {
    answer = text(400, 'bad request');
  } else if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    answer = text(405, 'method not allowed');
  } else {
    const handler = table.get(path);
    try {
      answer = handler ? await handler(req) : text(404, 'not found');
    } catch (error) {
      // The handler's error may name internals: the log gets details, clients do not.
      onError?.(error, path);
      answer = json(500, { error: 'internal error' });
    }
  }
  res.statusCode = answer.status;
  res.setHeader('Content-Type', answer.contentType);
  res.setHeader('Content-Length', Buffer.byteLength(answer.body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(req.method === 'HEAD' ? undefined : answer.body);
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new HttpServerError(
          host,
          port,
          'listen-failed',
          `cannot listen on ${host}:${port} (${error.code ?? error.message})`,
          error,
        ),
      ),
    );
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

/** Starts the endpoints; refuses a non-loopback host unless allowNonLoopback is set. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const host = options.host ?? DEFAULT_HTTP_HOST;
  const port = options.port ?? DEFAULT_HTTP_PORT;
  if (!isLoopbackHost(host) && !options.allowNonLoopback) {
    throw new HttpServerError(
      host,
      port,
      'not-loopback',
      `refusing to serve /status on ${host}:${port}: not a loopback address; ` +
        'listen on 127.0.0.1 or ::1, or allow non-loopback addresses explicitly',
    );
  }
  const table = routeTable(options, host, port);
  const server = createServer((req, res) => {
    respond(table, options.onError, req, res).catch((error: unknown) => {
      options.onError?.(error, req.url ?? '');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const bound = await listen(server, host, port);
  const shownHost = isIP(host) === 6 ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${bound}`,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
