// esbuild: the CLI and every dependency in one CommonJS file, with the version and the protos compiled in.

import { readFileSync, writeFileSync } from 'node:fs';
import { build, type Metafile } from 'esbuild';
import { BUILD, packageInfo, ROOT } from './paths.js';
import { protoJson } from './protos.js';

export const BUNDLE = `${BUILD}poller-bootstrap.cjs`;
/** name@version and license of every npm package in the bundle, for the packages' copyright files. */
export const THIRD_PARTY = `${BUILD}third-party.txt`;

function thirdParty(metafile: Metafile): string {
  const dirs = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m?.[1]) dirs.add(m[1]);
  }
  const lines = [...dirs].map((dir) => {
    const pkg = JSON.parse(readFileSync(`${ROOT}${dir}/package.json`, 'utf8')) as Record<string, unknown>;
    return `${pkg.name}@${pkg.version}: ${typeof pkg.license === 'string' ? pkg.license : 'see its package'}`;
  });
  return `${[...new Set(lines)].sort().join('\n')}\n`;
}

/** Writes dist/pkg/build/poller-bootstrap.cjs (+ .LEGAL.txt, the bundled packages' license comments). */
export async function bundle(): Promise<string> {
  const result = await build({
    // The TypeScript sources, not dist/: esbuild strips the types itself.
    entryPoints: [`${ROOT}scripts/package/entry.ts`],
    absWorkingDir: ROOT,
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
  writeFileSync(THIRD_PARTY, thirdParty(result.metafile));
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  process.stdout.write(`bundle: ${BUNDLE} (${(bytes / 1024).toFixed(0)} KiB)\n`);
  return BUNDLE;
}
