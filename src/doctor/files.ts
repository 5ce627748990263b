// On-disk state: the directories and their modes, the token file, the identities, the trust bundle.
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { agentLayout, type Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import { fromPem } from '../spire/der.js';
import { inspectIdentity } from '../spire/identity.js';
import { maskJoinTokenIds } from '../spire/join-token-id.js';
import { createTokenStore } from '../token/store.js';
import { type CheckResult, fail, ok, warn } from './check.js';

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;
const DAY_MS = 86_400_000;

export async function checkDirectories(layout: Layout): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const [name, path] of [
    ['state_dir', layout.stateDir],
    ['run_dir', layout.runDir],
  ] as const) {
    const st = await stat(path).catch(() => null);
    if (!st) out.push(warn(name, `${path} does not exist yet`, 'nothing: run creates it (0700)'));
    else if (!st.isDirectory())
      out.push(fail(name, `${path} is not a directory`, `remove ${path} or set ${name}`));
    else if (st.mode & 0o077) out.push(fail(name, `${path} has mode ${octal(st.mode)}`, `chmod 700 ${path}`));
    else if (process.getuid && st.uid !== process.getuid()) {
      out.push(
        warn(
          name,
          `${path} belongs to uid ${st.uid}, doctor runs as ${process.getuid()}`,
          'run doctor as the service user',
        ),
      );
    } else out.push(ok(name, `${path} ${octal(st.mode)}`));
  }
  return out;
}

export async function checkTokenFile(config: Config, now: number): Promise<CheckResult[]> {
  const name = 'token.file';
  const stored = await createTokenStore({ path: config.token.file })
    .read()
    .catch((err: Error) => err);
  if (stored instanceof Error)
    return [fail(name, stored.message, `chmod 600 ${config.token.file}, or delete it`)];
  if (!stored) return [ok(name, `${config.token.file}: none waiting (one is fetched only when needed)`)];
  const at = stored.expiresAt?.getTime();
  if (at !== undefined && at <= now) {
    return [
      warn(
        name,
        `token ${stored.fingerprint} expired at ${new Date(at).toISOString()}`,
        `delete ${config.token.file}`,
      ),
    ];
  }
  return [
    ok(
      name,
      `token ${stored.fingerprint} waiting, 0600${at ? `, expires ${new Date(at).toISOString()}` : ''}`,
    ),
  ];
}

export async function checkIdentities(config: Config, layout: Layout, now: number): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const agent of ['upstream-agent', 'downstream-agent'] as const) {
    const { dataDir, keysDir } = agentLayout(layout, agent);
    const id = await inspectIdentity(dataDir, keysDir, new Date(now), config.identitySafetyMarginSeconds);
    const what = `${id.spiffeId ? `${maskJoinTokenIds(id.spiffeId)}: ` : ''}${id.reason}`;
    if (id.status === 'valid') out.push(ok(agent, what));
    else if (id.status === 'corrupt')
      out.push(fail(agent, what, `the daemon moves ${dataDir} aside and enrols again`));
    else if (id.status === 'expiring')
      out.push(warn(agent, what, 'nothing if SPIRE reaches the server: the agent rotates it'));
    else
      out.push(
        warn(
          agent,
          what,
          agent === 'upstream-agent'
            ? 'nothing: run enrols with a join token'
            : 'nothing: run mints it a token',
        ),
      );
  }
  return out;
}

export async function checkTrustBundle(config: Config, now: number): Promise<CheckResult[]> {
  const name = 'upstream.trust_bundle_path';
  const path = config.upstream.trustBundlePath;
  if (path === null)
    return [warn(name, 'insecure_bootstrap: the first contact is not verified', `set ${name}`)];
  const text = await readFile(path, 'utf8');
  const certs = fromPem(text, 'CERTIFICATE').map((der) => new X509Certificate(der));
  if (certs.length === 0)
    return [
      fail(
        name,
        `${path} holds no PEM certificate`,
        "put the server's bundle there (spire-server bundle show)",
      ),
    ];
  const valid = certs.filter((c) => Date.parse(c.validTo) > now);
  if (valid.length === 0)
    return [
      fail(
        name,
        `every certificate in ${path} has expired`,
        "fetch the server's current bundle (spire-server bundle show)",
      ),
    ];
  const soonest = Math.min(...valid.map((c) => Date.parse(c.validTo)));
  const detail = `${certs.length} certificate(s), valid until ${new Date(soonest).toISOString()}`;
  return [
    soonest - now < 7 * DAY_MS ? warn(name, detail, 'refresh the bundle before then') : ok(name, detail),
  ];
}
