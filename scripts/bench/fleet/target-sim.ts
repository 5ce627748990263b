// `--target sim`: the simulated admin API (test/sim/admin) in a process of its own, throttled by its token bucket
// knobs, in front of the SPIRE stub.
import { fileURLToPath } from 'node:url';
import { forkedTarget } from './forked.js';
import type { Target, TargetOptions } from './target.js';

const SERVER = fileURLToPath(new URL('./sim-server.js', import.meta.url));

export async function startSimTarget(options: TargetOptions): Promise<Target> {
  return forkedTarget('sim', SERVER, options);
}
