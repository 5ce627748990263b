// `poller-bootstrap run`: hands over to the daemon (src/daemon/run.ts).

import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH } from '../config/defaults.js';
import type { CliIo, RunDaemon } from './io.js';

// Loaded only for `run`, so `render` and `status` stay light.
async function loadDaemon(): Promise<RunDaemon> {
  return (await import('../daemon/run.js')).runDaemon;
}

/** Runs `run`; resolves to the daemon's exit code. */
export async function runCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' } },
    strict: true,
    allowPositionals: false,
  });
  const runDaemon = io.runDaemon ?? (await loadDaemon());
  return runDaemon({ configPath: values.config ?? DEFAULT_CONFIG_PATH });
}
