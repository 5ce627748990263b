// Runs the CLI in-process with captured output.
import { main } from '../../../src/cli/cli.js';
import type { CliIo, RunDaemon } from '../../../src/cli/io.js';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(
  argv: string[],
  options: { env?: Record<string, string>; runDaemon?: RunDaemon; stdin?: string } = {},
): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: options.env ?? {},
    ...(options.runDaemon ? { runDaemon: options.runDaemon } : {}),
    ...(options.stdin === undefined ? {} : { readStdin: async () => options.stdin as string }),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}
