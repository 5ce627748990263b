// esbuild: the CLI and every dependency in one CommonJS file, with the version and the protos compiled in.

import { build } from 'esbuild';
import { BUILD, packageInfo, ROOT } from './paths.js';
import { protoJson } from './protos.js';

export const BUNDLE = `${BUILD}poller-bootstrap.cjs`;

/** Writes dist/pkg/build/poller-bootstrap.cjs (+ .LEGAL.txt, the bundled packages' license comments). */
export async function bundle(): Promise<string> {
  const result = await build({
    // The TypeScript sources, not dist/: esbuild strips the types itself.
    entryPoints: [`${ROOT}scripts/package/entry.ts`],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    // Node 20 single executables run their main script as CommonJS.
    format: 'cjs',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'external',
    define: {
      POLLER_BOOTSTRAP_VERSION: JSON.stringify(packageInfo().version),
      POLLER_BOOTSTRAP_PROTOS: JSON.stringify(protoJson()),
    },
    logLevel: 'warning',
    // Only proto.ts's file lookup reads import.meta.url, and the bundle never takes that path (protos embedded).
    logOverride: { 'empty-import-meta': 'silent' },
    metafile: true,
  });
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  process.stdout.write(`bundle: ${BUNDLE} (${(bytes / 1024).toFixed(0)} KiB)\n`);
  return BUNDLE;
}
