// One supervised child process (a SPIRE agent or server): start it with an explicit environment, re-log its
// output, wait for readiness, and stop it with SIGTERM escalating to SIGKILL.
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import type { Logger } from '../observability/logger.js';
import { maskJoinTokenIds } from '../spire/join-token-id.js';
import type { ChildExit, ChildOptions, ChildState, ChildStatus } from './child-types.js';
import { ChildError, describeExit } from './errors.js';
import { parseLogrusLine } from './logrus.js';
import { type ReadinessProbe, toProbe } from './readiness.js';

export type { ChildExit, ChildOptions, ChildState, ChildStatus };

interface RunCore {
  subprocess: ReturnType<typeof spawn>;
  startedAtMs: number;
  /** Aborted when the run ends: cancels the SIGKILL timer and any readiness wait. */
  ended: AbortController;
  spawned: boolean;
  stopReason: string | undefined;
  killing: boolean;
  exit: ChildExit | undefined;
}

interface Run extends RunCore {
  exited: Promise<ChildExit>;
}

// pino writes these keys itself; a child field with the same name would produce a duplicate JSON key.
const RESERVED = new Set(['child', 'level', 'time', 'msg', 'pid', 'hostname']);

function spawn(command: string, args: readonly string[], env: Record<string, string>) {
  return execa(command, [...args], {
    env,
    extendEnv: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    // Kills the child if the daemon itself dies; escalation on stop() is ours, per call.
    cleanup: true,
    forceKillAfterDelay: false,
  });
}

/** A restartable supervised child; `start()` again after it ended counts a restart. */
export class Child {
  readonly #options: ChildOptions;
  readonly #log: Logger;
  readonly #probe: ReadinessProbe | undefined;
  #run: Run | undefined;
  #status: ChildStatus = 'idle';
  #restarts = 0;
  #tail: string[] = [];

  constructor(options: ChildOptions) {
    this.#options = options;
    this.#log = options.logger.child({ child: options.name });
    this.#probe = options.readiness === undefined ? undefined : toProbe(options.readiness);
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

  /** Spawns the child; throws if the current run has not ended. */
  start(): void {
    const { name, command, args = [], env = {} } = this.#options;
    if (this.#run !== undefined && this.#run.exit === undefined) {
      throw new ChildError(`${name} is already running`, { child: name, phase: 'start' });
    }
    if (this.#run !== undefined) this.#restarts++;
    this.#tail = [];
    const fullEnv = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...env };
    const subprocess = spawn(command, args, fullEnv);
    const core: RunCore = {
      subprocess,
      startedAtMs: Date.now(),
      ended: new AbortController(),
      spawned: false,
      stopReason: undefined,
      killing: false,
      exit: undefined,
    };
    subprocess.once('spawn', () => {
      core.spawned = true;
    });
    const closed = [subprocess.stdout, subprocess.stderr].map((stream) => this.#readLines(stream));
    // One mutable record per run: the exit handler and stop() write to the same object the getters read.
    this.#run = Object.assign(core, { exited: this.#awaitExit(core, closed) });
    this.#status = 'starting';
    this.#log.info({ pid: subprocess.pid, restarts: this.#restarts }, 'child started');
  }

  /** Resolves once the readiness probe succeeds; rejects with a ChildError if the child ends first. */
  async ready(signal?: AbortSignal): Promise<void> {
    const run = this.#requireRun('ready');
    const probe = this.#probe ?? (async () => run.spawned);
    const waitSignal = signal === undefined ? run.ended.signal : AbortSignal.any([run.ended.signal, signal]);
    for (;;) {
      if (run.exit !== undefined) throw this.#exitError(run.exit);
      signal?.throwIfAborted();
      if (this.#status === 'ready' && this.#run === run) return;
      const ok = await probe(waitSignal).catch(() => false);
      if (run.exit !== undefined) throw this.#exitError(run.exit);
      signal?.throwIfAborted();
      if (ok) {
        this.#status = 'ready';
        this.#log.info({ upMs: Date.now() - run.startedAtMs }, 'child ready');
        return;
      }
      await delay(this.#options.pollMs ?? 50, undefined, { signal: waitSignal }).catch(() => undefined);
    }
  }

  /**
   * Stops the child: SIGTERM, then SIGKILL after `graceMs`. The first reason wins: stopping a child that
   * already ended, or stopping twice, keeps the reason recorded first.
   */
  async stop(options: { graceMs: number; reason?: string }): Promise<ChildExit | undefined> {
    const run = this.#run;
    if (run === undefined) return undefined;
    if (run.exit === undefined) {
      run.stopReason ??= options.reason ?? 'stopped';
      if (!run.killing) {
        run.killing = true;
        run.subprocess.kill('SIGTERM');
        delay(options.graceMs, undefined, { signal: run.ended.signal }).then(
          () => {
            this.#log.warn({ graceMs: options.graceMs }, 'child ignored SIGTERM; sending SIGKILL');
            run.subprocess.kill('SIGKILL');
          },
          () => undefined,
        );
      }
    }
    return run.exited;
  }

  /** The end of the current run; rejects only if the child was never started. */
  exited(): Promise<ChildExit> {
    return this.#requireRun('ready').exited;
  }

  #requireRun(phase: 'ready'): Run {
    if (this.#run === undefined) {
      throw new ChildError(`${this.#options.name} was never started`, { child: this.#options.name, phase });
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

  async #awaitExit(run: RunCore, closed: Promise<void>[]): Promise<ChildExit> {
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
