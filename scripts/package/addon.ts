// Compiles src/daemon/sd-notify.c, the in-process systemd notification addon, against Node-API's headers.

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BUILD, ROOT } from './paths.js';
import { runTool } from './run-tool.js';

export const ADDON = `${BUILD}sd-notify.node`;

// Node's own headers ship with it (<prefix>/include/node: the official tarballs and packages have them).
function nodeIncludeDir(): string {
  const dir = join(dirname(dirname(process.execPath)), 'include', 'node');
  if (!existsSync(join(dir, 'node_api.h'))) {
    throw new Error(`no Node-API headers at ${dir}: install Node.js with its headers (include/node)`);
  }
  return dir;
}

/** Builds dist/pkg/build/sd-notify.node with the system C compiler. */
export function buildAddon(): string {
  mkdirSync(BUILD, { recursive: true });
  runTool(
    'cc',
    [
      '-shared',
      '-fPIC',
      '-O2',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-s',
      `-I${nodeIncludeDir()}`,
      '-o',
      ADDON,
      `${ROOT}src/daemon/sd-notify.c`,
    ],
    'install a C compiler (Debian: apt-get install gcc libc6-dev)',
  );
  process.stdout.write(`addon: ${ADDON}\n`);
  return ADDON;
}
