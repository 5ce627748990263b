import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { atLeast } from '../common/cli.js';
import { type Body, block, bool, int, parseHclFile, plugins, str, unknownKeys } from '../common/hcl.js';
import { HEALTH_KEYS } from '../common/health.js';

const BASE_KEYS = [
  'admin_socket_path',
  'allow_unauthenticated_verifiers',
  'allowed_foreign_jwt_claims',
  'authorized_delegates',
  'availability_target',
  'data_dir',
  'disable_spiffe_cert_validation',
  'experimental',
  'insecure_bootstrap',
  'join_token',
  'jwt_svid_cache_max_size',
  'log_file',
  'log_format',
  'log_level',
  'log_source_location',
  'profiling_enabled',
  'profiling_freq',
  'profiling_names',
  'profiling_port',
  'sds',
  'server_address',
  'server_port',
  'socket_path',
  'trust_bundle_format',
  'trust_bundle_path',
  'trust_bundle_url',
  'trust_domain',
  'workload_x509_svid_key_type',
  'x509_svid_cache_max_size',
];

/** Agent keys of the simulated release: the version matrix of DESIGN §6. */
export function agentKeys(): string[] {
  const keys = [...BASE_KEYS];
  if (!atLeast('1.14.0')) keys.push('retry_bootstrap');
  if (atLeast('1.13.0')) keys.push('rebootstrap_mode', 'rebootstrap_delay');
  if (atLeast('1.13.3')) keys.push('join_token_file');
  if (atLeast('1.15.3')) keys.push('trust_bundle_spiffe_workload_api');
  return keys;
}

/** The simulated agent's view of agent.conf plus its command-line flags. */
export interface AgentConfig {
  dataDir: string;
  serverAddress: string;
  serverPort: number;
  socketPath: string;
  trustDomain: string;
  trustBundlePath: string | undefined;
  insecureBootstrap: boolean;
  joinToken: string | undefined;
  /** Whether failed attestations are retried for about a minute (1.13+ default) or crash at once. */
  retryBootstrap: boolean;
  logLevel: string;
  logFormat: string;
  /** Directory of the disk KeyManager; undefined with KeyManager "memory". */
  keysDir: string | undefined;
  discoverWorkloadPath: boolean;
  health: Body | undefined;
}

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly unknown?: { section: string; keys: string[] },
  ) {
    super(message);
  }
}

function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `unable to read join token file "${path}": open ${path}: ${(err as Error).message.split(',')[0]}`,
    );
  }
  const token = text.trim();
  if (!token) throw new ConfigError('join token file is empty');
  return token;
}

/** Loads agent.conf and the run flags, validating in the order and with the messages of `spire-agent run`. */
export function loadAgentConfig(flags: Map<string, string>): AgentConfig {
  const path = resolve(flags.get('config') ?? 'conf/agent/agent.conf');
  if (!existsSync(path))
    throw new ConfigError(`could not find config file ${path}: please use the -config flag`);
  const body = parseHclFile(path);
  const agent = block(body, 'agent');
  const plug = plugins(body);
  if (!body.plugins) throw new ConfigError('plugins section must be configured');
  if (!agent) throw new ConfigError('agent section must be configured');

  const tokenFile = flags.get('joinTokenFile') ?? str(agent, 'join_token_file');
  const inlineToken = flags.get('joinToken') ?? str(agent, 'join_token');
  if (tokenFile && inlineToken)
    throw new ConfigError('only one of join_token or join_token_file can be specified, not both');
  const serverAddress = flags.get('serverAddress') ?? str(agent, 'server_address');
  if (!serverAddress) throw new ConfigError('server_address must be configured');
  const serverPort = Number(flags.get('serverPort') ?? int(agent, 'server_port') ?? 0);
  if (!serverPort) throw new ConfigError('server_port must be configured');
  const trustDomain = flags.get('trustDomain') ?? str(agent, 'trust_domain');
  if (!trustDomain) throw new ConfigError('trust_domain must be configured');
  const bundlePath = flags.get('trustBundle') ?? str(agent, 'trust_bundle_path');
  const bundleUrl = str(agent, 'trust_bundle_url');
  const insecure = flags.get('insecureBootstrap') === 'true' || bool(agent, 'insecure_bootstrap');
  if (insecure && bundlePath && bundleUrl) {
    throw new ConfigError(
      'only one of insecure_bootstrap, trust_bundle_url, or trust_bundle_path can be specified, not the three options',
    );
  }
  if (insecure && bundlePath)
    throw new ConfigError('only one of insecure_bootstrap or trust_bundle_path can be specified, not both');
  if (insecure && bundleUrl)
    throw new ConfigError('only one of insecure_bootstrap or trust_bundle_url can be specified, not both');
  if (bundlePath && bundleUrl)
    throw new ConfigError('only one of trust_bundle_url or trust_bundle_path can be specified, not both');
  if (!insecure && !bundlePath && !bundleUrl) {
    throw new ConfigError(
      'trust_bundle_path or trust_bundle_url must be configured unless insecure_bootstrap is set',
    );
  }
  if (bundleUrl)
    throw new ConfigError('the simulator does not fetch trust_bundle_url; use trust_bundle_path');

  const top = unknownKeys(body, ['agent', 'plugins', 'telemetry', 'health_checks']);
  if (top.length)
    throw new ConfigError('unknown configuration detected', { section: 'top-level', keys: top });
  const unknown = unknownKeys(agent, agentKeys());
  if (unknown.length)
    throw new ConfigError('unknown configuration detected', { section: 'agent', keys: unknown });
  const health = block(body, 'health_checks');
  const badHealth = unknownKeys(health, HEALTH_KEYS);
  if (badHealth.length)
    throw new ConfigError('unknown configuration detected', { section: 'health check', keys: badHealth });

  const km = plug.get('KeyManager');
  if (!km || km.size !== 1 || !(km.has('disk') || km.has('memory'))) {
    throw new ConfigError('plugins: exactly one KeyManager ("disk" or "memory") must be configured');
  }
  const disk = km.get('disk');
  if (disk && !str(disk, 'directory')) throw new ConfigError('directory must be configured');
  const unix = plug.get('WorkloadAttestor')?.get('unix');
  const explicitRetry = agent.retry_bootstrap === undefined ? undefined : bool(agent, 'retry_bootstrap');
  return {
    dataDir: flags.get('dataDir') ?? str(agent, 'data_dir') ?? '.',
    serverAddress,
    serverPort,
    socketPath: flags.get('socketPath') ?? str(agent, 'socket_path') ?? '/tmp/spire-agent/public/api.sock',
    trustDomain,
    trustBundlePath: bundlePath,
    insecureBootstrap: insecure,
    joinToken: tokenFile ? readTokenFile(tokenFile) : inlineToken,
    // 1.11/1.12 default to no retry; 1.13 forces it on unless set; later releases always retry.
    retryBootstrap: explicitRetry ?? atLeast('1.13.0'),
    logLevel: flags.get('logLevel') ?? str(agent, 'log_level') ?? 'INFO',
    logFormat: flags.get('logFormat') ?? str(agent, 'log_format') ?? '',
    keysDir: disk ? str(disk, 'directory') : undefined,
    discoverWorkloadPath: bool(unix, 'discover_workload_path'),
    health,
  };
}
