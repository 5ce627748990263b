// What doctor asks over the network: the admin API (reachable, credential accepted, its clock), the SPIRE server
// (a TLS handshake verified against the trust bundle, as the agent will do), and whether our ports are free.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { connect } from 'node:tls';
import type { Config } from '../config/types.js';
import { failureOf } from '../daemon/failures.js';
import { spiffeIdFromSan } from '../spire/spiffe-id.js';
import { type AdminProbe, createAdminClient } from '../token/admin-client.js';
import { type CheckResult, fail, ok, warn } from './check.js';

const SKEW_WARN_MS = 60_000;
// SVIDs are backdated a little, but an agent whose clock is this far off sees them as not yet or no longer valid.
const SKEW_FAIL_MS = 5 * 60_000;

export async function checkAdminApi(config: Config, now: () => number): Promise<CheckResult[]> {
  const api = config.adminApi;
  if (!api?.credentials) return [];
  const c = api.credentials;
  const auth =
    c.kind === 'api-key'
      ? { kind: 'api-key' as const, keyFile: c.apiKeyFile }
      : c.kind === 'bearer'
        ? { kind: 'bearer' as const, tokenFile: c.bearerTokenFile }
        : { kind: 'login' as const, username: c.username, passwordFile: c.passwordFile };
  const client = await createAdminClient({
    url: api.url,
    auth,
    caFile: api.caFile ?? undefined,
    allowHttp: api.allowHttp,
    timeoutMs: api.timeoutMs,
  });
  try {
    const probe = await client.probe().catch((err: unknown) => err);
    if (probe instanceof Error) {
      const hint = failureOf('acquire-token', 'admin-api', probe).hint;
      return [fail('admin_api', probe.message, hint ?? 'check admin_api.url and that the server runs')];
    }
    const answered = probe as AdminProbe;
    const out = [
      answered.credential === 'accepted'
        ? ok('admin_api', `${api.url} accepted the login of ${c.kind === 'login' ? c.username : ''}`)
        : warn('admin_api', `${api.url} answers; an API key or bearer can only be tried by minting a token`),
    ];
    if (answered.serverTime !== undefined) {
      const skew = now() - answered.serverTime;
      const detail = `this host's clock is ${Math.round(skew / 1000)} s off the admin API's`;
      const fix = 'synchronise the clock (timedatectl, chrony)';
      if (Math.abs(skew) > SKEW_FAIL_MS) out.push(fail('clock', detail, fix));
      else if (Math.abs(skew) > SKEW_WARN_MS) out.push(warn('clock', detail, fix));
      else out.push(ok('clock', detail));
    }
    return out;
  } finally {
    await client.close();
  }
}

/** The TLS handshake an agent makes with the SPIRE server: chain to the bundle, SPIFFE ID spiffe://<td>/spire/server. */
export async function checkSpireServer(config: Config, timeoutMs = 5_000): Promise<CheckResult[]> {
  const { serverAddress: host, serverPort: port, trustBundlePath } = config.upstream;
  const name = 'upstream.server_address';
  const where = `${host}:${port}`;
  const ca = trustBundlePath ? await readFile(trustBundlePath, 'utf8') : undefined;
  const expect = `spiffe://${config.trustDomain}/spire/server`;
  const result = await new Promise<string | null>((resolve) => {
    const socket = connect({
      host,
      port,
      ca,
      rejectUnauthorized: ca !== undefined,
      servername: 'spire-server',
      checkServerIdentity: (_h, cert) => {
        const got = spiffeIdFromSan(cert.subjectaltname);
        return got === expect
          ? undefined
          : new Error(`the server is ${got ?? 'no SPIFFE ID'}, expected ${expect}`);
      },
      ALPNProtocols: ['h2'],
    });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)));
    socket.once('secureConnect', () => {
      socket.end();
      resolve(null);
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code ? `${err.code}: ${err.message}` : err.message),
    );
  });
  if (result === null) return [ok(name, `${where} presents ${expect}, verified against the trust bundle`)];
  const trust = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|expected spiffe/.test(result);
  const fix = trust
    ? `put the server's current bundle (spire-server bundle show) at ${trustBundlePath ?? 'upstream.trust_bundle_path'}`
    : 'check upstream.server_address and upstream.server_port, DNS and the firewall';
  return [fail(name, `${where}: ${result}`, fix)];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Ports the daemon and its children listen on: free, or held by this daemon (its /healthz answers). */
export async function checkPorts(config: Config): Promise<CheckResult[]> {
  const daemonUp = await fetch(`http://${config.http.listen}/healthz`, {
    signal: AbortSignal.timeout(2_000),
  }).then(
    (r) => r.ok,
    () => false,
  );
  const ports: [string, number][] = [
    ['http.listen', config.http.port],
    ['upstream_agent.health_port', config.upstreamAgent.healthPort],
    ['nested_server.bind_port', config.nestedServer.bindPort],
    ['nested_server.health_port', config.nestedServer.healthPort],
    ['downstream_agent.health_port', config.downstreamAgent.healthPort],
  ];
  const out: CheckResult[] = [];
  for (const [key, port] of ports) {
    if (await portFree(port)) out.push(ok(key, `port ${port} is free`));
    else if (daemonUp) out.push(ok(key, `port ${port} is held by the running daemon`));
    else
      out.push(
        fail(
          key,
          `port ${port} is in use by another process`,
          `stop it (ss -ltnp 'sport = :${port}'), or set ${key}`,
        ),
      );
  }
  return out;
}
