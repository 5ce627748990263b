// Where `npm run package` reads and writes: everything lands in dist/pkg/, intermediate files in dist/pkg/build/.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/scripts/package/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const OUT = `${ROOT}dist/pkg/`;
export const BUILD = `${OUT}build/`;
export const EXECUTABLE = `${OUT}poller-bootstrap`;

export interface PackageInfo {
  readonly name: string;
  readonly version: string;
  readonly description: string;
}

/** name, version and description from package.json. */
export function packageInfo(): PackageInfo {
  return JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as PackageInfo;
}
