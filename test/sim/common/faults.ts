import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** Fault knobs shared by the simulated SPIRE server, agent and admin API; counters count down per request. */
export interface FaultState {
  /** Added before every request is answered, before any header: a client's timeout case. */
  latencyMs: number;
  /** Fail the next N requests with `failStatus` (HTTP status, or gRPC code for the SPIRE processes). */
  failNext: number;
  failStatus: number;
  failMessage: string;
  /** With a 429 or 503 from `failNext`, send `Retry-After` with this many seconds (admin API); 0 sends none. */
  retryAfterSeconds: number;
  /** Send the next N answers' headers at once and trickle the body over `slowBodyMs` (admin API). */
  slowBodyNext: number;
  slowBodyMs: number;
  /** Set to 1 to end every login session now: bearers and refresh tokens stop verifying (admin API). */
  expireSessions: number;
  /** Answer the next N requests with a body that is not valid JSON (admin API). */
  malformedNext: number;
  /** Answer the next N requests with a body larger than any sane client cap (admin API). */
  oversizeNext: number;
  /** Destroy the connection of the next N requests without answering. */
  dropNext: number;
  /** Reject the next N node attestations as an unknown token would be (SPIRE server). */
  rejectAttestations: number;
  /** Exit with status 2 this many seconds after start; 0 never. */
  crashAfterSeconds: number;
  /**
   * Admit this many requests a second (a token bucket), answer the rest 429 with `Retry-After` (admin API);
   * 0 never throttles.
   */
  throttleRate: number;
  /** The bucket's size, the burst admitted at once; 0 means one second's worth (`throttleRate`). */
  throttleBurst: number;
  /** `join-tokens`: only `POST /api/admin/spire/join-tokens` counts; `all`: logins and refreshes too. */
  throttleScope: 'join-tokens' | 'all';
}

type Counter =
  | 'failNext'
  | 'malformedNext'
  | 'oversizeNext'
  | 'dropNext'
  | 'rejectAttestations'
  | 'slowBodyNext'
  | 'expireSessions';

const DEFAULTS: FaultState = {
  latencyMs: 0,
  failNext: 0,
  failStatus: 503,
  failMessage: 'simulated failure',
  retryAfterSeconds: 0,
  slowBodyNext: 0,
  slowBodyMs: 10_000,
  expireSessions: 0,
  malformedNext: 0,
  oversizeNext: 0,
  dropNext: 0,
  rejectAttestations: 0,
  crashAfterSeconds: 0,
  throttleRate: 0,
  throttleBurst: 0,
  throttleScope: 'join-tokens',
};

const SCOPES: readonly string[] = ['join-tokens', 'all'];

/** Parses and checks a partial fault state; unknown keys and wrong types are errors, as for any config. */
export function parseFaults(input: unknown): Partial<FaultState> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error('faults must be a JSON object');
  }
  const out: Partial<FaultState> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!(key in DEFAULTS)) throw new Error(`unknown fault knob "${key}"`);
    const expected = typeof DEFAULTS[key as keyof FaultState];
    if (typeof value !== expected) throw new Error(`fault knob "${key}" must be a ${expected}`);
    if (key === 'throttleScope' && !SCOPES.includes(value as string)) {
      throw new Error(
        `fault knob "throttleScope" must be "join-tokens" or "all", got ${JSON.stringify(value)}`,
      );
    }
    if ((key === 'throttleRate' || key === 'throttleBurst') && !((value as number) >= 0)) {
      throw new Error(`fault knob "${key}" must be a number >= 0, got ${String(value)}`);
    }
    (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** The live fault state of one simulated process, seeded from `SIM_FAULTS` (JSON). */
export class Faults {
  #state: FaultState;

  constructor(env: string | undefined = process.env.SIM_FAULTS) {
    this.#state = { ...DEFAULTS, ...(env ? parseFaults(JSON.parse(env)) : {}) };
  }

  get state(): Readonly<FaultState> {
    return { ...this.#state };
  }

  update(partial: Partial<FaultState>): void {
    this.#state = { ...this.#state, ...partial };
  }

  /** True (and one used up) when the counted fault should hit this request. */
  take(counter: Counter): boolean {
    if (this.#state[counter] <= 0) return false;
    this.#state[counter] -= 1;
    return true;
  }

  async delay(): Promise<void> {
    if (this.#state.latencyMs > 0) await new Promise((r) => setTimeout(r, this.#state.latencyMs));
  }

  /** Arms the crash knob; the timer does not keep the process alive on its own. */
  armCrash(onCrash: () => void): void {
    if (this.#state.crashAfterSeconds > 0) setTimeout(onCrash, this.#state.crashAfterSeconds * 1000).unref();
  }
}

/** Named counters that tests read to learn what a simulated process was asked. */
export class Stats {
  #counts = new Map<string, number>();

  inc(name: string): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

/**
 * Answers the control routes `GET|POST /faults` and `GET /stats` under `prefix`; returns false for other paths
 * so the admin API can mount it beside its own routes.
 */
export async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  faults: Faults,
  stats: Stats,
  prefix = '',
): Promise<boolean> {
  const path = (req.url ?? '').split('?')[0];
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  if (path === `${prefix}/stats` && req.method === 'GET') {
    send(200, stats.snapshot());
    return true;
  }
  if (path !== `${prefix}/faults`) return false;
  if (req.method === 'POST') {
    try {
      faults.update(parseFaults(await readJson(req)));
    } catch (err) {
      send(400, { message: (err as Error).message });
      return true;
    }
  }
  send(200, faults.state);
  return true;
}

/** Starts a loopback control server when `SIM_CONTROL_PORT` is set (SPIRE server and agent simulators). */
export async function startControlServer(faults: Faults, stats: Stats): Promise<Server | undefined> {
  const port = process.env.SIM_CONTROL_PORT;
  if (!port) return undefined;
  const server = createServer((req, res) => {
    handleControl(req, res, faults, stats).then(
      (handled) => {
        if (!handled) res.writeHead(404).end();
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), '127.0.0.1', resolve);
  });
  server.unref();
  return server;
}
