// What every subcommand shares: its input/output seam, the sysexits codes, and how errors are reported.

import { EXIT } from '../common/exit-codes.js';
import type { ConfigError } from '../config/errors.js';

export { EXIT };

/** The daemon entry point `run` calls; src/daemon/run.ts provides it. Resolves to the exit code. */
export type RunDaemon = (opts: { configPath: string }) => Promise<number>;

/** Injectable process edges so tests call main() without spawning. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Replaces the dynamic import of src/daemon/run.js (tests). */
  readonly runDaemon?: RunDaemon;
  /** Standard input, whole (`broker hash`); process.stdin when absent. */
  readonly readStdin?: () => Promise<string>;
}

/** The real process: stdout, stderr and environment. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  };
}

/** A bad command line; main prints the message and the command's usage, and exits 64. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly command: string | null;

  constructor(command: string | null, message: string) {
    super(message);
    this.command = command;
  }
}

/** Prints every config issue, one per line (each message starts with the key), and returns 78. */
export function reportConfigError(io: CliIo, error: ConfigError): number {
  const where = error.source === null ? 'configuration' : `configuration ${error.source}`;
  io.stderr(`poller-bootstrap: invalid ${where}:\n`);
  for (const issue of error.issues) {
    const line = issue.message.startsWith(`${issue.key}:`) ? issue.message : `${issue.key}: ${issue.message}`;
    io.stderr(`  ${line}\n`);
  }
  return EXIT.config;
}

/** The message of anything thrown, for one-line reports. */
export function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
