// The SPIRE binaries: there, runnable, and of the release the configs are rendered for.
import type { Config } from '../config/types.js';
import { missingSpireBinaries } from '../daemon/preflight.js';
import { binaryVersion } from '../spire/binary-version.js';
import { compareSpireVersions, formatSpireVersion } from '../spire/version.js';
import { type CheckResult, fail, ok, warn } from './check.js';

export async function checkBinaries(config: Config): Promise<CheckResult[]> {
  const missing = missingSpireBinaries(config);
  const out: CheckResult[] = missing.map((m) =>
    fail(
      m.key,
      `${m.path} ${m.problem}`,
      `install SPIRE's ${m.path.split('/').pop()} there, or set ${m.key}`,
    ),
  );
  const present = [
    { key: 'spire.agent_path', path: config.spire.agentPath },
    { key: 'spire.server_path', path: config.spire.serverPath },
  ].filter((b) => !missing.some((m) => m.key === b.key));
  const configured = formatSpireVersion(config.spire.version);
  for (const { key, path } of present) {
    const found = await binaryVersion(path).catch((err: Error) => err);
    if (found instanceof Error) {
      out.push(fail(key, found.message, `check that ${path} is a SPIRE binary for this machine`));
    } else if (config.spire.autoVersion) {
      out.push(ok(key, `${path} is SPIRE ${formatSpireVersion(found)} (spire.version "auto")`));
    } else if (compareSpireVersions(found, config.spire.version) !== 0) {
      const fix = `set spire.version to "${formatSpireVersion(found)}", or to "auto"`;
      out.push(
        fail(
          key,
          `${path} is SPIRE ${formatSpireVersion(found)}, the configs are rendered for ${configured}`,
          fix,
        ),
      );
    } else out.push(ok(key, `${path} is SPIRE ${configured}`));
  }
  if (present.length === 0)
    out.push(warn('spire.version', `renders for ${configured}; no binary to compare with`));
  return out;
}
