import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mintToken, startAgent, startServer } from '../sim/topology.js';
import { sandbox } from './harness.js';

// SIM_EVENTS_FILE: each simulated SPIRE process appends when it started and when it was ready by its own account.

const box = sandbox('sim-events');
afterAll(() => box.cleanup());

interface Event {
  program: string;
  pid: number;
  event: 'start' | 'ready';
  at: number;
}

describe('SIM_EVENTS_FILE', () => {
  it('holds one start and one ready line per process, appended whole by concurrent processes', async () => {
    const events = join(box.root, 'events.jsonl');
    const env = { SIM_TIME_SCALE: '0.05', SIM_EVENTS_FILE: events };
    const server = await startServer(box.dir('server'), { env });
    const tokens = await Promise.all([mintToken(server), mintToken(server), mintToken(server)]);
    const agents = await Promise.all(
      tokens.map((t, i) => startAgent(box.dir(`agent-${i}`), server, { joinToken: t.value, env })),
    );
    const lines = readFileSync(events, 'utf8').trimEnd().split('\n');
    const parsed = lines.map((l) => JSON.parse(l) as Event);
    const procs = [
      ['spire-server', server.proc],
      ...agents.map((a) => ['spire-agent', a.proc] as const),
    ] as const;
    expect(parsed).toHaveLength(2 * procs.length);
    for (const [program, proc] of procs) {
      const mine = parsed.filter((e) => e.pid === proc.child.pid);
      expect(mine.map((e) => [e.program, e.event])).toEqual([
        [program, 'start'],
        [program, 'ready'],
      ]);
      const [start, ready] = mine as [Event, Event];
      expect(ready.at).toBeGreaterThanOrEqual(start.at);
    }
    for (const a of agents) await a.proc.stop();
    await server.proc.stop();
  });
});
