// The .deb, with dpkg-deb: control, md5sums, conffiles, maintainer scripts, copyright and changelog.

import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { copyrightText } from './copyright.js';
import { withSnippets } from './maintainer.js';
import { BUILD, OUT, packageInfo, ROOT } from './paths.js';
import { runTool, toolOutput } from './run-tool.js';
import { DOC_DIR, stageTree } from './stage.js';

const HINT = 'install dpkg-dev (Debian: apt-get install dpkg-dev)';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    return d.isDirectory() ? filesUnder(path) : [path];
  });
}

function changelog(version: string): Buffer {
  const text = `poller-bootstrap (${version}) unstable; urgency=medium\n\n  * Release ${version}.\n\n -- ServiceRadar poller-bootstrap maintainers <poller-bootstrap@serviceradar.invalid>  Mon, 01 Dec 2025 00:00:00 +0000\n`;
  return gzipSync(text, { level: 9 });
}

/** Builds dist/pkg/poller-bootstrap_<version>_<arch>.deb and returns its path. */
export function buildDeb(): string {
  // Debian revision 1, like the rpm's Release: the packaging is not the upstream source's own.
  const version = `${packageInfo().version}-1`;
  const arch = toolOutput('dpkg', ['--print-architecture'], HINT);
  const root = stageTree(`${BUILD}deb-root`, 'lib/systemd/system');
  writeFileSync(join(root, DOC_DIR, 'copyright'), copyrightText());
  writeFileSync(join(root, DOC_DIR, 'changelog.Debian.gz'), changelog(version));
  mkdirSync(join(root, 'usr/share/lintian/overrides'), { recursive: true });
  writeFileSync(
    join(root, 'usr/share/lintian/overrides/poller-bootstrap'),
    readFileSync(`${ROOT}packaging/deb/lintian-overrides`),
  );
  const files = filesUnder(root);
  const installedKiB = Math.ceil(files.reduce((n, f) => n + statSync(f).size, 0) / 1024);
  const control = join(root, 'DEBIAN');
  mkdirSync(control, { mode: 0o755 });
  const md5 = files.map(
    (f) => `${createHash('md5').update(readFileSync(f)).digest('hex')}  ${relative(root, f)}\n`,
  );
  writeFileSync(join(control, 'md5sums'), md5.join(''));
  writeFileSync(join(control, 'conffiles'), '/etc/serviceradar/poller-bootstrap.json\n');
  writeFileSync(
    join(control, 'control'),
    readFileSync(`${ROOT}packaging/deb/control`, 'utf8')
      .replace('@VERSION@', version)
      .replace('@ARCH@', arch)
      .replace('@INSTALLED_SIZE@', String(installedKiB)),
  );
  for (const script of ['postinst', 'prerm', 'postrm']) {
    writeFileSync(
      join(control, script),
      withSnippets(readFileSync(`${ROOT}packaging/deb/${script}`, 'utf8')),
    );
    chmodSync(join(control, script), 0o755);
  }
  const deb = `${OUT}poller-bootstrap_${version}_${arch}.deb`;
  // --root-owner-group: every file root:root without fakeroot; xz like Debian's own packages.
  runTool('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, deb], HINT);
  process.stdout.write(`deb: ${deb} (${(statSync(deb).size / 2 ** 20).toFixed(1)} MiB)\n`);
  return deb;
}
