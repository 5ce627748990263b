// The server under test, whichever it is: where the pollers send their requests, how to take it down and bring it
// back, and what it saw. `sim` is the simulated admin API (test/sim/admin) behind a token bucket; `broker` is
// the real `poller-bootstrap broker` process behind its global throttle (target-broker.ts).

/** One answer the server gave: epoch ms, route ('login', 'join_tokens', …) and HTTP status. */
export type Answer = [at: number, route: string, status: number];

/** What the server itself counted; null from a target that cannot say. */
export interface ServerView {
  answers: Answer[];
  /** Join tokens minted per downstream SPIFFE ID (one per poller), whether or not the answer reached it. */
  minted: Record<string, number>;
  /** The server's own counters (the simulator's /_sim/stats). */
  stats: Record<string, number>;
}

export interface Target {
  readonly name: string;
  readonly url: string;
  /** A login the admin role accepts; the password is in a 0600 file. */
  readonly username: string;
  readonly passwordFile: string;
  /** A 0600 file holding a bearer token from one login, for `--auth bearer`. */
  bearerFile(): Promise<string>;
  /**
   * Takes the server away from `from` until `to` (epoch ms), timed by the target itself; resolves after it is
   * back, with the times the outage really began and ended.
   */
  outage(from: number, to: number): Promise<{ from: number; to: number }>;
  view(): Promise<ServerView | null>;
  close(): Promise<void>;
}

export interface TargetOptions {
  /** A private folder for the target's sockets and secrets. */
  dir: string;
  trustDomain: string;
  /** Join tokens a second the server admits (R), and the burst it admits at once. */
  rate: number;
  burst: number;
  /** What the rate counts: join-token requests only, or logins too. */
  scope: 'join-tokens' | 'all';
  /** '503': every request answered 503 (as with core up but SPIRE integration failing); 'down': no listener. */
  outageKind: '503' | 'down';
  /** Retry-After on the outage's 503s; 0 sends none. */
  outageRetryAfterSeconds: number;
}

/** The target named on the command line. */
export async function startTarget(name: string, options: TargetOptions): Promise<Target> {
  if (name === 'sim') return (await import('./target-sim.js')).startSimTarget(options);
  if (name === 'broker') return (await import('./target-broker.js')).startBrokerTarget(options);
  throw new Error(`Expected \`--target\` to be "sim" or "broker", got ${JSON.stringify(name)}`);
}
