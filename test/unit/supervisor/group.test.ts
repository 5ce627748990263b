import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Child } from '../../../src/supervisor/child.js';
import { ChildError } from '../../../src/supervisor/errors.js';
import { startInOrder, stopInReverse } from '../../../src/supervisor/group.js';
import { captureLogger } from '../../fixtures/capture-logger.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
const pids: number[] = [];
const { logger } = captureLogger();

/**
 * A child that is ready once it logged `up` (its SIGTERM handler is installed by then), recording readiness and
 * exit in `events` and its pid for the leak check.
 */
function make(name: string, script: string, events: string[], canBeReady = true): Child {
  let up = false;
  const child: Child = new Child({
    name,
    command: process.execPath,
    args: [fixture(script)],
    logger,
    readiness: async () => {
      const { pid } = child.state;
      if (pid !== undefined && !pids.includes(pid)) pids.push(pid);
      const ready = canBeReady && up;
      if (ready) events.push(`ready ${name}`);
      return ready;
    },
    onLine: (line) => {
      if (line.msg === 'up') up = true;
    },
    onExit: (exit) => events.push(`exit ${name} ${exit.reason}`),
  });
  return child;
}

afterAll(() => {
  expect(pids.length).toBeGreaterThan(0);
  for (const pid of pids)
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
});

describe('startInOrder / stopInReverse', () => {
  it('starts each child after the previous is ready and stops them last-first', async () => {
    const events: string[] = [];
    const children = [
      make('upstream-agent', 'sleeper.mjs', events),
      make('nested-server', 'sleeper.mjs', events),
      make('downstream-agent', 'sleeper.mjs', events),
    ];
    await startInOrder(children, { graceMs: 30_000 });
    const exits = await stopInReverse(children, { graceMs: 30_000, reason: 'shutdown' });
    expect(exits.map((e) => e?.exitCode)).toEqual([0, 0, 0]);
    expect(events).toEqual([
      'ready upstream-agent',
      'ready nested-server',
      'ready downstream-agent',
      'exit downstream-agent shutdown',
      'exit nested-server shutdown',
      'exit upstream-agent shutdown',
    ]);
  });

  it('stops the already started children when a later one fails, and rethrows its error', async () => {
    const events: string[] = [];
    const upstream = make('upstream-agent', 'sleeper.mjs', events);
    // Never ready, so ready() can only end by the crash.
    const nested = make('nested-server', 'crash.mjs', events, false);
    const downstream = make('downstream-agent', 'sleeper.mjs', events);
    const error = await startInOrder([upstream, nested, downstream], { graceMs: 30_000 }).catch((e) => e);
    expect(error).toBeInstanceOf(ChildError);
    expect(error).toMatchObject({ child: 'nested-server', exitCode: 1, phase: 'ready' });
    expect(upstream.state).toMatchObject({ status: 'stopped', reason: 'start-failed', exitCode: 0 });
    expect(nested.state).toMatchObject({ status: 'exited', exitCode: 1 });
    expect(downstream.state.status).toBe('idle');
    expect(events).toEqual([
      'ready upstream-agent',
      'exit nested-server exited',
      'exit upstream-agent start-failed',
    ]);
  });
});
