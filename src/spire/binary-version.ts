// What the installed SPIRE binaries are: `spire-agent -version` / `spire-server -version` (SPIRE prints the
// version alone, on stderr). `spire.version: "auto"` takes the agent's; doctor compares both with the config.
import { execFile } from 'node:child_process';
import { ConfigError } from '../config/errors.js';
import type { Config } from '../config/types.js';
import { parseSpireVersion, type SpireVersion } from './version.js';

/** The version a SPIRE binary reports; throws naming the binary when it cannot be run or says nothing usable. */
export function binaryVersion(path: string, timeoutMs = 5_000): Promise<SpireVersion> {
  return new Promise((resolve, reject) => {
    execFile(
      path,
      ['-version'],
      { timeout: timeoutMs, env: { PATH: process.env.PATH ?? '' } },
      (err, stdout, stderr) => {
        const text = `${stdout}\n${stderr}`
          .split('\n')
          .map((l) => l.trim())
          .find((l) => parseSpireVersion(l) !== null);
        if (text !== undefined) return resolve(parseSpireVersion(text) as SpireVersion);
        const why = err ? ((err as NodeJS.ErrnoException).code ?? err.message) : 'no version in its output';
        reject(new Error(`${path} -version: ${why}`));
      },
    );
  });
}

/** The config with `spire.version` taken from the agent binary when it says "auto"; otherwise the same config. */
export async function resolveSpireVersion(config: Config): Promise<Config> {
  if (!config.spire.autoVersion) return config;
  const version = await binaryVersion(config.spire.agentPath).catch((err: Error) => {
    throw new ConfigError(null, [
      {
        key: 'spire.version',
        message: `spire.version: "auto" needs the agent's version, but ${err.message}`,
      },
    ]);
  });
  return Object.freeze({ ...config, spire: Object.freeze({ ...config.spire, version }) });
}
