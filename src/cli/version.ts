// The package version, for --version and the status document.

import { readFileSync } from 'node:fs';

const NAME = 'poller-bootstrap';

// Set by the bundler (scripts/package/bundle.ts): the single executable has no package.json beside it.
declare const POLLER_BOOTSTRAP_VERSION: string | undefined;

/** The bundled version, else the one in our package.json, found by walking up from this file (src/ or dist/src/). */
export function packageVersion(): string {
  if (typeof POLLER_BOOTSTRAP_VERSION === 'string') return POLLER_BOOTSTRAP_VERSION;
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
