// The .rpm, with rpmbuild (Debian package `rpm`) from the same staged tree as the deb.

import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyrightText } from './copyright.js';
import { withSnippets } from './maintainer.js';
import { BUILD, OUT, packageInfo, ROOT } from './paths.js';
import { runTool } from './run-tool.js';
import { DOC_DIR, stageTree } from './stage.js';

const RPM_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

/** Builds dist/pkg/poller-bootstrap-<version>-1.<arch>.rpm and returns its path. */
export function buildRpm(): string {
  const { version } = packageInfo();
  const arch = RPM_ARCH[process.arch] ?? process.arch;
  const stage = stageTree(`${BUILD}rpm-root`, 'usr/lib/systemd/system');
  writeFileSync(join(stage, DOC_DIR, 'copyright'), copyrightText());
  const top = `${BUILD}rpmbuild`;
  mkdirSync(`${top}/SPECS`, { recursive: true });
  const spec = `${top}/SPECS/poller-bootstrap.spec`;
  writeFileSync(
    spec,
    withSnippets(readFileSync(`${ROOT}packaging/rpm/poller-bootstrap.spec`, 'utf8'))
      .replaceAll('@VERSION@', version)
      .replaceAll('@ARCH@', arch)
      .replaceAll('@STAGE@', stage),
  );
  runTool(
    'rpmbuild',
    [
      '-bb',
      '--quiet',
      '--define',
      `_topdir ${top}`,
      '--define',
      `_rpmdir ${OUT}`,
      '--define',
      '_build_name_fmt %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm',
      // xz on every core: the payload is mostly the 80 MiB Node.js runtime.
      '--define',
      '_binary_payload w6T0.xzdio',
      spec,
    ],
    'install rpm (Debian: apt-get install rpm)',
  );
  const rpm = `${OUT}poller-bootstrap-${version}-1.${arch}.rpm`;
  process.stdout.write(`rpm: ${rpm} (${(statSync(rpm).size / 2 ** 20).toFixed(1)} MiB)\n`);
  return rpm;
}
