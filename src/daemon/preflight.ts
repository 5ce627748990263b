// Before anything starts: the SPIRE binaries the daemon would run. No distribution packages SPIRE, so a missing
// binary is the commonest first-run mistake; say which key points where instead of a child's spawn error later.

import { accessSync, constants, statSync } from 'node:fs';
import type { Config } from '../config/types.js';

export interface MissingBinary {
  readonly key: 'spire.agent_path' | 'spire.server_path';
  readonly path: string;
  readonly problem: string;
}

function problemWith(path: string): string | null {
  try {
    if (!statSync(path).isFile()) return 'is not a file';
    accessSync(path, constants.X_OK);
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'does not exist';
    if (code === 'EACCES') return 'is not executable by this user';
    return `cannot be used (${code ?? String(error)})`;
  }
}

/** The configured SPIRE binaries that are missing or not executable. */
export function missingSpireBinaries(config: Pick<Config, 'spire'>): MissingBinary[] {
  const binaries = [
    { key: 'spire.agent_path', path: config.spire.agentPath },
    { key: 'spire.server_path', path: config.spire.serverPath },
  ] as const;
  return binaries.flatMap(({ key, path }) => {
    const problem = problemWith(path);
    return problem === null ? [] : [{ key, path, problem }];
  });
}

/** The report for missing binaries, one line each plus where to get SPIRE. */
export function missingBinariesMessage(missing: readonly MissingBinary[]): string {
  const lines = missing.map(
    (m) => `poller-bootstrap: ${m.key}: ${m.path} ${m.problem}; install SPIRE there or set ${m.key}\n`,
  );
  const names = missing.map((m) => m.path.slice(m.path.lastIndexOf('/') + 1)).join(' and ');
  return `${lines.join('')}poller-bootstrap: ${names} come from SPIRE's release archives (no distribution packages them); see docs/install.md\n`;
}

/** True when both binaries are there; otherwise prints why to stderr (the caller exits EXIT.unavailable). */
export function spireBinariesPresent(
  config: Pick<Config, 'spire'>,
  write: (text: string) => void = (text) => process.stderr.write(text),
): boolean {
  const missing = missingSpireBinaries(config);
  if (missing.length > 0) write(missingBinariesMessage(missing));
  return missing.length === 0;
}
