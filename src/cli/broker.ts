// `poller-bootstrap broker [--config FILE]` runs the join-token broker (src/broker/run.ts); `broker hash
// [--api-key]` reads a secret from standard input and prints the form the users or API keys file stores.

import { parseArgs } from 'node:util';
import { type CliIo, EXIT, UsageError } from './io.js';

export const DEFAULT_BROKER_CONFIG = '/etc/serviceradar/join-token-broker.json';

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function hashCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { 'api-key': { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  const kind = values['api-key'] ? 'api-key' : 'password';
  // Loaded only here: node:crypto's scrypt and nothing else.
  const { hashApiKey, hashPassword, secretProblem } = await import('../broker/hash.js');
  // One trailing newline (echo, a file) is not part of the secret.
  const secret = (await (io.readStdin ?? readProcessStdin)()).replace(/\r?\n$/, '');
  const problem = secretProblem(secret, kind);
  if (problem) {
    io.stderr(
      `poller-bootstrap broker hash: the ${kind === 'api-key' ? 'API key' : 'password'} on standard input ${problem}\n`,
    );
    return EXIT.usage;
  }
  io.stdout(`${kind === 'api-key' ? hashApiKey(secret) : await hashPassword(secret)}\n`);
  return EXIT.ok;
}

/** Runs `broker` or `broker hash`; resolves to the exit code. */
export async function brokerCommand(args: string[], io: CliIo): Promise<number> {
  if (args[0] === 'hash') return hashCommand(args.slice(1), io);
  const { values, positionals } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0)
    throw new UsageError('broker', `unknown subcommand ${JSON.stringify(positionals[0])}`);
  // Loaded only for `broker`, so the other commands never evaluate the broker's modules.
  const { runBroker } = await import('../broker/run.js');
  return runBroker({ configPath: values.config ?? DEFAULT_BROKER_CONFIG });
}
