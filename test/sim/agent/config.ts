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

/** Agent keys of the simulated release: agentConfig's HCL tags in cmd/spire-agent/cli/run/run.go per tag. */
export function agentKeys(): string[] {
  const keys = [...BASE_KEYS];
  if (!atLeast('1.14.0')) keys.push('retry_bootstrap');
  if (atLeast('1.12.1')) keys.push('trust_bundle_unix_socket');
  if (atLeast('1.13.0')) keys.push('rebootstrap_mode', 'rebootstrap_delay');
  if (atLeast('1.13.3')) keys.push('join_token_file');
  if (atLeast('1.15.2')) keys.push('log_selectors');
  if (atLeast('1.15.3'))
    keys.push('disable_sds_api', 'disable_workload_api', 'trust_bundle_spiffe_workload_api');
  return keys;
}

/** `run` flags of the release: -retryBootstrap is gone with the key in 1.14. */
export function runBooleanFlags(): string[] {
  const flags = ['allowUnauthenticatedVerifiers', 'insecureBootstrap', 'expandEnv', 'logSourceLocation'];
  if (!atLeast('1.14.0')) flags.push('retryBootstrap');
  return flags;
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
  /** Whether failed attestations are retried for about a minute (1.13 default, always from 1.14). */
  retryBootstrap: boolean;
  /** Warnings `run` logs once the logger exists (e.g. the 1.13 retry_bootstrap deprecation). */
  warnings: string[];
  logLevel: string;
  logFormat: string;
  /** Directory of the disk KeyManager; undefined with KeyManager "memory". */
  keysDir: string | undefined;
  keyManager: 'disk' | 'memory';
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

/**
 * retry_bootstrap by release: 1.11/1.12 retry only when the key or -retryBootstrap says so; 1.13 retries unless
 * told otherwise and warns that the key is deprecated; from 1.14 the key is unknown and the agent always retries.
 */
function retryBootstrap(
  agent: Body,
  flags: Map<string, string>,
): { retry: { value: boolean; explicit: boolean }; warnings: string[] } {
  if (atLeast('1.14.0')) return { retry: { value: true, explicit: false }, warnings: [] };
  const fromFlag = flags.has('retryBootstrap') ? flags.get('retryBootstrap') === 'true' : undefined;
  const fromFile = agent.retry_bootstrap === undefined ? undefined : bool(agent, 'retry_bootstrap');
  if (!atLeast('1.13.0'))
    return { retry: { value: Boolean(fromFile || fromFlag), explicit: false }, warnings: [] };
  const explicit = fromFlag ?? fromFile;
  if (explicit === undefined) return { retry: { value: true, explicit: false }, warnings: [] };
  const warn =
    "The 'retry_bootstrap' configuration is deprecated. It will be removed in SPIRE 1.14. Please test without the flag before upgrading.";
  return { retry: { value: explicit, explicit: true }, warnings: [warn] };
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
  // 1.15.3 added a Workload API endpoint as a third trust source, checked first.
  const bundleWorkloadApi = atLeast('1.15.3') ? str(agent, 'trust_bundle_spiffe_workload_api') : undefined;
  if (bundleWorkloadApi) {
    const other = insecure
      ? 'insecure_bootstrap'
      : bundleUrl
        ? 'trust_bundle_url'
        : bundlePath
          ? 'trust_bundle_path'
          : '';
    if (other)
      throw new ConfigError(
        `only one of ${other} or trust_bundle_spiffe_workload_api can be specified, not both`,
      );
  }
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
  if (!insecure && !bundlePath && !bundleUrl && !bundleWorkloadApi) {
    throw new ConfigError(
      atLeast('1.15.3')
        ? 'trust_bundle_path, trust_bundle_url, or trust_bundle_spiffe_workload_api must be configured unless insecure_bootstrap is set'
        : 'trust_bundle_path or trust_bundle_url must be configured unless insecure_bootstrap is set',
    );
  }
  if (bundleUrl)
    throw new ConfigError('the simulator does not fetch trust_bundle_url; use trust_bundle_path');
  if (bundleWorkloadApi) {
    throw new ConfigError(
      'the simulator does not fetch trust_bundle_spiffe_workload_api; use trust_bundle_path',
    );
  }

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
  const { retry, warnings } = retryBootstrap(agent, flags);
  const rebootstrap = str(agent, 'rebootstrap_mode') ?? flags.get('rebootstrapMode') ?? '';
  if (atLeast('1.13.0')) {
    if (!['', 'never', 'auto', 'always'].includes(rebootstrap))
      throw new ConfigError(`unknown rebootstrap mode specified: ${rebootstrap}`);
    const rebootstraps = rebootstrap !== '' && rebootstrap !== 'never';
    if (rebootstraps && insecure)
      throw new ConfigError('insecure_bootstrap option can not be used with rebootstrapping');
    if (rebootstraps && retry.explicit)
      throw new ConfigError('you can not set retry_bootstrap when using reboostrap_mode');
  }
  return {
    dataDir: flags.get('dataDir') ?? str(agent, 'data_dir') ?? '.',
    serverAddress,
    serverPort,
    socketPath: flags.get('socketPath') ?? str(agent, 'socket_path') ?? '/tmp/spire-agent/public/api.sock',
    trustDomain,
    trustBundlePath: bundlePath,
    insecureBootstrap: insecure,
    joinToken: tokenFile ? readTokenFile(tokenFile) : inlineToken,
    retryBootstrap: retry.value,
    warnings,
    logLevel: flags.get('logLevel') ?? str(agent, 'log_level') ?? 'INFO',
    logFormat: flags.get('logFormat') ?? str(agent, 'log_format') ?? '',
    keysDir: disk ? str(disk, 'directory') : undefined,
    keyManager: disk ? 'disk' : 'memory',
    discoverWorkloadPath: bool(unix, 'discover_workload_path'),
    health,
  };
}
