// Ordered start and stop of the nested-SPIRE chain: each child needs the previous one ready (the nested server
// gets its CA through the upstream agent; the downstream agent attests to the nested server), so shutdown runs
// the chain backwards.
import type { Child, ChildExit } from './child.js';

export interface StopOptions {
  graceMs: number;
  reason?: string;
}

/**
 * Starts children one after another, each once the previous is ready. If one fails or `signal` aborts, the
 * ones already started are stopped in reverse order and the failure is rethrown.
 */
export async function startInOrder(
  children: readonly Child[],
  options: StopOptions & { signal?: AbortSignal },
): Promise<void> {
  const started: Child[] = [];
  try {
    for (const child of children) {
      options.signal?.throwIfAborted();
      child.start();
      started.push(child);
      await child.ready(options.signal);
    }
  } catch (error) {
    await stopInReverse(started, { graceMs: options.graceMs, reason: options.reason ?? 'start-failed' });
    throw error;
  }
}

/** Stops children last-first, each fully ended before the next is signalled; never-started ones are skipped. */
export async function stopInReverse(
  children: readonly Child[],
  options: StopOptions,
): Promise<Array<ChildExit | undefined>> {
  const exits: Array<ChildExit | undefined> = [];
  for (const child of [...children].reverse()) exits.unshift(await child.stop(options));
  return exits;
}
