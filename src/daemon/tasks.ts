// The daemon's long-running parts run as tasks under one root signal, as spiffe-helper's (and SPIRE's)
// RunTasks: all run at once, the first failure cancels the others, and cancellation is not an error.
import type { Logger } from '../observability/logger.js';

export type Task = (signal: AbortSignal) => Promise<void>;

/** A task failed; `task` names it, `cause` is what it threw. */
export class TaskError extends Error {
  override readonly name = 'TaskError';
  readonly task: string;

  constructor(task: string, cause: unknown) {
    super(`${task}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.task = task;
  }
}

/** Runs every task until all have returned; aborting `root` cancels them all. Throws the first failure. */
export async function runTasks(tasks: Record<string, Task>, root: AbortController): Promise<void> {
  let first: TaskError | undefined;
  await Promise.all(
    Object.entries(tasks).map(async ([name, task]) => {
      try {
        await task(root.signal);
      } catch (err) {
        if (root.signal.aborted && isCancellation(err, root.signal)) return;
        first ??= new TaskError(name, err);
        root.abort(first);
      }
    }),
  );
  if (first) throw first;
}

const isCancellation = (err: unknown, signal: AbortSignal) =>
  err === signal.reason || (err instanceof Error && err.name === 'AbortError');

/** SIGTERM and SIGINT abort `root` (a clean stop); SIGHUP calls `reload`. */
export function signalTask(root: AbortController, reload: () => void, logger: Logger): Task {
  return async (signal) => {
    const stop = (name: string) => {
      logger.info({ signal: name }, 'stopping');
      root.abort();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', reload);
    await aborted(signal);
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', reload);
  };
}

/** Resolves once `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
