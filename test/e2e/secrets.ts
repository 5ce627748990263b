// The one leak scan of the e2e tests: every secret of a test searched everywhere an operator or another local
// user could read it — the daemon's log, every process's argv and environment under the test's folder, every
// HTTP answer of the daemon, and every file the daemon writes outside the token files and SPIRE's own stores.
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Proc } from '../sim/launch.js';

/** The join token an agent attested with, read back from its SVID's SPIFFE ID (…/join_token/<token>). */
export function usedToken(stateDir: string, agent: 'upstream-agent' | 'downstream-agent' = 'upstream-agent') {
  try {
    const data = JSON.parse(readFileSync(`${stateDir}/${agent}/data/agent-data.json`, 'utf8')) as {
      svid: string[];
    };
    const cert = new X509Certificate(Buffer.from(data.svid[0] ?? '', 'base64').toString('utf8'));
    return /\/spire\/agent\/join_token\/([^,\s]+)/.exec(cert.subjectAltName ?? '')?.[1];
  } catch {
    return undefined;
  }
}

/** Both agents' tokens, as far as they attested. */
export const usedTokens = (stateDir: string): string[] =>
  [usedToken(stateDir), usedToken(stateDir, 'downstream-agent')].filter((t): t is string => Boolean(t));

// SPIRE's own stores (agent-data.json, keys, the datastore) hold agent IDs by design; the token files are the
// one place the daemon keeps a token. Everything else must be clean.
const NOT_OURS = /\/(data|keys)\/|(-join-token|\/upstream-join-token)(\.meta)?$/;

function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    try {
      const st = statSync(path);
      if (st.isDirectory()) return filesUnder(path);
      return st.isFile() && st.size < 1024 * 1024 ? [path] : [];
    } catch {
      return []; // gone meanwhile
    }
  });
}

/** argv and environment of every process whose command line names `dir` (the daemon, its children, the sims). */
function processesUnder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes(dir)) continue;
      out[`pid ${pid} cmdline`] = cmdline;
      out[`pid ${pid} environ`] = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export interface LeakScan {
  daemon: Proc;
  httpUrl: string;
  /** The test's folder: processes and files under it are scanned. */
  dir: string;
  /** Folders the daemon writes (state and run dirs). */
  written: string[];
}

/** Asserts that no secret shows anywhere outside the token files; at least one secret must be given. */
export async function expectNoSecrets(scan: LeakScan, secrets: (string | undefined)[]): Promise<void> {
  const present = secrets.filter((s): s is string => typeof s === 'string' && s.length > 0);
  expect(present.length).toBeGreaterThan(0);
  const places: Record<string, string> = { log: scan.daemon.lines.join('\n'), ...processesUnder(scan.dir) };
  for (const path of ['/status', '/healthz', '/readyz', '/metrics']) {
    places[`GET ${path}`] = await fetch(`${scan.httpUrl}${path}`).then(
      (r) => r.text(),
      () => '',
    );
  }
  for (const file of scan.written.flatMap(filesUnder).filter((f) => !NOT_OURS.test(f))) {
    places[file] = readFileSync(file, 'utf8');
  }
  for (const [where, text] of Object.entries(places)) {
    for (const secret of present) expect(text.includes(secret), `secret found in ${where}`).toBe(false);
  }
}
