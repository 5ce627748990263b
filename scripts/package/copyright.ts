// The copyright file of the packages: this project, the embedded Node.js runtime and the bundled npm packages.

import { readFileSync } from 'node:fs';
import { THIRD_PARTY } from './bundle.js';

/** A machine-readable (DEP-5) copyright file. */
export function copyrightText(): string {
  const bundled = readFileSync(THIRD_PARTY, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => ` ${line}`)
    .join('\n');
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: poller-bootstrap
Comment: /usr/bin/poller-bootstrap is a Node.js single executable application: the Node.js ${process.version}
 runtime with this project's code and these npm packages bundled into it (name@version: license):
${bundled}

Files: *
Copyright: 2026 ServiceRadar poller-bootstrap authors
License: proprietary
 Not published under an open source license; see the project's repository.

Files: usr/bin/poller-bootstrap
Copyright: Node.js contributors, and the authors of the bundled packages listed above
License: MIT
 Node.js is released under the MIT license; its bundled dependencies (V8, OpenSSL, libuv, ICU,
 zlib and others) under their own permissive licenses, listed in Node.js's LICENSE file.
`;
}
