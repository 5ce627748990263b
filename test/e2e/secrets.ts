import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Proc } from '../sim/launch.js';

/** The upstream join token that was used, read back from the agent SVID's SPIFFE ID (…/join_token/<token>). */
export function usedToken(stateDir: string): string | undefined {
  try {
    const data = JSON.parse(readFileSync(`${stateDir}/upstream-agent/data/agent-data.json`, 'utf8')) as {
      svid: string[];
    };
    const cert = new X509Certificate(Buffer.from(data.svid[0] ?? '', 'base64').toString('utf8'));
    return /\/spire\/agent\/join_token\/([^,\s]+)/.exec(cert.subjectAltName ?? '')?.[1];
  } catch {
    return undefined;
  }
}

/** Asserts that no secret shows in the daemon's output, its children's argv/environment, or its HTTP answers. */
export async function expectNoSecrets(daemon: Proc, httpUrl: string, secrets: string[]): Promise<void> {
  const present = secrets.filter((s) => s.length > 0);
  expect(present.length).toBeGreaterThan(0);
  const places: Record<string, string> = { log: daemon.lines.join('\n') };
  for (const path of ['/status', '/healthz', '/readyz']) {
    places[`GET ${path}`] = await fetch(`${httpUrl}${path}`).then(
      (r) => r.text(),
      () => '',
    );
  }
  const status = JSON.parse(places['GET /status'] || '{"children":[]}') as {
    children: { name: string; pid: number | null }[];
  };
  for (const c of status.children) {
    if (!c.pid) continue;
    for (const file of ['cmdline', 'environ']) {
      try {
        places[`${c.name} ${file}`] = readFileSync(`/proc/${c.pid}/${file}`, 'utf8');
      } catch {
        // the child exited meanwhile
      }
    }
  }
  for (const [where, text] of Object.entries(places)) {
    for (const secret of present) expect(text.includes(secret), `secret found in ${where}`).toBe(false);
  }
}
