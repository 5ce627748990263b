// The package version, for --version and the status document.

import { readFileSync } from 'node:fs';

const NAME = 'poller-bootstrap';

/** Reads the version from our package.json, found by walking up from this file (src/ or dist/src/). */
export function packageVersion(): string {
  for (let up = '../'; up.length <= 5 * 3; up += '../') {
    try {
      const pkg = JSON.parse(readFileSync(new URL(`${up}package.json`, import.meta.url), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === NAME && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Not at this level; keep walking up.
    }
  }
  return 'unknown';
}
