// The installed tree both packages share: what goes where, with which mode. deb and rpm differ only in where
// systemd units live (/lib on Debian 12, /usr/lib elsewhere).

import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { THIRD_PARTY } from './bundle.js';
import { manPage } from './manpage.js';
import { EXECUTABLE, packageInfo, ROOT } from './paths.js';

export const DOC_DIR = 'usr/share/doc/poller-bootstrap';
const MAN_DIR = 'usr/share/man/man1';

interface Entry {
  readonly from: string;
  readonly to: string;
  readonly mode: number;
}

function entries(unitDir: string): Entry[] {
  const docs = existsSync(`${ROOT}docs`)
    ? readdirSync(`${ROOT}docs`)
        .filter((f) => f.endsWith('.md'))
        .map((f) => ({ from: `docs/${f}`, to: `${DOC_DIR}/docs/${f}`, mode: 0o644 }))
    : [];
  return [
    { from: EXECUTABLE, to: 'usr/bin/poller-bootstrap', mode: 0o755 },
    { from: 'systemd/poller-bootstrap.service', to: `${unitDir}/poller-bootstrap.service`, mode: 0o644 },
    // The join-token broker, for the machine beside the cluster SPIRE server: shipped, never enabled.
    {
      from: 'systemd/poller-bootstrap-broker.service',
      to: `${unitDir}/poller-bootstrap-broker.service`,
      mode: 0o644,
    },
    {
      from: 'packaging/examples/join-token-broker.json',
      to: `${DOC_DIR}/examples/join-token-broker.json`,
      mode: 0o644,
    },
    {
      from: 'packaging/etc/poller-bootstrap.json',
      to: 'etc/serviceradar/poller-bootstrap.json',
      mode: 0o644,
    },
    {
      from: 'packaging/examples/poller-bootstrap.json',
      to: `${DOC_DIR}/examples/poller-bootstrap.json`,
      mode: 0o644,
    },
    { from: 'README.md', to: `${DOC_DIR}/README.md`, mode: 0o644 },
    { from: THIRD_PARTY, to: `${DOC_DIR}/third-party.txt`, mode: 0o644 },
    ...docs,
  ];
}

/** Copies the files into a fresh `root` (the package's filesystem image) and returns it. */
export function stageTree(root: string, unitDir: string): string {
  rmSync(root, { recursive: true, force: true });
  for (const e of entries(unitDir)) {
    const target = join(root, e.to);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    copyFileSync(e.from.startsWith('/') ? e.from : `${ROOT}${e.from}`, target);
    chmodSync(target, e.mode);
  }
  mkdirSync(join(root, MAN_DIR), { recursive: true, mode: 0o755 });
  writeFileSync(join(root, MAN_DIR, 'poller-bootstrap.1.gz'), manPage(packageInfo().version), {
    mode: 0o644,
  });
  return root;
}
