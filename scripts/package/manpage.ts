// poller-bootstrap(1), made from the CLI's own help texts so the two cannot drift apart.

import { gzipSync } from 'node:zlib';
import { COMMANDS, commandUsage, mainUsage } from '../../src/cli/usage.js';

// roff: a leading dot or quote starts a request, a backslash an escape.
const roff = (text: string): string =>
  text
    .replace(/\\/g, '\\e')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');

/** The gzipped man page for /usr/share/man/man1/poller-bootstrap.1.gz. */
export function manPage(version: string): Buffer {
  const sections = COMMANDS.map((c) => `.SS ${c}\n.nf\n${roff(commandUsage(c))}\n.fi`).join('\n');
  const text = `.TH POLLER-BOOTSTRAP 1 "" "poller-bootstrap ${version}" "User Commands"
.SH NAME
poller-bootstrap \\- SPIFFE identity bootstrap for ServiceRadar edge pollers
.SH SYNOPSIS
.nf
${roff(mainUsage())}
.fi
.SH COMMANDS
${sections}
.SH FILES
/etc/serviceradar/poller-bootstrap.json, /var/lib/serviceradar/poller-bootstrap,
/run/spire/nested, /run/spire/nested-workload/agent.sock
.SH SEE ALSO
/usr/share/doc/poller-bootstrap/docs/
`;
  return gzipSync(text, { level: 9 });
}
