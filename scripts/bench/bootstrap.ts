// P1 and P2 from real bootstraps on the simulator at SPIRE's own timings: the daemon's own share of the time to
// ready (the children's own start-to-ready times, as the simulator records them, taken out) and how soon the
// used token is deleted after the upstream agent logged its attestation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeEnv, startDaemon, waitReady } from '../../test/e2e/harness.js';
import { stopAll } from '../../test/sim/launch.js';

interface Line {
  time: string;
  msg: string;
  child?: string;
  agent?: string;
  phase?: string;
}

export interface BootstrapRun {
  total: number;
  children: number;
  token: number;
  overhead: number;
  tokenDeleted: number;
}

const parse = (lines: string[]): Line[] =>
  lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Line];
    } catch {
      return [];
    }
  });

function childrenOwnTime(eventsFile: string): number {
  const events = readFileSync(eventsFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { pid: number; event: 'start' | 'ready'; at: number });
  let sum = 0;
  for (const ready of events.filter((e) => e.event === 'ready')) {
    const start = events.find((e) => e.pid === ready.pid && e.event === 'start');
    if (start) sum += ready.at - start.at;
  }
  return sum;
}

/** One bootstrap from nothing to ready in `dir`. */
export async function bootstrapOnce(dir: string): Promise<BootstrapRun> {
  const eventsFile = join(dir, 'sim-events.jsonl');
  const env = await makeEnv(dir, (c) => {
    c.log_level = 'info';
    // SPIRE's real timings (no SIM_TIME_SCALE), and each child's own account of when it was ready.
    (c.spire as { child_env: string[] }).child_env = [`SIM_EVENTS_FILE=${eventsFile}`];
  });
  const daemon = startDaemon(env);
  await waitReady(env, daemon, 120_000);
  await daemon.stop();
  await stopAll();
  const lines = parse(daemon.lines);
  const at = (pred: (l: Line) => boolean) => Date.parse(lines.find(pred)?.time ?? '');
  const total = at((l) => l.msg === 'phase ready') - at((l) => l.msg === 'poller-bootstrap starting');
  const token =
    at((l) => l.msg === 'join token acquired' && l.agent === 'upstream-agent') -
    at((l) => l.msg === 'phase acquire-token');
  const children = childrenOwnTime(eventsFile);
  const attested = at((l) => l.child === 'upstream-agent' && l.msg === 'Node attestation was successful');
  const deleted = at((l) => l.msg === 'join token consumed' && l.agent === 'upstream-agent');
  return { total, children, token, overhead: total - children, tokenDeleted: deleted - attested };
}
