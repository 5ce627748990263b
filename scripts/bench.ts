// npm run bench: bootstraps from nothing N times (default 5) against the simulator and reports where the time
// goes: the children's own start-to-ready times, the token request, entry registration, and the rest (the
// daemon's own work). Figures go to stdout; nothing is asserted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEnv, startDaemon, waitReady } from '../test/e2e/harness.js';
import { stopAll } from '../test/sim/launch.js';

interface Line {
  time: string;
  msg: string;
  child?: string;
  phase?: string;
}

const runs = Number(process.argv[2] ?? '5');
const root = mkdtempSync(join(tmpdir(), 'poller-bootstrap-bench-'));

function phases(lines: string[]): Record<string, number> {
  const parsed = lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Line];
    } catch {
      return [];
    }
  });
  const at = (pred: (l: Line) => boolean) => Date.parse(parsed.find(pred)?.time ?? '');
  const t0 = at((l) => l.msg === 'poller-bootstrap starting');
  const span = (from: (l: Line) => boolean, to: (l: Line) => boolean) => at(to) - at(from);
  const child = (name: string) =>
    span(
      (l) => l.child === name && l.msg === 'child started',
      (l) => l.child === name && l.msg === 'child ready',
    );
  const out = {
    total: at((l) => l.msg === 'ready') - t0,
    'token request': span(
      (l) => l.phase === 'acquire-token',
      (l) => l.msg === 'join token acquired',
    ),
    'upstream-agent start': child('upstream-agent'),
    'nested-server start': child('nested-server'),
    'register entries': span(
      (l) => l.phase === 'register-entries',
      (l) => l.msg.startsWith('entries reconciled'),
    ),
    'downstream-agent start': child('downstream-agent'),
  };
  const accounted = Object.entries(out)
    .filter(([k]) => k !== 'total')
    .reduce((sum, [, v]) => sum + v, 0);
  return { ...out, 'daemon (rest)': out.total - accounted };
}

async function bench(): Promise<void> {
  const all: Record<string, number>[] = [];
  for (let i = 0; i < runs; i++) {
    const env = await makeEnv(join(root, `run-${i}`), (c) => {
      c.log_level = 'info';
      // SPIRE's real timings: no time scaling of the simulator's sync and retry waits.
      (c.spire as { child_env: string[] }).child_env = [];
    });
    const daemon = startDaemon(env);
    await waitReady(env, daemon, 120_000);
    await daemon.stop();
    all.push(phases(daemon.lines));
    await stopAll();
  }
  const keys = Object.keys(all[0] ?? {});
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  process.stdout.write(
    `bootstrap from nothing to ready, ${runs} runs, simulator at SPIRE's own timings (ms)\n`,
  );
  process.stdout.write(
    `${'step'.padEnd(24)} ${'median'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)}\n`,
  );
  for (const k of keys) {
    const xs = all.map((r) => r[k] ?? Number.NaN);
    process.stdout.write(
      `${k.padEnd(24)} ${String(median(xs)).padStart(8)} ${String(Math.min(...xs)).padStart(8)} ${String(Math.max(...xs)).padStart(8)}\n`,
    );
  }
}

bench()
  .catch((err: Error) => {
    process.stderr.write(`bench failed: ${err.message}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
  });
