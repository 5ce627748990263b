import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Folder of the simulator's executables, from the sources or from dist/. */
export const SIM_BIN = ['./bin/', '../../../test/sim/bin/']
  .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  .find((dir) => existsSync(`${dir}spire-server`)) as string;

/** A running simulator (or daemon) process whose output lines are kept for assertions. */
export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** stdout and stderr lines, in arrival order. */
  readonly lines: string[];
  /** Resolves with the first line (already seen or future) matching `re`; rejects if the process exits first. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Proc>();

/** Starts a process with piped output; every process started here is stopped by `stopAll`. */
export function spawnProc(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      for (const w of waiters) w();
    });
  }
  let gone = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      // Let the last output chunks land before anyone reads `lines`.
      setImmediate(() => {
        gone = true;
        for (const w of [...waiters]) w();
        resolve({ code, signal });
      });
    }),
  );
  const proc: Proc = {
    name,
    child,
    lines,
    exited,
    waitFor(re, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => re.test(l));
          if (hit !== undefined) return done(() => resolve(hit));
          if (gone)
            return done(() =>
              reject(new Error(`${name} exited before printing ${re}:\n${lines.join('\n')}`)),
            );
        };
        const timer = setTimeout(
          () =>
            done(() =>
              reject(new Error(`${name}: no line matching ${re} in ${timeoutMs} ms:\n${lines.join('\n')}`)),
            ),
          timeoutMs,
        );
        const done = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 5_000) {
      if (!gone) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(proc);
    },
  };
  running.add(proc);
  return proc;
}

/** Stops every process started through `spawnProc`, newest first. */
export async function stopAll(): Promise<void> {
  for (const p of [...running].reverse()) await p.stop();
}

/** PIDs of processes started here that are still alive (tests assert this is empty). */
export function livePids(): number[] {
  return [...running]
    .filter((p) => p.child.exitCode === null && p.child.signalCode === null)
    .map((p) => p.child.pid as number);
}

const handedOut = new Set<number>();

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

// Each vitest worker draws from its own slice, so two test files can never be handed the same port.
const SLICE = 3_000;
const sliceBase = 20_000 + (Number(process.env.VITEST_POOL_ID ?? '0') % 4) * SLICE;

/**
 * A free TCP port on 127.0.0.1 for a process started later. Drawn below Linux's ephemeral range
 * (32768–60999), so outgoing connections can never take it before the process binds it, and from this
 * worker's own slice of 20000–31999.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = sliceBase + Math.floor(Math.random() * SLICE);
    if (handedOut.has(port) || !(await canBind(port))) continue;
    handedOut.add(port);
    return port;
  }
}

/** Polls an HTTP endpoint every 50 ms until it answers `status` (readiness waits; never a fixed sleep). */
export async function waitForHttp(url: string, status = 200, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === status) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String((err as Error).cause ?? err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer ${status} in ${timeoutMs} ms (last: ${last})`);
}
