// The CLI dispatcher: picks the subcommand, maps every failure to its sysexits code (DESIGN §2).

import { ConfigError } from '../config/errors.js';
import { maskJoinTokenIds } from '../observability/status.js';
import { type CliIo, EXIT, processIo, reason, reportConfigError, UsageError } from './io.js';
import { type Command, commandUsage, isCommand, mainUsage } from './usage.js';
import { packageVersion } from './version.js';

type Handler = (args: string[], io: CliIo) => Promise<number>;

// Each command loads only what it needs: `render`, `status` and `doctor` never load gRPC or the file watcher.
const HANDLERS: Record<Command, () => Promise<Handler>> = {
  run: async () => (await import('./run.js')).runCommand,
  render: async () => (await import('./render.js')).renderCommand,
  status: async () => (await import('./status.js')).statusCommand,
  'join-token': async () => (await import('./join-token.js')).joinTokenCommand,
  doctor: async () => (await import('./doctor.js')).doctorCommand,
  broker: async () => (await import('./broker.js')).brokerCommand,
};

const wantsHelp = (args: string[]): boolean => {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

// parseArgs reports bad options as TypeErrors with ERR_PARSE_ARGS_* codes.
function isArgsError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

function usageFailure(io: CliIo, command: Command | null, message: string): number {
  io.stderr(`poller-bootstrap: ${message}\n\n${command === null ? mainUsage() : commandUsage(command)}`);
  return EXIT.usage;
}

function dispatchTop(argv: string[], io: CliIo): number | { command: Command; args: string[] } {
  const [first, ...rest] = argv;
  if (first === undefined) return usageFailure(io, null, 'no command given');
  if (first === '--help' || first === '-h') {
    io.stdout(mainUsage());
    return EXIT.ok;
  }
  if (first === '--version' || first === '-V') {
    io.stdout(`poller-bootstrap ${packageVersion()}\n`);
    return EXIT.ok;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) io.stdout(mainUsage());
    else if (isCommand(topic)) io.stdout(commandUsage(topic));
    else return usageFailure(io, null, `unknown command ${JSON.stringify(topic)}`);
    return EXIT.ok;
  }
  if (!isCommand(first)) return usageFailure(io, null, `unknown command ${JSON.stringify(first)}`);
  if (wantsHelp(rest)) {
    io.stdout(commandUsage(first));
    return EXIT.ok;
  }
  return { command: first, args: rest };
}

/** Runs the CLI with `argv` (without node and script) and resolves to the process exit code; never throws. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const picked = dispatchTop(argv, io);
  if (typeof picked === 'number') return picked;
  try {
    return await (await HANDLERS[picked.command]())(picked.args, io);
  } catch (error) {
    if (error instanceof ConfigError) return reportConfigError(io, error);
    if (error instanceof UsageError) return usageFailure(io, picked.command, error.message);
    if (isArgsError(error)) return usageFailure(io, picked.command, error.message);
    const exitCode = (error as { exitCode?: unknown } | null)?.exitCode;
    // A domain error that knows its sysexits code (another daemon holds the state directory, …).
    if (
      error instanceof Error &&
      typeof exitCode === 'number' &&
      (Object.values(EXIT) as number[]).includes(exitCode)
    ) {
      io.stderr(`poller-bootstrap ${picked.command}: ${maskJoinTokenIds(error.message)}\n`);
      return exitCode;
    }
    io.stderr(`poller-bootstrap ${picked.command}: internal error: ${maskJoinTokenIds(reason(error))}\n`);
    return EXIT.internal;
  }
}
