// The configuration file as written: snake_case JSON keys, every field optional until defaults are applied.

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
