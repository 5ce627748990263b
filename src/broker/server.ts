// The broker's listener: HTTPS (tls.cert_file, tls.key_file; reloaded with setSecureContext on SIGHUP), or plain
// HTTP on loopback when allow_http says so. Bodies are capped; every request is logged without its headers.

import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { isIP } from 'node:net';
import type { Logger } from '../observability/logger.js';
import type { Handler } from './app.js';
import type { Route } from './metrics.js';
import type { Reply } from './reply.js';

const MAX_BODY = 64 * 1024;
/** How long a stop waits for the requests in flight, unless told otherwise. */
const DEFAULT_DRAIN_MS = 10_000;

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Over the limit, the rest is read and dropped until the 413 is sent, then the connection is closed: a
    // socket destroyed at once would leave the client with a reset instead of the answer.
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) reject(new BodyTooLarge());
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface BrokerServer {
  readonly url: string;
  /** Re-reads the certificate and key (a renewed certificate needs no restart). */
  reloadTls(): Promise<void>;
  close(): Promise<void>;
}

async function tlsOptions(tls: TlsFiles) {
  return {
    cert: await readFile(tls.certFile),
    key: await readFile(tls.keyFile),
    minVersion: 'TLSv1.2' as const,
  };
}

/** Starts listening on host:port; resolves once bound. */
export async function startBrokerServer(options: {
  host: string;
  port: number;
  tls: TlsFiles | null;
  handler: Handler;
  logger: Pick<Logger, 'info' | 'error'>;
  /** Told how long each answer took (the request duration histogram). */
  onDone?: (route: Route, seconds: number) => void;
  /** How long a stop waits for the requests in flight; then their connections are cut. */
  drainMs?: number;
}): Promise<BrokerServer> {
  const { handler, logger, tls } = options;
  const drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
  // Once stopping, a kept-alive connection must not carry a new request to the handler (it could mint after the
  // stop began) nor stay open after its answer (the stop would wait for the client's keep-alive to lapse).
  let stopping = false;
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    let path = '';
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      path = '';
    }
    const remoteAddress = req.socket.remoteAddress ?? null;
    const handled: Promise<Reply & { route: Route }> = stopping
      ? Promise.resolve({
          status: 503,
          body: { message: 'the broker is stopping; ask again', status: 503 },
          headers: { 'retry-after': '1' },
          route: 'other' as const,
        })
      : handler({
          method: req.method ?? 'GET',
          path,
          headers: req.headers,
          remoteAddress,
          body: () => readBody(req),
        });
    handled
      .catch((error: unknown): Reply & { route: Route } => {
        if (error instanceof BodyTooLarge)
          return {
            status: 413,
            body: { message: `request body over ${MAX_BODY} bytes`, status: 413 },
            headers: { connection: 'close' },
            route: 'other' as const,
          };
        logger.error({ err: error instanceof Error ? error.message : String(error), path }, 'request failed');
        return { status: 500, body: { message: 'internal error', status: 500 }, route: 'other' as const };
      })
      .then((reply) => {
        const body = typeof reply.body === 'string' ? reply.body : `${JSON.stringify(reply.body)}\n`;
        const headers = {
          'content-type': 'application/json',
          'x-content-type-options': 'nosniff',
          ...reply.headers,
          ...(stopping ? { connection: 'close' } : {}),
        };
        if (!res.headersSent)
          res.writeHead(reply.status, { ...headers, 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
        if (reply.status === 413) res.once('finish', () => req.destroy());
        const ms = performance.now() - started;
        options.onDone?.(reply.route, ms / 1000);
        logger.info(
          { method: req.method, path, status: reply.status, ms: Math.round(ms), remote: remoteAddress },
          'request',
        );
      });
  };
  const server: Server | HttpsServer = tls
    ? createHttpsServer(await tlsOptions(tls), serve)
    : createServer(serve);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = isIP(options.host) === 6 ? `[${options.host}]` : options.host;
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${port}`,
    async reloadTls() {
      if (tls) (server as HttpsServer).setSecureContext(await tlsOptions(tls));
    },
    // A request in flight may have minted already: it is answered before the connection goes, for up to
    // drainMs; idle keep-alive connections are closed at once, the others after their answer.
    close: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        const cut = setTimeout(() => server.closeAllConnections(), drainMs);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
