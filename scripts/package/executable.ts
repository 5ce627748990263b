// `npm run package:exe`: bundle, addon and single executable only (what the packaged e2e test needs).

import { buildAddon } from './addon.js';
import { bundle } from './bundle.js';
import { buildExecutable } from './sea.js';

/** Builds dist/pkg/poller-bootstrap and returns its path. */
export async function executable(): Promise<string> {
  return buildExecutable(await bundle(), buildAddon());
}
