// The single executable: Node's own binary with the bundle (and the notification addon) injected, per
// https://nodejs.org/api/single-executable-applications.html — `node --experimental-sea-config` writes the
// blob, postject puts it into a copy of the node binary.

import { chmodSync, copyFileSync, statSync, writeFileSync } from 'node:fs';
import { ADDON_ASSET } from '../../src/daemon/notify-socket.js';
import { BUILD, EXECUTABLE, ROOT } from './paths.js';
import { runTool } from './run-tool.js';

// The fuse postject flips so that Node looks for the blob (a fixed string in Node's sources).
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** Writes dist/pkg/poller-bootstrap from the bundle and the addon; returns its path. */
export function buildExecutable(bundle: string, addon: string): string {
  const config = `${BUILD}sea-config.json`;
  const blob = `${BUILD}sea-prep.blob`;
  writeFileSync(
    config,
    JSON.stringify({
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      // V8's compile cache for the bundle, made now: the executable parses less at every start.
      useCodeCache: true,
      assets: { [ADDON_ASSET]: addon },
    }),
  );
  runTool(process.execPath, ['--experimental-sea-config', config], 'node >= 20.12');
  copyFileSync(process.execPath, EXECUTABLE);
  chmodSync(EXECUTABLE, 0o755);
  // Node's debug symbols are most of a distribution binary and nothing a daemon needs at run time.
  runTool('strip', ['--strip-all', EXECUTABLE], 'install binutils (Debian: apt-get install binutils)', true);
  runTool(
    process.execPath,
    [
      `${ROOT}node_modules/postject/dist/cli.js`,
      EXECUTABLE,
      'NODE_SEA_BLOB',
      blob,
      '--sentinel-fuse',
      SENTINEL_FUSE,
    ],
    'npm ci (postject is a devDependency)',
    // Quiet: its ELF reader warns about Node's unnamed note sections, which it keeps.
    true,
  );
  process.stdout.write(
    `executable: ${EXECUTABLE} (${(statSync(EXECUTABLE).size / 2 ** 20).toFixed(1)} MiB)\n`,
  );
  return EXECUTABLE;
}
