// npm run bench: the performance goals P1–P6 of issue 12, each measured beside its reference in the same run
// (SPIRE's own timings in the simulator; a bare Node.js for memory, start and idle CPU; N/R for the fleet).
// Figures only: nothing is asserted. `--smoke` runs each once, briefly (CI). P6 runs `npm run bench:fleet`'s
// program with its defaults (or --smoke), whose own report has the details.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeEnv, startDaemon, waitReady } from '../../test/e2e/harness.js';
import { stopAll } from '../../test/sim/launch.js';
import { type BootstrapRun, bootstrapOnce } from './bootstrap.js';
import { bareNode, freeLoopbackPort, idleBeside, startToHealthy } from './process.js';
import { median, range } from './stats.js';

const { values } = parseArgs({
  options: { runs: { type: 'string' }, idle: { type: 'string' }, smoke: { type: 'boolean' } },
});
const smoke = Boolean(values.smoke);
const runs = Number(values.runs ?? (smoke ? 1 : 5));
const idleSeconds = Number(values.idle ?? (smoke ? 5 : 60));
const EXE = fileURLToPath(new URL('../../pkg/poller-bootstrap', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'poller-bootstrap-bench-'));

interface Row {
  id: string;
  measure: string;
  value: string;
  reference: string;
  goal: string;
  met: boolean;
}

async function bootstraps(): Promise<Row[]> {
  const all: BootstrapRun[] = [];
  for (let i = 0; i < runs; i++) all.push(await bootstrapOnce(join(root, `boot-${i}`)));
  const of = (k: keyof BootstrapRun) => all.map((r) => r[k]);
  const overhead = median(of('overhead'));
  const deleted = median(of('tokenDeleted'));
  const own = all.map((r) => r.overhead - r.servers);
  return [
    {
      id: 'P1',
      measure: 'daemon overhead: time to ready − children’s own start-to-ready',
      value: `${overhead.toFixed(0)} ms (${range(of('overhead'))}); less the servers' own ${median(of('servers')).toFixed(0)} ms: ${median(own).toFixed(0)} ms (${range(own)})`,
      reference: `ready in ${median(of('total')).toFixed(0)} ms, children ${median(of('children')).toFixed(0)} ms, token request ${median(of('token')).toFixed(0)} ms; module load before it ${median(of('load')).toFixed(0)} ms`,
      goal: '≤ 50 ms',
      met: overhead <= 50,
    },
    {
      id: 'P2',
      measure: 'attestation logged → token file deleted',
      value: `${deleted.toFixed(0)} ms (${range(of('tokenDeleted'))})`,
      reference: '',
      goal: '≤ 50 ms',
      met: deleted <= 50,
    },
  ];
}

async function packaged(): Promise<Row[]> {
  if (!existsSync(EXE))
    spawnSync(process.execPath, [fileURLToPath(new URL('../package/exe-main.js', import.meta.url))], {
      stdio: 'inherit',
    });
  const sim = (c: Record<string, unknown>) => {
    (c.spire as { child_env: string[] }).child_env = [`SIM_NODE=${process.execPath}`];
  };
  // Starts that are killed at once: with no token source that yields, nothing is minted or left half done.
  const starting = await makeEnv(join(root, 'exe-start'), (c) => {
    sim(c);
    (c.token as { sources: string[] }).sources = ['file'];
  });
  const starts: number[] = [];
  const refs: number[] = [];
  for (let i = 0; i < (smoke ? 2 : 10); i++) {
    const healthz = `${starting.httpUrl}/healthz`;
    starts.push(await startToHealthy([EXE, 'run', '--config', starting.configPath], healthz, process.env));
    const port = await freeLoopbackPort();
    refs.push(await startToHealthy(bareNode(port), `http://127.0.0.1:${port}/`, process.env));
  }
  const env = await makeEnv(join(root, 'exe'), sim);
  const daemon = startDaemon(env, {}, [EXE]);
  await waitReady(env, daemon, 60_000);
  const idle = await idleBeside(daemon.child.pid as number, idleSeconds, smoke ? 2 : 30);
  await daemon.stop();
  const ratio = idle.rss / idle.bareRss;
  const start = median(starts);
  return [
    {
      id: 'P3',
      measure: 'resident memory once ready (packaged)',
      value: `${(idle.rss / 2 ** 20).toFixed(0)} MiB, ${ratio.toFixed(2)}×`,
      reference: `bare node ${(idle.bareRss / 2 ** 20).toFixed(0)} MiB`,
      goal: '≤ 1.4×',
      met: ratio <= 1.4,
    },
    {
      id: 'P4',
      measure: 'process start → /healthz 200 (packaged)',
      value: `${start.toFixed(0)} ms (${range(starts)})`,
      reference: `bare node ${median(refs).toFixed(0)} ms`,
      goal: '≤ 250 ms',
      met: start <= 250,
    },
    {
      id: 'P5',
      measure: `CPU while idle in ready, per ${idleSeconds} s`,
      value: `${idle.cpu.toFixed(2)} s`,
      reference: `bare node ${idle.bareCpu.toFixed(2)} s; the first ${idle.settleSeconds} s after ready ${idle.settleCpu.toFixed(2)} s`,
      goal: `≤ ${(0.05 * (idleSeconds / 60)).toFixed(3)} s`,
      met: idle.cpu <= 0.05 * (idleSeconds / 60),
    },
  ];
}

/**
 * P6: the fleet benchmark's program against `target`, its figures read back from its --json. R = 50: above about
 * 100 tokens a second the pollers' own process, not the throttle, sets the pace on two cores (BENCHMARKS.md).
 */
function fleet(target: 'sim' | 'broker'): Row[] {
  const json = join(root, `fleet-${target}.json`);
  const program = fileURLToPath(new URL('./fleet/main.js', import.meta.url));
  const args = ['--json', json, '--target', target, ...(smoke ? ['--smoke'] : ['--rate', '50'])];
  // The broker's outage is a stop and a start of its process; the simulator's, 503 for every request.
  if (target === 'broker') args.push('--outage-kind', 'down');
  const res = spawnSync(process.execPath, [program, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (res.status !== 0) throw new Error(`bench:fleet exited ${res.status}`);
  const { options, runs } = JSON.parse(readFileSync(json, 'utf8')) as {
    options: { pollers: number; rate: number; outageS: number; target: string };
    runs: { timeRatio: number | null; requestsPerPoller: number; twoTokens: number }[];
  };
  const f = runs[0] as (typeof runs)[number];
  const ratio = f.timeRatio ?? Number.POSITIVE_INFINITY;
  return [
    {
      id: `P6 ${target}`,
      measure: 'fleet: time until all hold a token ÷ (N/R); requests ÷ N; two tokens',
      value: `${f.timeRatio === null ? 'not all' : ratio.toFixed(2)}; ${f.requestsPerPoller.toFixed(2)}; ${f.twoTokens}`,
      reference: `N ${options.pollers} vs ${options.target} at R ${options.rate}/s, ${options.outageS} s outage: N/R ${(options.pollers / options.rate).toFixed(1)} s`,
      goal: '≤ 1.1; ≤ 1.3; 0',
      met: ratio <= 1.1 && f.requestsPerPoller <= 1.3 && f.twoTokens === 0,
    },
  ];
}

function print(rows: Row[]): void {
  const cols: (keyof Row)[] = ['id', 'measure', 'value', 'reference', 'goal', 'met'];
  const text = (r: Row, c: keyof Row) => (c === 'met' ? (r.met ? 'yes' : 'NO') : String(r[c]));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => text(r, c).length)));
  const line = (cells: string[]) => cells.map((v, i) => v.padEnd(widths[i] as number)).join('  ');
  process.stdout.write(`${line(cols)}\n${rows.map((r) => line(cols.map((c) => text(r, c)))).join('\n')}\n`);
  process.stdout.write(
    `(${runs} bootstrap run(s); P6's details and plot: npm run bench:fleet, dist/bench/fleet.svg)\n`,
  );
}

async function bench(): Promise<void> {
  print([...(await bootstraps()), ...(await packaged()), ...fleet('sim'), ...fleet('broker')]);
}

bench()
  .catch((err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
  });
