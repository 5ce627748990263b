// Maintainer scripts: the shared shell snippets (packaging/common/) put into the deb's and rpm's scripts.

import { readFileSync } from 'node:fs';
import { ROOT } from './paths.js';

const snippet = (name: string): string =>
  readFileSync(`${ROOT}packaging/common/${name}.sh`, 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('# Shared by'))
    .join('\n')
    .trimEnd();

/** A script or spec with #ACCOUNTS# and #PURGE# replaced by their snippets. */
export function withSnippets(text: string): string {
  return text.replace('#ACCOUNTS#', snippet('accounts')).replace('#PURGE#', snippet('purge'));
}
