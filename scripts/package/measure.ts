// Figures for the release note: package sizes and the executable's start time (median of 10 `--version` runs).

import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { EXECUTABLE, OUT } from './paths.js';

const RUNS = 10;

const times: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const start = process.hrtime.bigint();
  const run = spawnSync(EXECUTABLE, ['--version'], { cwd: '/', env: {}, stdio: 'ignore' });
  if (run.status !== 0) throw new Error(`${EXECUTABLE} --version exited ${run.status}`);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
}
times.sort((a, b) => a - b);
const median = ((times[RUNS / 2 - 1] as number) + (times[RUNS / 2] as number)) / 2;
for (const file of readdirSync(OUT).filter((f) => /\.(deb|rpm)$|^poller-bootstrap$/.test(f))) {
  process.stdout.write(`${file}: ${(statSync(`${OUT}${file}`).size / 2 ** 20).toFixed(1)} MiB\n`);
}
process.stdout.write(`poller-bootstrap --version: median ${median.toFixed(0)} ms of ${RUNS} runs\n`);
