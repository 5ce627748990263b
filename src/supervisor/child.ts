// One supervised child process (a SPIRE agent or server): start it with an explicit environment, re-log its
// output, wait for readiness, and stop it with SIGTERM escalating to SIGKILL (execa's forceKillAfterDelay).
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import type { Logger } from '../observability/logger.js';
import { maskJoinTokenIds } from '../spire/join-token-id.js';
import type { ChildExit, ChildOptions, ChildSpec, ChildState, ChildStatus } from './child-types.js';
import { ChildError, describeExit } from './errors.js';
import { parseLogrusLine } from './logrus.js';
import { toProbe } from './readiness.js';

export type { ChildExit, ChildOptions, ChildSpec, ChildState, ChildStatus };

interface Run {
  subprocess: ReturnType<typeof spawn>;
  spec: ChildSpec;
  startedAtMs: number;
  /** Aborted when the run ends: cancels any readiness wait. */
  ended: AbortController;
  spawned: boolean;
  stopReason: string | undefined;
  exit: ChildExit | undefined;
  exited: Promise<ChildExit>;
}

// pino writes these keys itself; a child field with the same name would produce a duplicate JSON key.
const RESERVED = new Set(['child', 'level', 'time', 'msg', 'pid', 'hostname']);

function spawn(spec: ChildSpec, graceMs: number, setpriv: string | undefined) {
  const env = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...spec.env };
  const argv = [spec.command, ...(spec.args ?? [])];
  const [file, ...args] = setpriv ? [setpriv, '--pdeathsig', 'SIGTERM', '--', ...argv] : argv;
  return execa(file as string, args, {
    env,
    extendEnv: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    // Kills the child if the daemon itself exits; kill() escalates from SIGTERM to SIGKILL after the grace.
    cleanup: true,
    forceKillAfterDelay: graceMs,
  });
}

/** A restartable supervised child; `start()` again after it ended counts a restart. */
export class Child {
  readonly #options: ChildOptions;
  readonly #log: Logger;
  #run: Run | undefined;
  #status: ChildStatus = 'idle';
  #restarts = 0;
  #tail: string[] = [];
  /** Wakes a readiness wait when the child logs its ready line. */
  #wake: (() => void) | undefined;
  /** Ready lines seen: one that came while the probe was asking brings another ask at once. */
  #readyLines = 0;

  constructor(options: ChildOptions) {
    this.#options = options;
    this.#log = options.logger.child({ child: options.name });
  }

  get state(): ChildState {
    const run = this.#run;
    return {
      name: this.#options.name,
      status: this.#status,
      pid: run?.exit === undefined ? run?.subprocess.pid : undefined,
      exitCode: run?.exit?.exitCode,
      signal: run?.exit?.signal,
      reason: run?.exit?.reason,
      restarts: this.#restarts,
      startedAt: run === undefined ? undefined : new Date(run.startedAtMs),
    };
  }

  get pid(): number | undefined {
    return this.state.pid;
  }

  /** Spawns the child; throws if the current run has not ended. */
  start(spec: ChildSpec): void {
    const { name } = this.#options;
    if (this.#run !== undefined && this.#run.exit === undefined) {
      throw new ChildError(`${name} is already running`, { child: name, phase: 'start' });
    }
    if (this.#run !== undefined) this.#restarts++;
    this.#tail = [];
    const subprocess = spawn(spec, this.#options.graceMs ?? 10_000, this.#options.setpriv);
    const run = {
      subprocess,
      spec,
      startedAtMs: Date.now(),
      ended: new AbortController(),
      spawned: false,
      stopReason: undefined,
      exit: undefined,
    } as Omit<Run, 'exited'> as Run;
    subprocess.once('spawn', () => {
      run.spawned = true;
    });
    const closed = [subprocess.stdout, subprocess.stderr].map((stream) => this.#readLines(stream));
    // One mutable record per run: the exit handler and stop() write to the same object the getters read.
    run.exited = this.#awaitExit(run, closed);
    this.#run = run;
    this.#status = 'starting';
    this.#log.info({ pid: subprocess.pid, restarts: this.#restarts }, 'child started');
  }

  /** Resolves once the readiness probe succeeds; rejects with a ChildError if the child ends first. */
  async ready(signal?: AbortSignal): Promise<void> {
    const run = this.#requireRun();
    const probe = run.spec.readiness === undefined ? async () => run.spawned : toProbe(run.spec.readiness);
    const waitSignal = signal === undefined ? run.ended.signal : AbortSignal.any([run.ended.signal, signal]);
    let pollMs = this.#options.pollMs ?? 50;
    for (;;) {
      if (run.exit !== undefined) throw this.#exitError(run.exit);
      signal?.throwIfAborted();
      if (this.#status === 'ready' && this.#run === run) return;
      const seen = this.#readyLines;
      const ok = await probe(waitSignal).catch(() => false);
      if (run.exit !== undefined) throw this.#exitError(run.exit);
      signal?.throwIfAborted();
      if (ok) {
        this.#status = 'ready';
        this.#log.info({ upMs: Date.now() - run.startedAtMs }, 'child ready');
        return;
      }
      // A child that takes a minute to attest is asked less and less often; its ready line brings the next ask now.
      if (this.#readyLines === seen) {
        const woken = new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        await Promise.race([delay(pollMs, undefined, { signal: waitSignal }).catch(() => undefined), woken]);
        this.#wake = undefined;
      }
      pollMs = Math.min(1_000, pollMs * 2);
    }
  }

  /**
   * Stops the child: SIGTERM, then SIGKILL after the grace. The first reason wins: stopping a child that
   * already ended, or stopping twice, keeps the reason recorded first.
   */
  async stop(reason = 'stopped'): Promise<ChildExit | undefined> {
    const run = this.#run;
    if (run === undefined) return undefined;
    if (run.exit === undefined && run.stopReason === undefined) {
      run.stopReason = reason;
      run.subprocess.kill();
    }
    return run.exited;
  }

  /** The end of the current run; rejects only if the child was never started. */
  exited(): Promise<ChildExit> {
    return this.#requireRun().exited;
  }

  #requireRun(): Run {
    if (this.#run === undefined) {
      throw new ChildError(`${this.#options.name} was never started`, {
        child: this.#options.name,
        phase: 'ready',
      });
    }
    return this.#run;
  }

  async #readLines(stream: Readable): Promise<void> {
    const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (line) => this.#onLine(line));
    await once(lines, 'close');
  }

  #onLine(rawLine: string): void {
    const raw = (this.#options.mask ?? maskJoinTokenIds)(rawLine);
    if (raw.trim() === '') return;
    this.#tail.push(raw);
    if (this.#tail.length > (this.#options.tailLines ?? 50)) this.#tail.shift();
    if (this.#run?.spec.readyLine?.test(raw)) {
      this.#readyLines++;
      this.#wake?.();
    }
    const parsed = parseLogrusLine(raw);
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(parsed.fields)) fields[RESERVED.has(k) ? `fields.${k}` : k] = v;
    this.#log[parsed.level](fields, parsed.msg);
    try {
      this.#options.onLine?.(parsed, raw);
    } catch (error) {
      this.#log.error({ err: error }, 'onLine hook failed');
    }
  }

  async #awaitExit(run: Run, closed: Promise<void>[]): Promise<ChildExit> {
    const result = await run.subprocess;
    // Output lines are delivered before the exit is reported, so the tail is complete.
    await Promise.all(closed);
    const spawnFailed = result.failed && result.exitCode === undefined && result.signal === undefined;
    const exit: ChildExit = {
      exitCode: result.exitCode,
      signal: result.signal,
      reason: run.stopReason ?? 'exited',
      upMs: Date.now() - run.startedAtMs,
      lines: Object.freeze([...this.#tail]),
      spawnError: spawnFailed && result.cause instanceof Error ? result.cause : undefined,
    };
    run.exit = exit;
    run.ended.abort();
    if (this.#run === run) this.#status = run.stopReason === undefined ? 'exited' : 'stopped';
    const { exitCode, signal, reason, upMs } = exit;
    if (result.isForcefullyTerminated) {
      this.#log.warn(
        { graceMs: this.#options.graceMs ?? 10_000 },
        'child ignored SIGTERM; it was killed with SIGKILL',
      );
    }
    const level = run.stopReason === undefined ? 'warn' : 'info';
    this.#log[level](
      { exitCode, signal, reason, upMs, err: exit.spawnError },
      `child ${describeExit(exitCode, signal)}`,
    );
    try {
      this.#options.onExit?.(exit);
    } catch (error) {
      this.#log.error({ err: error }, 'onExit hook failed');
    }
    return exit;
  }

  #exitError(exit: ChildExit): ChildError {
    const { name } = this.#options;
    const how =
      exit.spawnError === undefined ? describeExit(exit.exitCode, exit.signal) : 'could not be started';
    return new ChildError(`${name} ${how} before it was ready`, {
      child: name,
      phase: exit.spawnError === undefined ? 'ready' : 'start',
      exitCode: exit.exitCode,
      signal: exit.signal,
      lines: exit.lines,
      cause: exit.spawnError,
    });
  }
}
