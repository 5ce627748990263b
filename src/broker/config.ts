// The broker's runtime configuration: loaded once from the file, defaults filled in, cross-checked, frozen.

import { readFile } from 'node:fs/promises';
import { parseHostPort } from '../config/checks.js';
import { Reader } from '../config/decode.js';
import { DEFAULT_SPIRE_SERVER_SOCKET } from '../config/defaults.js';
import { ConfigError } from '../config/errors.js';
import { isLoopbackHost } from '../observability/http.js';
import type { LogLevel } from '../observability/logger.js';
import { DEFAULT_PRUNE_GRACE_SECONDS } from '../spire/stale-entries.js';
import { type BrokerFileConfig, decodeBrokerFile } from './config-schema.js';
import { compileTemplate, type PathTemplate } from './templates.js';

export const DEFAULT_BROKER_LISTEN = '0.0.0.0:8443';
export const DEFAULT_BROKER_AUDIT_FILE = '/var/lib/serviceradar/join-token-broker/audit.jsonl';
/** The plan's policy defaults (DESIGN §9): tokens live 10 minutes unless asked otherwise, never beyond a day. */
export const DEFAULT_TTL_SECONDS = 600;
export const DEFAULT_MAX_TTL_SECONDS = 86_400;
export const DEFAULT_PER_CALLER_PER_MINUTE = 10;
export const DEFAULT_GLOBAL_PER_MINUTE = 60;

export interface Template {
  readonly name: string;
  readonly client: PathTemplate | null;
  readonly downstream: PathTemplate | null;
  readonly selectorTypes: readonly string[];
  readonly allowAdmin: boolean;
  readonly allowDnsNames: boolean;
  readonly allowFederatesWith: boolean;
  readonly allowStoreSvid: boolean;
}

export interface BrokerConfig {
  readonly trustDomain: string;
  readonly listen: { readonly host: string; readonly port: number };
  /** Null only for plain HTTP on loopback (allow_http). */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | null;
  readonly logLevel: LogLevel;
  readonly spire: {
    readonly socketPath: string;
    readonly timeoutMs: number;
    readonly pruneStale: boolean;
    readonly pruneGraceSeconds: number;
  };
  readonly auth: {
    readonly usersFile: string | null;
    readonly apiKeysFile: string | null;
    readonly jwtKeyFile: string | null;
    readonly accessTtlSeconds: number;
    readonly refreshTtlSeconds: number;
  };
  readonly policy: {
    readonly defaultTtlSeconds: number;
    readonly maxTtlSeconds: number;
    readonly templates: readonly Template[];
  };
  readonly rateLimit: {
    readonly perCallerPerMinute: number;
    readonly globalPerMinute: number;
    /** Join tokens the global bucket admits at once when full; by default a minute's worth. */
    readonly globalBurst: number;
  };
  readonly audit: { readonly file: string; readonly maxBytes: number; readonly keep: number };
}

function crossCheck(file: BrokerFileConfig, reader: Reader): void {
  if (file.trust_domain === undefined && !reader.reported('trust_domain')) {
    reader.expected('trust_domain', 'the SPIRE server\'s trust domain, e.g. "example.org"', undefined);
  }
  const listen = parseHostPort(file.listen ?? DEFAULT_BROKER_LISTEN);
  const tls = file.tls;
  if (tls && (tls.cert_file === undefined) !== (tls.key_file === undefined) && !reader.reported('tls')) {
    const missing = tls.cert_file === undefined ? 'tls.cert_file' : 'tls.key_file';
    reader.expected(missing, 'a PEM file, given together with the other tls key', undefined);
  }
  if (file.allow_http) {
    if (listen && !isLoopbackHost(listen.host)) {
      reader.expected(
        'listen',
        'a loopback address when allow_http is true (plain HTTP carries credentials)',
        file.listen,
      );
    }
  } else if (!tls?.cert_file && !reader.reported('tls')) {
    reader.expected(
      'tls',
      'cert_file and key_file (HTTPS), or allow_http true with a loopback listen address',
      tls,
    );
  }
  const auth = file.auth ?? {};
  if (auth.users_file === undefined && auth.api_keys_file === undefined && !reader.reported('auth')) {
    reader.expected('auth', 'users_file and/or api_keys_file: nobody could authenticate', file.auth);
  }
  if (auth.users_file !== undefined && auth.jwt_key_file === undefined && !reader.reported('auth')) {
    reader.expected(
      'auth.jwt_key_file',
      'the JWT signing key (PEM) when users_file allows logins',
      undefined,
    );
  }
  const policy = file.policy ?? {};
  const max = policy.max_ttl_seconds ?? DEFAULT_MAX_TTL_SECONDS;
  if ((policy.default_ttl_seconds ?? DEFAULT_TTL_SECONDS) > max && !reader.reported('policy')) {
    reader.expected(
      'policy.default_ttl_seconds',
      `at most policy.max_ttl_seconds (${max})`,
      policy.default_ttl_seconds,
    );
  }
  if (policy.templates === undefined && !reader.reported('policy.templates')) {
    reader.expected('policy.templates', 'a non-empty list: no request could match a template', undefined);
  }
  const names = new Set<string>();
  for (const [i, t] of (policy.templates ?? []).entries()) {
    const at = `policy.templates[${i}]`;
    if (t.name === undefined && !reader.reported(`${at}.name`))
      reader.expected(`${at}.name`, 'a name', undefined);
    else if (t.name !== undefined && names.has(t.name))
      reader.expected(`${at}.name`, 'a name no other template has', t.name);
    if (t.name !== undefined) names.add(t.name);
    if (t.client_spiffe_id === undefined && t.downstream_spiffe_id === undefined && !reader.reported(at)) {
      reader.expected(at, 'client_spiffe_id and/or downstream_spiffe_id', t);
    }
  }
}

function fillDefaults(file: BrokerFileConfig): BrokerConfig {
  const listen = parseHostPort(file.listen ?? DEFAULT_BROKER_LISTEN) ?? { host: '0.0.0.0', port: 8443 };
  const auth = file.auth ?? {};
  const policy = file.policy ?? {};
  return {
    trustDomain: file.trust_domain ?? '',
    listen,
    tls:
      file.tls?.cert_file && file.tls.key_file
        ? { certFile: file.tls.cert_file, keyFile: file.tls.key_file }
        : null,
    logLevel: file.log_level ?? 'info',
    spire: {
      socketPath: file.spire?.socket_path ?? DEFAULT_SPIRE_SERVER_SOCKET,
      timeoutMs: Math.round((file.spire?.timeout_seconds ?? 10) * 1000),
      pruneStale: file.spire?.prune_stale ?? false,
      pruneGraceSeconds: file.spire?.prune_grace_seconds ?? DEFAULT_PRUNE_GRACE_SECONDS,
    },
    auth: {
      usersFile: auth.users_file ?? null,
      apiKeysFile: auth.api_keys_file ?? null,
      jwtKeyFile: auth.jwt_key_file ?? null,
      accessTtlSeconds: auth.access_token_ttl_seconds ?? 900,
      refreshTtlSeconds: auth.refresh_token_ttl_seconds ?? 86_400,
    },
    policy: {
      defaultTtlSeconds: policy.default_ttl_seconds ?? DEFAULT_TTL_SECONDS,
      maxTtlSeconds: policy.max_ttl_seconds ?? DEFAULT_MAX_TTL_SECONDS,
      templates: (policy.templates ?? []).map((t) => ({
        name: t.name ?? '',
        client: t.client_spiffe_id ? compileTemplate(t.client_spiffe_id) : null,
        downstream: t.downstream_spiffe_id ? compileTemplate(t.downstream_spiffe_id) : null,
        selectorTypes: t.selector_types ?? ['unix'],
        allowAdmin: t.allow_admin ?? false,
        allowDnsNames: t.allow_dns_names ?? false,
        allowFederatesWith: t.allow_federates_with ?? false,
        allowStoreSvid: t.allow_store_svid ?? false,
      })),
    },
    rateLimit: {
      perCallerPerMinute: file.rate_limit?.per_caller_per_minute ?? DEFAULT_PER_CALLER_PER_MINUTE,
      globalPerMinute: file.rate_limit?.global_per_minute ?? DEFAULT_GLOBAL_PER_MINUTE,
      globalBurst:
        file.rate_limit?.global_burst ?? file.rate_limit?.global_per_minute ?? DEFAULT_GLOBAL_PER_MINUTE,
    },
    audit: {
      file: file.audit?.file ?? DEFAULT_BROKER_AUDIT_FILE,
      maxBytes: file.audit?.max_bytes ?? 1024 * 1024,
      keep: file.audit?.keep ?? 5,
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Builds the frozen config from parsed JSON; throws ConfigError listing every problem. */
export function parseBrokerConfig(raw: unknown, source: string | null = null): BrokerConfig {
  const reader = new Reader();
  const file = decodeBrokerFile(raw, '', reader) ?? {};
  crossCheck(file, reader);
  const issues = reader.issues();
  if (issues.length > 0) throw new ConfigError(source, issues);
  return deepFreeze(fillDefaults(file));
}

/** Reads and parses the config file; a missing file or a JSON syntax error is a ConfigError naming it. */
export async function loadBrokerConfig(path: string): Promise<BrokerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : (code ?? String(error));
    throw new ConfigError(path, [{ key: path, message: `${path}: cannot read the file (${reason})` }]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(path, [
      { key: path, message: `${path}: expected JSON, got a syntax error: ${reason}` },
    ]);
  }
  return parseBrokerConfig(raw, path);
}
