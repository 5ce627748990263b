import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordRequest } from '../common/events.js';
import { Faults, handleControl, Stats } from '../common/faults.js';
import { createLog, type Log } from '../common/log.js';
import { type AuthContext, authenticate, login, refresh, requireAdmin } from './auth.js';
import { bucketKnob } from './bucket.js';
import type { AdminConfig } from './config.js';
import { failureReply, sendSlowly } from './fault-replies.js';
import { jsonReply, plainError, type Reply, readBody, send, Throttle } from './http.js';
import { handleJoinToken } from './join-tokens.js';

export interface AdminApiOptions {
  config: AdminConfig;
  /** The simulated cluster SPIRE server's admin socket. */
  spireSocket: string;
  trustDomain: string;
  /** Loopback only; default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  faults?: Faults;
  stats?: Stats;
  /** Where the JSON log lines go; default stdout. */
  out?: NodeJS.WritableStream;
  /** Clock in milliseconds, injectable so tests can expire bearers without sleeping. */
  now?: () => number;
  /** Called when the `crashAfterSeconds` knob fires; the CLI exits with status 2. */
  onCrash?: () => void;
}

export interface AdminApi {
  url: string;
  faults: Faults;
  stats: Stats;
  close(): Promise<void>;
}

const JOIN_TOKENS = '/api/admin/spire/join-tokens';
const ROUTES: Record<string, string> = {
  '/auth/login': 'login',
  '/auth/refresh': 'refresh',
  [JOIN_TOKENS]: 'join_tokens',
};

/** True for hosts that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function corrupt(reply: Reply, faults: Faults, count: (n: string) => void): Reply {
  if (!reply.success) return reply;
  if (faults.take('malformedNext')) {
    count('faults_malformed');
    return { ...reply, body: reply.body.slice(0, Math.max(1, Math.floor(reply.body.length / 2))) };
  }
  if (faults.take('oversizeNext')) {
    count('faults_oversize');
    // Still valid JSON: only a client that caps the body size notices anything.
    const value = JSON.parse(reply.body) as Record<string, unknown>;
    return { ...reply, body: `${JSON.stringify({ ...value, padding: 'x'.repeat(1024 * 1024) })}\n` };
  }
  return reply;
}

/** Starts the simulated ServiceRadar core admin API; resolves once it is listening. */
export async function startAdminApi(options: AdminApiOptions): Promise<AdminApi> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) throw new Error(`refusing to listen on non-loopback host ${JSON.stringify(host)}`);
  const faults = options.faults ?? new Faults();
  const stats = options.stats ?? new Stats();
  const log: Log = createLog('json', 'info', options.out ?? process.stdout);
  const now = options.now ?? Date.now;
  const auth: AuthContext = {
    config: options.config,
    secret: randomBytes(32),
    nowSeconds: () => Math.floor(now() / 1000),
  };
  const throttle = options.config.throttle
    ? new Throttle(options.config.throttle.maxRequests, options.config.throttle.perSeconds)
    : undefined;
  const bucket = bucketKnob();
  const count = (name: string) => stats.inc(name);
  let crashArmed = false;
  const armCrash = () => {
    if (crashArmed || !options.onCrash || faults.state.crashAfterSeconds <= 0) return;
    crashArmed = true;
    faults.armCrash(options.onCrash);
  };

  async function route(req: IncomingMessage, path: string, name: string): Promise<Reply> {
    if (name === 'other') return plainError(404, '404 page not found');
    // gorilla/mux answers a method mismatch before any middleware runs.
    if (req.method !== 'POST') return { status: 405, body: '', headers: {}, success: false };
    const body = (await readBody(req)) ?? '';
    if (path === '/auth/login' || path === '/auth/refresh') {
      const result = path === '/auth/login' ? login(body, auth) : refresh(body, auth);
      count(result.ok ? `${name}s` : `${name}_failures`);
      return result.reply;
    }
    const who = authenticate(req.headers, auth);
    if (!who.ok) return who.reply;
    const denied = requireAdmin(who.user, auth);
    if (denied) return denied;
    return handleJoinToken(body, {
      config: options.config,
      spireSocket: options.spireSocket,
      trustDomain: options.trustDomain,
      count,
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith('/_sim/')) {
      if (await handleControl(req, res, faults, stats, '/_sim')) {
        armCrash();
        return;
      }
    }
    const name = ROUTES[path] ?? 'other';
    count('requests');
    if (faults.take('expireSessions')) {
      // Every bearer and refresh token issued so far stops verifying, as after core rotated its JWT secret.
      count('sessions_expired');
      auth.secret = randomBytes(32);
    }
    if (name === 'join_tokens' && req.method === 'POST') count('join_tokens_requested');
    const retryAfter = throttle?.admit(now()) || bucket(faults.state, name, now());
    let reply: Reply;
    if (retryAfter > 0) {
      count('throttled');
      reply = plainError(429, 'Too Many Requests');
      reply.headers['retry-after'] = String(retryAfter);
    } else {
      await faults.delay();
      if (faults.take('dropNext')) {
        count('faults_dropped');
        log.info('request dropped', { method: req.method, path });
        req.socket.destroy();
        return;
      }
      if (faults.take('failNext')) {
        count('faults_failed');
        reply = failureReply(faults.state);
      } else {
        reply = corrupt(await route(req, path, name), faults, count);
      }
    }
    if (reply.status === 401) count('unauthorized');
    if (reply.status === 403) count('forbidden');
    count(`${name}_${reply.status}`);
    log.info('request', { method: req.method, path, status: reply.status });
    if (faults.take('slowBodyNext')) {
      count('faults_slow_body');
      sendSlowly(res, reply, faults.state.slowBodyMs);
    } else send(res, reply);
  }

  const server = createServer((req, res) => {
    const arrived = performance.now();
    res.once('finish', () => recordRequest('serviceradar-core', req.url ?? '/', performance.now() - arrived));
    handle(req, res).catch((err: Error) => {
      log.error('request failed', { error: err.message });
      if (!res.headersSent) send(res, jsonReply(500, { message: 'internal error', status: 500 }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  armCrash();
  log.info('listening', { url });
  return {
    url,
    faults,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
