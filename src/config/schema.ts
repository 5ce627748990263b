// The configuration file's schema: snake_case JSON keys, every field optional until defaults are applied.

import { LOG_LEVELS } from '../observability/logger.js';
import { CONFIG_TOKEN_SOURCES } from '../token/errors.js';
import {
  ABSOLUTE_PATH_CHECK,
  CREDENTIAL_NAME_CHECK,
  ENV_ASSIGNMENT_CHECK,
  GROUP_CHECK,
  HOST_CHECK,
  HTTP_URL_CHECK,
  LISTEN_CHECK,
  NAME_CHECK,
  oneOf,
  SELECTOR_CHECK,
  SPIFFE_ID_CHECK,
  TRUST_DOMAIN_CHECK,
  USERNAME_CHECK,
  VERSION_CHECK,
} from './checks.js';
import { bool, type Decoder, int, list, obj, positiveSeconds, str } from './decode.js';
import type { ConfigTokenSource, LogLevel } from './types.js';

export interface FileEntry {
  name?: string;
  spiffe_id?: string;
  selectors?: string[];
  x509_svid_ttl_seconds?: number;
  jwt_svid_ttl_seconds?: number;
}

export interface FileChild {
  socket_path?: string;
  health_port?: number;
  ready_timeout_seconds?: number;
}

export interface FileConfig {
  trust_domain?: string;
  state_dir?: string;
  run_dir?: string;
  log_level?: LogLevel;
  identity_safety_margin_seconds?: number;
  upstream?: {
    server_address?: string;
    server_port?: number;
    trust_bundle_path?: string;
    insecure_bootstrap?: boolean;
  };
  upstream_agent?: FileChild;
  nested_server?: FileChild & {
    bind_address?: string;
    bind_port?: number;
    ca_ttl_seconds?: number;
    default_x509_svid_ttl_seconds?: number;
  };
  /** socket_group: who may reach the Workload API socket's folder (a group name or a numeric gid). */
  downstream_agent?: FileChild & { socket_group?: string };
  admin_api?: {
    url?: string;
    ca_file?: string;
    allow_http?: boolean;
    api_key_file?: string;
    username?: string;
    password_file?: string;
    bearer_token_file?: string;
    connect_timeout_seconds?: number;
    timeout_seconds?: number;
  };
  spire_server?: { socket_path?: string };
  token?: {
    sources?: ConfigTokenSource[];
    credential_name?: string;
    file?: string;
    ttl_seconds?: number;
    max_per_hour?: number;
  };
  /** child_env: extra "NAME=value" variables for the SPIRE children, whose environment is otherwise only PATH. */
  spire?: { agent_path?: string; server_path?: string; version?: string; child_env?: string[] };
  downstream?: Omit<FileEntry, 'name'>;
  workloads?: FileEntry[];
  http?: { listen?: string };
}

const MAX_PORT = 65535;
// SPIRE keeps TTLs in int32 seconds (types.Entry x509_svid_ttl / jwt_svid_ttl, CreateJoinTokenRequest.ttl).
const MAX_TTL = 2_147_483_647;

const path = str(ABSOLUTE_PATH_CHECK);
const port = int(1, MAX_PORT);
const ttl = int(1, MAX_TTL);
const selectors = list(str(SELECTOR_CHECK), { nonEmpty: true });

function uniqueList<T extends string>(item: Decoder<T>): Decoder<T[]> {
  const decode = list(item, { nonEmpty: true });
  return (value, at, reader) => {
    const items = decode(value, at, reader);
    if (items && new Set(items).size !== items.length) {
      reader.expected(at, 'a list without repeated names', value);
      return undefined;
    }
    return items;
  };
}

const childFields = { socket_path: path, health_port: port, ready_timeout_seconds: positiveSeconds };

const entryFields = {
  spiffe_id: str(SPIFFE_ID_CHECK),
  selectors,
  x509_svid_ttl_seconds: ttl,
  jwt_svid_ttl_seconds: ttl,
};

/** Decodes parsed JSON into the file schema, reporting unknown keys and bad values to the reader. */
export const decodeFile: Decoder<FileConfig> = obj<FileConfig>({
  trust_domain: str(TRUST_DOMAIN_CHECK),
  state_dir: path,
  run_dir: path,
  log_level: str(oneOf(LOG_LEVELS)) as Decoder<LogLevel>,
  identity_safety_margin_seconds: int(0, 86_400),
  upstream: obj({
    server_address: str(HOST_CHECK),
    server_port: port,
    trust_bundle_path: path,
    insecure_bootstrap: bool,
  }),
  upstream_agent: obj(childFields),
  nested_server: obj({
    bind_address: str(HOST_CHECK),
    bind_port: port,
    ca_ttl_seconds: ttl,
    default_x509_svid_ttl_seconds: ttl,
    ...childFields,
  }),
  downstream_agent: obj({ ...childFields, socket_group: str(GROUP_CHECK) }),
  admin_api: obj({
    url: str(HTTP_URL_CHECK),
    ca_file: path,
    allow_http: bool,
    api_key_file: path,
    username: str(USERNAME_CHECK),
    password_file: path,
    bearer_token_file: path,
    connect_timeout_seconds: positiveSeconds,
    timeout_seconds: positiveSeconds,
  }),
  spire_server: obj({ socket_path: path }),
  token: obj({
    sources: uniqueList(str(oneOf(CONFIG_TOKEN_SOURCES)) as Decoder<ConfigTokenSource>),
    credential_name: str(CREDENTIAL_NAME_CHECK),
    file: path,
    ttl_seconds: ttl,
    max_per_hour: int(1, 3600),
  }),
  spire: obj({
    agent_path: path,
    server_path: path,
    version: str(VERSION_CHECK),
    child_env: list(str(ENV_ASSIGNMENT_CHECK)),
  }),
  downstream: obj(entryFields),
  workloads: list(obj<FileEntry>({ name: str(NAME_CHECK), ...entryFields })),
  http: obj({ listen: str(LISTEN_CHECK) }),
});
