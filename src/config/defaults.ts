// Every default of the configuration, filled in by one pure function.

import { posix } from 'node:path';
import { mustParseSpireVersion, parseSpireVersion } from '../spire/version.js';
import type { FileChild, FileConfig, FileEntry } from './schema.js';
import type {
  AdminCredentials,
  ChildConfig,
  Config,
  ConfigTokenSource,
  EntrySpec,
  Selector,
  Supervision,
  WorkloadEntry,
} from './types.js';

export const DEFAULT_CONFIG_PATH = '/etc/serviceradar/poller-bootstrap.json';
// Identity must survive a reboot, so data lives under /var/lib; only sockets and the token live under /run (§8).
export const DEFAULT_STATE_DIR = '/var/lib/serviceradar/poller-bootstrap';
export const DEFAULT_RUN_DIR = '/run/spire/nested';
export const DEFAULT_SPIRE_VERSION = '1.13.3';
export const DEFAULT_HTTP_LISTEN = '127.0.0.1:9466';
export const DEFAULT_CREDENTIAL_NAME = 'upstream-join-token';
// SPIRE server's default admin socket (DESIGN §5).
export const DEFAULT_SPIRE_SERVER_SOCKET = '/tmp/spire-server/private/api.sock';

export const DEFAULT_PORTS = {
  upstreamServer: 8081,
  nestedServer: 18081,
  upstreamAgentHealth: 18088,
  nestedServerHealth: 18089,
  downstreamAgentHealth: 18090,
};
// Long enough for SPIRE's own minute of attestation retries and the nested server's SVID wait (go-spiffe's
// Workload API backoff reaches 30 s), short enough that a stuck child is named within minutes.
export const DEFAULT_READY_TIMEOUT_SECONDS = 120;

/** Restart and retry timings of the supervisor and the token retries. */
export const SUPERVISION: Supervision = {
  // SPIRE flushes its datastore and sockets on SIGTERM within a few seconds; beyond this it gets SIGKILL.
  stopGraceMs: 10_000,
  restart: { initialMs: 500, maxMs: 60_000 },
  restartResetAfterMs: 60_000,
  tokenRetry: { initialMs: 1_000, maxMs: 300_000 },
};
export const DEFAULT_X509_TTL = 3600;
export const DEFAULT_JWT_TTL = 300;
// The shell entrypoint's workload selectors: poller and agent run as root in the container.
const ROOT_SELECTORS = ['unix:uid:0', 'unix:gid:0', 'unix:user:root', 'unix:group:root'];

/**
 * The poller's socket, in a sibling of the run dir (`/run/spire/nested-workload/agent.sock` by default): the run
 * dir holds the join tokens and stays 0700, the socket's own folder is opened to a group.
 */
export function workloadSocketPath(runDir: string): string {
  return `${posix.normalize(runDir).replace(/\/+$/, '')}-workload/agent.sock`;
}

/** Splits `type:value` at the first colon (`unix:path:/x` is type `unix`, value `path:/x`). */
export function parseSelector(text: string): Selector {
  const colon = text.indexOf(':');
  return { type: text.slice(0, colon), value: text.slice(colon + 1) };
}

/** The `type:value` text of a selector, as SPIRE's APIs and the admin API take it. */
export const selectorText = (s: Selector): string => `${s.type}:${s.value}`;

function entry(file: Omit<FileEntry, 'name'> | undefined, spiffeId: string, selectors: string[]): EntrySpec {
  return {
    spiffeId: file?.spiffe_id ?? spiffeId,
    selectors: (file?.selectors ?? selectors).map(parseSelector),
    x509SvidTtlSeconds: file?.x509_svid_ttl_seconds ?? DEFAULT_X509_TTL,
    jwtSvidTtlSeconds: file?.jwt_svid_ttl_seconds ?? DEFAULT_JWT_TTL,
  };
}

function workloads(file: FileConfig, td: string): WorkloadEntry[] {
  const given = file.workloads ?? [
    { name: 'poller', spiffe_id: `spiffe://${td}/services/poller` },
    { name: 'agent', spiffe_id: `spiffe://${td}/services/agent` },
  ];
  return given.map((w, i) => ({
    name: w.name ?? `workload-${i}`,
    ...entry(w, w.spiffe_id ?? '', ROOT_SELECTORS),
  }));
}

function credentials(admin: NonNullable<FileConfig['admin_api']>): AdminCredentials | null {
  if (admin.api_key_file !== undefined) return { kind: 'api-key', apiKeyFile: admin.api_key_file };
  if (admin.username !== undefined && admin.password_file !== undefined) {
    return { kind: 'login', username: admin.username, passwordFile: admin.password_file };
  }
  if (admin.bearer_token_file !== undefined)
    return { kind: 'bearer', bearerTokenFile: admin.bearer_token_file };
  return null;
}

function child(file: FileChild | undefined, socketPath: string, healthPort: number): ChildConfig {
  return {
    socketPath: file?.socket_path ?? socketPath,
    healthPort: file?.health_port ?? healthPort,
    readyTimeoutMs: Math.round((file?.ready_timeout_seconds ?? DEFAULT_READY_TIMEOUT_SECONDS) * 1000),
  };
}

// Sources that need a section are only on by default when that section is configured.
function defaultSources(file: FileConfig): ConfigTokenSource[] {
  const sources: ConfigTokenSource[] = ['credentials', 'file'];
  if (file.admin_api) sources.push('admin-api');
  if (file.spire_server) sources.push('spire-server');
  return sources;
}

/** Fills every default; required values that are missing become '' (validation has reported them). */
export function fillDefaults(file: FileConfig): Config {
  const td = file.trust_domain ?? '';
  const runDir = file.run_dir ?? DEFAULT_RUN_DIR;
  const serverPath = file.spire?.server_path ?? '/opt/spire/bin/spire-server';
  const admin = file.admin_api;
  const listen = file.http?.listen ?? DEFAULT_HTTP_LISTEN;
  const colon = listen.lastIndexOf(':');
  return {
    trustDomain: td,
    stateDir: file.state_dir ?? DEFAULT_STATE_DIR,
    runDir,
    logLevel: file.log_level ?? 'info',
    identitySafetyMarginSeconds: file.identity_safety_margin_seconds ?? 300,
    upstream: {
      serverAddress: file.upstream?.server_address ?? '',
      serverPort: file.upstream?.server_port ?? DEFAULT_PORTS.upstreamServer,
      trustBundlePath: file.upstream?.trust_bundle_path ?? null,
      insecureBootstrap: file.upstream?.insecure_bootstrap ?? false,
    },
    upstreamAgent: child(
      file.upstream_agent,
      posix.join(runDir, 'upstream-agent/agent.sock'),
      DEFAULT_PORTS.upstreamAgentHealth,
    ),
    nestedServer: {
      ...child(file.nested_server, posix.join(runDir, 'server/api.sock'), DEFAULT_PORTS.nestedServerHealth),
      bindAddress: file.nested_server?.bind_address ?? '127.0.0.1',
      bindPort: file.nested_server?.bind_port ?? DEFAULT_PORTS.nestedServer,
      caTtlSeconds: file.nested_server?.ca_ttl_seconds ?? null,
      defaultX509SvidTtlSeconds: file.nested_server?.default_x509_svid_ttl_seconds ?? null,
    },
    downstreamAgent: {
      ...child(file.downstream_agent, workloadSocketPath(runDir), DEFAULT_PORTS.downstreamAgentHealth),
      socketGroup: file.downstream_agent?.socket_group ?? null,
    },
    adminApi: admin
      ? {
          url: admin.url ?? '',
          caFile: admin.ca_file ?? null,
          allowHttp: admin.allow_http ?? false,
          credentials: credentials(admin),
          connectTimeoutMs: Math.round((admin.connect_timeout_seconds ?? 5) * 1000),
          timeoutMs: Math.round((admin.timeout_seconds ?? 30) * 1000),
        }
      : null,
    spireServer:
      file.spire_server || file.token?.sources?.includes('spire-server')
        ? { socketPath: file.spire_server?.socket_path ?? DEFAULT_SPIRE_SERVER_SOCKET }
        : null,
    token: {
      sources: file.token?.sources ?? defaultSources(file),
      credentialName: file.token?.credential_name ?? DEFAULT_CREDENTIAL_NAME,
      file: file.token?.file ?? posix.join(runDir, 'upstream-join-token'),
      ttlSeconds: file.token?.ttl_seconds ?? 900,
      maxPerHour: file.token?.max_per_hour ?? 6,
    },
    spire: {
      agentPath: file.spire?.agent_path ?? '/opt/spire/bin/spire-agent',
      serverPath,
      // A bad version has been reported by validation; the default only keeps the object complete.
      version: parseSpireVersion(file.spire?.version ?? '') ?? mustParseSpireVersion(DEFAULT_SPIRE_VERSION),
      autoVersion: file.spire?.version === 'auto',
      childEnv: Object.fromEntries(
        (file.spire?.child_env ?? []).map((kv) => [
          kv.slice(0, kv.indexOf('=')),
          kv.slice(kv.indexOf('=') + 1),
        ]),
      ),
    },
    // ServiceRadar's downstream entry: the upstream agent attests the nested server by its binary path.
    downstream: entry(file.downstream, `spiffe://${td}/ns/edge/poller-nested-spire`, [
      `unix:path:${serverPath}`,
    ]),
    workloads: workloads(file, td),
    http: {
      listen,
      host: listen.slice(0, colon).replace(/^\[|\]$/g, ''),
      port: Number(listen.slice(colon + 1)),
    },
    supervision: SUPERVISION,
  };
}
