// Environment overrides: our POLLER_BOOTSTRAP_* names and the shell entrypoint's legacy names (DESIGN §8).

import { parseHostPort } from './checks.js';
import type { Reader } from './decode.js';

export type Env = Readonly<Record<string, string | undefined>>;

type Kind = 'string' | 'int' | 'bool' | 'list';

/** Environment variable → file key; our own names win over the legacy ones, and both over the file. */
export const ENV_OVERRIDES: readonly (readonly [name: string, path: string, kind: Kind])[] = [
  ['POLLER_BOOTSTRAP_TRUST_DOMAIN', 'trust_domain', 'string'],
  ['POLLER_BOOTSTRAP_STATE_DIR', 'state_dir', 'string'],
  ['POLLER_BOOTSTRAP_RUN_DIR', 'run_dir', 'string'],
  ['POLLER_BOOTSTRAP_LOG_LEVEL', 'log_level', 'string'],
  ['POLLER_BOOTSTRAP_SERVER_ADDRESS', 'upstream.server_address', 'string'],
  ['POLLER_BOOTSTRAP_SERVER_PORT', 'upstream.server_port', 'int'],
  ['POLLER_BOOTSTRAP_TRUST_BUNDLE_PATH', 'upstream.trust_bundle_path', 'string'],
  ['POLLER_BOOTSTRAP_INSECURE_BOOTSTRAP', 'upstream.insecure_bootstrap', 'bool'],
  ['POLLER_BOOTSTRAP_ADMIN_API_URL', 'admin_api.url', 'string'],
  ['POLLER_BOOTSTRAP_ADMIN_API_CA_FILE', 'admin_api.ca_file', 'string'],
  ['POLLER_BOOTSTRAP_ADMIN_API_KEY_FILE', 'admin_api.api_key_file', 'string'],
  ['POLLER_BOOTSTRAP_ADMIN_USERNAME', 'admin_api.username', 'string'],
  ['POLLER_BOOTSTRAP_ADMIN_PASSWORD_FILE', 'admin_api.password_file', 'string'],
  ['POLLER_BOOTSTRAP_ADMIN_BEARER_TOKEN_FILE', 'admin_api.bearer_token_file', 'string'],
  ['POLLER_BOOTSTRAP_TOKEN_SOURCES', 'token.sources', 'list'],
  ['POLLER_BOOTSTRAP_TOKEN_FILE', 'token.file', 'string'],
  ['POLLER_BOOTSTRAP_SPIRE_SERVER_SOCKET', 'spire_server.socket_path', 'string'],
  ['POLLER_BOOTSTRAP_SPIRE_VERSION', 'spire.version', 'string'],
  ['POLLER_BOOTSTRAP_HTTP_LISTEN', 'http.listen', 'string'],
  ['POLLER_BOOTSTRAP_WORKLOAD_SOCKET', 'downstream_agent.socket_path', 'string'],
  ['POLLER_BOOTSTRAP_WORKLOAD_SOCKET_GROUP', 'downstream_agent.socket_group', 'string'],
];

export const LEGACY_ENV_OVERRIDES: readonly (readonly [name: string, path: string, kind: Kind])[] = [
  ['NESTED_SPIRE_RUN_DIR', 'run_dir', 'string'],
  ['NESTED_SPIRE_UPSTREAM_JOIN_TOKEN_FILE', 'token.file', 'string'],
  ['NESTED_SPIRE_UPSTREAM_TRUST_BUNDLE_FILE', 'upstream.trust_bundle_path', 'string'],
  ['POLLERS_TRUST_DOMAIN', 'trust_domain', 'string'],
  // The poller's side of the same socket in ServiceRadar's Compose files: daemon and poller then agree.
  ['NESTED_SPIRE_WORKLOAD_SOCKET', 'downstream_agent.socket_path', 'string'],
];

const LEGACY_SERVER_ADDR = 'SPIRE_SERVER_ADDR';

// A value that does not convert stays a string, so the decoder reports it with the expected form.
function convert(text: string, kind: Kind): unknown {
  if (kind === 'int') return /^[+-]?\d+$/.test(text) ? Number(text) : text;
  if (kind === 'bool') {
    const lower = text.toLowerCase();
    if (['true', '1', 'yes'].includes(lower)) return true;
    if (['false', '0', 'no'].includes(lower)) return false;
    return text;
  }
  if (kind === 'list')
    return text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  return text;
}

// Sets a dotted path, creating sections; a section of the wrong type is left for the decoder to report.
function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = root;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) return;
    node = next as Record<string, unknown>;
  }
  node[keys[keys.length - 1] as string] = value;
}

export interface EnvOverlay {
  readonly raw: unknown;
  /** File key → the environment variable its value came from, for error messages. */
  readonly labels: ReadonlyMap<string, string>;
}

/** Applies environment overrides over the parsed file (unset or empty variables are ignored). Pure. */
export function overlayEnv(fileRaw: unknown, env: Env): EnvOverlay {
  const labels = new Map<string, string>();
  if (typeof fileRaw !== 'object' || fileRaw === null || Array.isArray(fileRaw))
    return { raw: fileRaw, labels };
  const raw = structuredClone(fileRaw) as Record<string, unknown>;
  const set = (name: string, path: string, value: unknown): void => {
    setPath(raw, path, value);
    labels.set(path, name);
  };
  for (const [name, path, kind] of LEGACY_ENV_OVERRIDES) {
    const text = env[name];
    if (text) set(name, path, convert(text, kind));
  }
  const addr = env[LEGACY_SERVER_ADDR];
  const hostPort = addr ? parseHostPort(addr) : null;
  if (hostPort) {
    set(LEGACY_SERVER_ADDR, 'upstream.server_address', hostPort.host);
    set(LEGACY_SERVER_ADDR, 'upstream.server_port', hostPort.port);
  }
  for (const [name, path, kind] of ENV_OVERRIDES) {
    const text = env[name];
    if (text) set(name, path, convert(text, kind));
  }
  return { raw, labels };
}

/** Reports environment values that cannot even be split into file keys. */
export function checkEnv(env: Env, reader: Reader): void {
  const addr = env[LEGACY_SERVER_ADDR];
  if (addr && parseHostPort(addr) === null)
    reader.expected(LEGACY_SERVER_ADDR, 'an address "<host>:<port>"', addr);
}
