// `poller-bootstrap run`: hands over to the daemon (src/daemon/run.ts).

import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH } from '../config/defaults.js';
import type { CliIo, RunDaemon } from './io.js';

// A computed specifier keeps tsc from resolving the module at build time; it is loaded only for `run`.
const DAEMON_MODULE = '../daemon/run.js';

async function loadDaemon(): Promise<RunDaemon> {
  const module = (await import(DAEMON_MODULE)) as { runDaemon: RunDaemon };
  return module.runDaemon;
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
