import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mintToken, startAgent, startServer } from '../sim/topology.js';
import { sandbox } from './harness.js';

// SIM_EVENTS_FILE: each simulated SPIRE process appends when it started and when it was ready by its own account,
// and the server one line per admin-socket request it served with its own time for it.

const box = sandbox('sim-events');
afterAll(() => box.cleanup());

interface Event {
  program: string;
  pid: number;
  event: 'start' | 'ready' | 'request';
  at: number;
  path?: string;
  ms?: number;
}

describe('SIM_EVENTS_FILE', () => {
  it("holds one start and one ready line per process and the server's requests, appended whole by concurrent processes", async () => {
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
    const lifecycle = parsed.filter((e) => e.event !== 'request');
    expect(lifecycle).toHaveLength(2 * procs.length);
    for (const [program, proc] of procs) {
      const mine = lifecycle.filter((e) => e.pid === proc.child.pid);
      expect(mine.map((e) => [e.program, e.event])).toEqual([
        [program, 'start'],
        [program, 'ready'],
      ]);
      const [start, ready] = mine as [Event, Event];
      expect(ready.at).toBeGreaterThanOrEqual(start.at);
    }
    // The three mints went through the admin socket; each served request is one whole line.
    const requests = parsed.filter((e) => e.event === 'request');
    expect(
      requests.every((e) => e.pid === server.proc.child.pid && typeof e.ms === 'number' && e.ms >= 0),
    ).toBe(true);
    expect(requests.filter((e) => e.path?.endsWith('/CreateJoinToken'))).toHaveLength(3);
    for (const a of agents) await a.proc.stop();
    await server.proc.stop();
  });
});
