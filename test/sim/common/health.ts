import { createServer, type Server } from 'node:http';
import { goListenError } from './go-text.js';
import { scaled } from './grpc.js';
import { type Body, bool, str } from './hcl.js';
import type { Log } from './log.js';

export const HEALTH_KEYS = [
  'listener_enabled',
  'bind_address',
  'bind_port',
  'live_path',
  'ready_path',
] as const;

/** What one subsystem reports (SPIRE's health.State); `started` undefined counts as started. */
export interface CheckState {
  started?: boolean;
  live: boolean;
  ready: boolean;
  liveDetails: Record<string, string>;
  readyDetails: Record<string, string>;
}

interface Cached {
  state: CheckState | undefined;
  err: string | undefined;
  failures: number;
  firstFailure: number;
}

// pkg/common/health/health.go: readyCheckInitialInterval and readyCheckInterval.
const INITIAL_INTERVAL_MS = 1_000;
const STEADY_INTERVAL_MS = 60_000;

function verify(s: CheckState): string | undefined {
  if (s.ready && s.live) return undefined;
  if (s.ready) return 'subsystem is not live';
  if (s.live) return 'subsystem is not ready';
  return 'subsystem is not live or ready';
}

// logrus prints a State struct with fmt's %v; the Started pointer's address is not reproducible.
function goState(s: CheckState): string {
  const details = (d: Record<string, string>) => `{${Object.values(d).join(' ')}}`;
  const started = s.started === undefined ? '<nil>' : '0xc000012345';
  return `{${started} ${s.live} ${s.ready} ${details(s.liveDetails)} ${details(s.readyDetails)}}`;
}

/**
 * SPIRE's health checker (pkg/common/health): the HTTP answers come from a cache that a runner refreshes at
 * start, then every 1 s until every check is live and ready, then every 60 s (both scaled by SIM_TIME_SCALE).
 * Before the first refresh every check is zero-valued, so both paths answer 500 with null details.
 */
export class HealthChecker {
  #checks = new Map<string, { run: () => Promise<CheckState>; cached: Cached }>();
  #timer: NodeJS.Timeout | undefined;
  #server: Server | undefined;
  #startupErrors = new Map<string, string>();
  #stopped = false;

  constructor(
    private readonly section: Body | undefined,
    private readonly log: Log,
  ) {}

  addCheck(name: string, run: () => Promise<CheckState>): void {
    this.#checks.set(name, {
      run,
      cached: { state: undefined, err: undefined, failures: 0, firstFailure: 0 },
    });
  }

  /** Starts the refresh runner and, with `listener_enabled`, the HTTP listener; a bind failure is only a warning. */
  async listenAndServe(): Promise<void> {
    const log = this.log.with({ subsystem_name: 'health' });
    log.debug('Initializing health checkers');
    // Go runs the refresher and the listener concurrently; starting the refresher once the listener is bound
    // is one of the orders it allows, and the one tests can rely on.
    if (!this.section || !bool(this.section, 'listener_enabled')) return void this.#refreshLoop(false);
    const host = (str(this.section, 'bind_address') ?? 'localhost').replace(/^\[|\]$/g, '');
    const port = str(this.section, 'bind_port') ?? '80';
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const paths = {
      [str(this.section, 'ready_path') ?? '/ready']: 'ready',
      [str(this.section, 'live_path') ?? '/live']: 'live',
    } as Record<string, 'ready' | 'live'>;
    const server = createServer((req, res) => {
      const which = paths[(req.url ?? '').split('?')[0] ?? ''];
      if (!which) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
        return;
      }
      const { ok, details } = this.#answer(which);
      res
        .writeHead(ok ? 200 : 500, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(details)}\n`);
    });
    log.info('Serving health checks', { address });
    await new Promise<void>((resolve) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        // SPIRE logs and carries on without a listener (health.go ListenAndServe).
        log.warn('Error serving health checks', { error: goListenError('tcp', address, err) });
        resolve();
      });
      server.listen(Number(port), host, () => {
        this.#server = server;
        resolve();
      });
    });
    void this.#refreshLoop(false);
  }

  close(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#server?.close();
    this.#server?.closeAllConnections();
  }

  #answer(which: 'ready' | 'live'): { ok: boolean; details: Record<string, unknown> } {
    let ok = true;
    const details: Record<string, unknown> = {};
    for (const name of [...this.#checks.keys()].sort()) {
      const state = this.#checks.get(name)?.cached.state;
      if (!state?.[which]) ok = false;
      details[name] = state ? (which === 'ready' ? state.readyDetails : state.liveDetails) : null;
    }
    return { ok, details };
  }

  async #refreshLoop(steady: boolean): Promise<void> {
    if (this.#stopped) return;
    await this.#checkAll();
    const all = [...this.#checks.values()].every((c) => c.cached.state?.ready && c.cached.state.live);
    const next = steady || all ? STEADY_INTERVAL_MS : INITIAL_INTERVAL_MS;
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#refreshLoop(steady || all), scaled(next));
    this.#timer.unref();
  }

  async #checkAll(): Promise<void> {
    const log = this.log.with({ subsystem_name: 'health' });
    for (const [name, check] of this.#checks) {
      const state = await check.run();
      const err = verify(state);
      if (err && (state.started === undefined || state.started)) {
        log.error('Health check has failed', { check: name, error: err });
      } else if (err && this.#startupErrors.get(name) !== err) {
        log.warn('Health check has failed. Starting up still.', { check: name, error: err });
        this.#startupErrors.set(name, err);
      }
      const prev = check.cached;
      const next: Cached = { state, err, failures: 0, firstFailure: 0 };
      if (err && !prev.err) {
        log.warn('Health check failed', { check: name, details: goState(state), error: err });
        next.failures = 1;
        next.firstFailure = Date.now();
      } else if (err && prev.err) {
        next.failures = prev.failures + 1;
        next.firstFailure = prev.firstFailure;
      } else if (!err && prev.err) {
        log.info('Health check recovered', {
          check: name,
          details: goState(state),
          duration: (Date.now() - prev.firstFailure) / 1000,
          error: prev.err,
          failures: prev.failures,
        });
      }
      check.cached = next;
    }
  }
}
