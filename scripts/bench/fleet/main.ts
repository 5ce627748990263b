// npm run bench:fleet: N pollers, each driven by the daemon's own state machine and token layer, start at once
// against an admin API throttled to R join tokens a second, which goes away for T seconds in the middle. Reports
// the three P6 figures (time until all hold a token ÷ N/R, requests ÷ N, pollers with two tokens) and the rate
// the server saw, as a table and as dist/bench/fleet.svg. `--smoke` is a small fleet for CI; it asserts nothing.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Figures, figures, type Series, series } from './figures.js';
import { buildFleet } from './fleet.js';
import { type FleetBenchOptions, parseOptions, USAGE } from './options.js';
import { plot } from './plot.js';
import { describeSetup, figureTable, rateTable, waitTable } from './report.js';
import { recordRequests } from './requests.js';
import { startTarget } from './target.js';

const TRUST_DOMAIN = 'example.org';

interface Run {
  figures: Figures;
  perSecond: Series;
  per100ms: Series;
  loopDelayP99Ms: number;
}

async function runOnce(o: FleetBenchOptions, seed: number): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'poller-bootstrap-fleet-'));
  const target = await startTarget(o.target, {
    dir,
    trustDomain: TRUST_DOMAIN,
    rate: o.rate,
    burst: o.burst,
    scope: o.scope,
    outageKind: o.outageKind,
    outageRetryAfterSeconds: o.outageRetryAfterS,
  });
  try {
    const fleet = await buildFleet({
      count: o.pollers,
      seed,
      target,
      auth: o.auth,
      dir,
      trustDomain: TRUST_DOMAIN,
    });
    const log = recordRequests(target.url);
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const t0 = Date.now();
    fleet.start();
    let outage: { from: number; to: number } | null = null;
    const outageDone =
      o.outageS > 0
        ? target.outage(t0 + o.outageAtS * 1000, t0 + (o.outageAtS + o.outageS) * 1000).then((times) => {
            outage = times;
          })
        : Promise.resolve();
    const deadline = sleep(o.timeoutS * 1000, 'timeout' as const, { ref: false });
    const ended = await Promise.race([fleet.ready.then(() => 'ready' as const), deadline]);
    await outageDone;
    lag.disable();
    await fleet.stop();
    log.stop();
    const view = await target.view();
    const setup = { pollers: o.pollers, rate: o.rate, burst: o.burst, t0, outage };
    const records = fleet.pollers.map((p) => p.record);
    if (ended === 'timeout')
      process.stderr.write(`bench:fleet: not every poller was ready after ${o.timeoutS} s\n`);
    return {
      figures: figures(setup, records, log, view),
      perSecond: series(setup, records, log, view, 1000),
      per100ms: series(setup, records, log, view, 100),
      loopDelayP99Ms: lag.percentile(99) / 1e6,
    };
  } finally {
    await target.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  let o: FleetBenchOptions;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exitCode = 64;
    return;
  }
  const out = (text: string) => process.stdout.write(`${text}\n`);
  out(`bench:fleet${o.smoke ? ' --smoke' : ''}: ${describeSetup(o)}`);
  const runs: Run[] = [];
  for (let i = 0; i < o.runs; i++) {
    const run = await runOnce(o, o.seed + i);
    runs.push(run);
    out(`\nrun ${i + 1} of ${o.runs} (seed ${o.seed + i})`);
    out(figureTable(run.figures));
    out(`event loop delay of the pollers' process: p99 ${run.loopDelayP99Ms.toFixed(1)} ms`);
    out('');
    out(waitTable(run.figures));
    out('');
    out(rateTable(run.perSecond, run.figures.answersFrom));
  }
  const last = runs.at(-1) as Run;
  await mkdir(dirname(o.svg), { recursive: true });
  await writeFile(
    o.svg,
    plot(
      last.per100ms,
      last.figures,
      `bench:fleet: ${o.pollers} pollers, R = ${o.rate} tokens/s`,
      describeSetup({ ...o, seed: o.seed + runs.length - 1 }),
    ),
  );
  out(`\nplot of the last run: ${o.svg}`);
  if (runs.length > 1) {
    const col = (f: (r: Run) => number | null) =>
      runs.map((r) => (f(r) === null ? '—' : (f(r) as number).toFixed(2))).join(', ');
    out(
      `all runs: time ÷ (N/R) ${col((r) => r.figures.timeRatio)}; requests ÷ N ${col((r) => r.figures.requestsPerPoller)}; two tokens ${runs.map((r) => r.figures.twoTokens).join(', ')}`,
    );
  }
  if (o.json) {
    await mkdir(dirname(o.json), { recursive: true });
    await writeFile(
      o.json,
      `${JSON.stringify({ options: o, runs: runs.map((r) => ({ ...r.figures, loopDelayP99Ms: r.loopDelayP99Ms, perSecond: r.perSecond })) }, null, 1)}\n`,
    );
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench:fleet failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
