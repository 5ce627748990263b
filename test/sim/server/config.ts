import { join } from 'node:path';
import { atLeast } from '../common/cli.js';
import { type Body, block, duration, int, parseHclFile, plugins, str, unknownKeys } from '../common/hcl.js';
import { HEALTH_KEYS } from '../common/health.js';

// serverConfig's HCL keys in cmd/spire-server/cli/run/run.go, common to 1.11–1.15.
const BASE_SERVER_KEYS = [
  'admin_ids',
  'agent_ttl',
  'audit_log_enabled',
  'bind_address',
  'bind_port',
  'ca_key_type',
  'ca_subject',
  'ca_ttl',
  'data_dir',
  'default_jwt_svid_ttl',
  'default_x509_svid_ttl',
  'experimental',
  'federation',
  'jwt_issuer',
  'jwt_key_type',
  'log_file',
  'log_format',
  'log_level',
  'log_source_location',
  'profiling_enabled',
  'profiling_freq',
  'profiling_names',
  'profiling_port',
  'ratelimit',
  'socket_path',
  'trust_domain',
];

/** Server keys of the simulated release (run.go's serverConfig at each tag). */
export function serverKeys(): string[] {
  const keys = [...BASE_SERVER_KEYS];
  if (!atLeast('1.13.0')) keys.push('use_legacy_downstream_x509_ca_ttl');
  if (atLeast('1.13.0')) keys.push('prune_attested_nodes_expired_for', 'prune_tofu_nodes');
  if (atLeast('1.13.1')) keys.push('max_attested_node_info_staleness');
  if (atLeast('1.14.0')) keys.push('disable_jwt_svids');
  if (atLeast('1.15.0')) keys.push('proxy_protocol_trusted_cidrs');
  if (atLeast('1.15.2')) keys.push('prune_attested_nodes_batch_size');
  return keys;
}
const TOP_KEYS = ['server', 'plugins', 'telemetry', 'health_checks'] as const;

/** The simulated server's view of `server.conf`. */
export interface ServerConfig {
  trustDomain: string;
  bindAddress: string;
  bindPort: number;
  socketPath: string;
  dataDir: string;
  logLevel: string;
  logFormat: string;
  caTtlSeconds: number;
  defaultX509SvidTtlSeconds: number;
  agentTtlSeconds: number;
  datastorePath: string;
  /** SPIFFE IDs given admin rights by configuration (admin_ids). */
  adminIds: string[];
  /** Where the disk KeyManager keeps the CA key; undefined with KeyManager "memory". */
  keysPath: string | undefined;
  upstream: { serverAddress: string; serverPort: number; workloadApiSocket: string } | undefined;
  health: Body | undefined;
}

/** A config problem; `unknown` lists keys SPIRE would reject with "unknown configuration detected". */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly unknown?: { section: string; keys: string[] },
  ) {
    super(message);
  }
}

function checkUnknown(section: string, body: Body | undefined, known: readonly string[]): void {
  const keys = unknownKeys(body, known);
  if (keys.length > 0) throw new ConfigError('unknown configuration detected', { section, keys });
}

/** Loads and validates server.conf as `spire-server run` would. */
export function loadServerConfig(path: string): ServerConfig {
  const body = parseHclFile(path);
  checkUnknown('top-level', body, TOP_KEYS);
  const server = block(body, 'server');
  if (!server) throw new ConfigError('server section must be configured');
  checkUnknown('server', server, serverKeys());
  const health = block(body, 'health_checks');
  checkUnknown('health_checks', health, HEALTH_KEYS);

  const trustDomain = str(server, 'trust_domain');
  if (!trustDomain) throw new ConfigError('trust_domain must be configured');
  if (!/^[a-z0-9._-]+$/.test(trustDomain)) {
    throw new ConfigError(
      `could not parse trust_domain "${trustDomain}": trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`,
    );
  }
  const dataDir = str(server, 'data_dir');
  if (!dataDir) throw new ConfigError('data_dir must be configured');
  const rawAdmins = server.admin_ids;
  const adminIds = Array.isArray(rawAdmins) ? rawAdmins.map(String) : [];
  for (const id of adminIds) {
    if (!/^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(id)) {
      throw new ConfigError(`could not parse admin ID "${id}": scheme is missing or invalid`);
    }
  }

  const plug = plugins(body);
  const dataStore = plug.get('DataStore')?.get('sql');
  if (!dataStore) throw new ConfigError('plugins: DataStore "sql" must be configured');
  const km = plug.get('KeyManager');
  if (!km || km.size !== 1) throw new ConfigError('plugins: exactly one KeyManager must be configured');
  if (!plug.get('NodeAttestor')?.has('join_token')) {
    throw new ConfigError('plugins: the simulator needs NodeAttestor "join_token"');
  }
  const disk = km.get('disk');
  if (disk && !str(disk, 'keys_path'))
    throw new ConfigError('plugins: KeyManager "disk": keys_path is required');
  const up = plug.get('UpstreamAuthority')?.get('spire');
  let upstream: ServerConfig['upstream'];
  if (up) {
    checkUnknown('UpstreamAuthority "spire" plugin_data', up, [
      'server_address',
      'server_port',
      'workload_api_socket',
      'experimental',
    ]);
    const serverAddress = str(up, 'server_address');
    const serverPort = int(up, 'server_port');
    const workloadApiSocket = str(up, 'workload_api_socket');
    if (!serverAddress || !serverPort || !workloadApiSocket) {
      throw new ConfigError(
        'plugins: UpstreamAuthority "spire": server_address, server_port and workload_api_socket are required',
      );
    }
    upstream = { serverAddress, serverPort, workloadApiSocket };
  }
  return {
    trustDomain,
    bindAddress: str(server, 'bind_address') ?? '0.0.0.0',
    bindPort: int(server, 'bind_port') ?? 8081,
    socketPath: str(server, 'socket_path') ?? '/tmp/spire-server/private/api.sock',
    dataDir,
    logLevel: str(server, 'log_level') ?? 'INFO',
    logFormat: str(server, 'log_format') ?? 'text',
    caTtlSeconds: duration(server, 'ca_ttl') ?? 24 * 3600,
    defaultX509SvidTtlSeconds: duration(server, 'default_x509_svid_ttl') ?? 3600,
    agentTtlSeconds: duration(server, 'agent_ttl') ?? duration(server, 'default_x509_svid_ttl') ?? 3600,
    datastorePath: str(dataStore, 'connection_string') ?? join(dataDir, 'datastore.sqlite3'),
    adminIds,
    keysPath: disk ? str(disk, 'keys_path') : undefined,
    upstream,
    health,
  };
}
