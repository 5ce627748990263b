// The shapes a supervised child exposes: what to run, its options, its observable state and how a run ended.
import type { Logger } from '../observability/logger.js';
import type { ParsedLine } from './logrus.js';
import type { Readiness } from './readiness.js';

export type ChildStatus = 'idle' | 'starting' | 'ready' | 'exited' | 'stopped';

/** What one run executes; given at every start, so a reload can change the command, environment or probe. */
export interface ChildSpec {
  command: string;
  args?: readonly string[];
  /** The child's whole environment besides PATH: the daemon's own environment (secrets) is never inherited. */
  env?: Readonly<Record<string, string>>;
  /** Without it the child counts as ready once spawned. */
  readiness?: Readiness;
  /** A log line that says the child just got ready: the probe asks at once instead of at its next poll. */
  readyLine?: RegExp;
}

export interface ChildState {
  name: string;
  status: ChildStatus;
  pid: number | undefined;
  exitCode: number | undefined;
  signal: string | undefined;
  /** Why the last run ended: `exited` when the child ended on its own, otherwise the reason given to stop(). */
  reason: string | undefined;
  /** Starts after the first. */
  restarts: number;
  startedAt: Date | undefined;
}

export interface ChildExit {
  exitCode: number | undefined;
  signal: string | undefined;
  reason: string;
  /** How long the run lasted. */
  upMs: number;
  /** The last output lines (masked), oldest first. */
  lines: readonly string[];
  /** Why the process could not be spawned at all (e.g. ENOENT). */
  spawnError: Error | undefined;
}

export interface ChildOptions {
  name: string;
  logger: Logger;
  /** SIGTERM, then SIGKILL after this long. Default 10 s. */
  graceMs?: number;
  /** Called for every output line (stdout and stderr), after masking; e.g. to spot a refused join token. */
  onLine?: (parsed: ParsedLine, raw: string) => void;
  onExit?: (exit: ChildExit) => void;
  /** How many output lines an exit keeps. Default 50. */
  tailLines?: number;
  /** First readiness poll interval, doubling up to 1 s (log lines cut a wait short). Default 50 ms. */
  pollMs?: number;
  /**
   * setpriv(1) to start children through with `--pdeathsig SIGTERM`, so that they die with the daemon even when
   * it is killed outright; without it a killed daemon leaves them running (the next one stops them).
   */
  setpriv?: string;
  /** Applied to each raw line before anything sees it. Default masks join-token SPIFFE IDs. */
  mask?: (line: string) => string;
}
