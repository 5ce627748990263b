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
  pid?: number;
}

export interface BootstrapRun {
  total: number;
  children: number;
  token: number;
  /** The servers' own time (arrival to answer, by their clocks) over the daemon's requests: admin API, nested server. */
  servers: number;
  overhead: number;
  tokenDeleted: number;
  /** From the daemon's first line (config loaded, /healthz served) to its bootstrap starting: module loading. */
  load: number;
}

const parse = (lines: string[]): Line[] =>
  lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Line];
    } catch {
      return [];
    }
  });

interface SimEvent {
  program: string;
  pid: number;
  event: 'start' | 'ready' | 'request';
  at: number;
  ms?: number;
}

/**
 * The children's own start-to-ready times and the servers' own time serving the daemon's requests (the admin API,
 * the nested server's admin socket), as the simulators recorded them. A child starts when the daemon's spawn
 * returned (its "child started" line): from there on the time is the child's, including the simulator's own
 * wrapper and Node's start, which a Go binary would not have; before it, the daemon's.
 */
function simulatorsOwnTime(eventsFile: string, lines: Line[]): { children: number; servers: number } {
  const events = readFileSync(eventsFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as SimEvent);
  let children = 0;
  for (const ready of events.filter((e) => e.event === 'ready')) {
    const started = lines.find((l) => l.msg === 'child started' && l.pid === ready.pid);
    if (started) children += ready.at - Date.parse(started.time);
  }
  const servers = events.filter((e) => e.event === 'request').reduce((sum, e) => sum + (e.ms ?? 0), 0);
  return { children, servers };
}

/** One bootstrap from nothing to ready in `dir`. */
export async function bootstrapOnce(dir: string): Promise<BootstrapRun> {
  const eventsFile = join(dir, 'sim-events.jsonl');
  const env = await makeEnv(
    dir,
    (c) => {
      c.log_level = 'info';
      // SPIRE's real timings (no SIM_TIME_SCALE), and each child's own account of when it was ready.
      (c.spire as { child_env: string[] }).child_env = [`SIM_EVENTS_FILE=${eventsFile}`];
    },
    { SIM_EVENTS_FILE: eventsFile },
  );
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
  const { children, servers } = simulatorsOwnTime(eventsFile, lines);
  const attested = at((l) => l.child === 'upstream-agent' && l.msg === 'Node attestation was successful');
  const deleted = at((l) => l.msg === 'join token consumed' && l.agent === 'upstream-agent');
  const load = at((l) => l.msg === 'poller-bootstrap starting') - Date.parse(lines[0]?.time ?? '');
  return {
    total,
    children,
    token,
    servers,
    overhead: total - children,
    tokenDeleted: deleted - attested,
    load,
  };
}
