// The broker's config file (/etc/serviceradar/join-token-broker.json): snake_case JSON, every key optional
// until defaults are applied, unknown keys rejected. Built from the same decoders as the daemon's config, so
// the JSON Schema generator covers it too.

import {
  ABSOLUTE_PATH_CHECK,
  LISTEN_CHECK,
  NAME_CHECK,
  oneOf,
  TRUST_DOMAIN_CHECK,
} from '../config/checks.js';
import { bool, type Check, type Decoder, int, list, obj, positiveSeconds, str } from '../config/decode.js';
import { LOG_LEVELS, type LogLevel } from '../observability/logger.js';
import { templateProblem } from './templates.js';

export interface BrokerFileTemplate {
  name?: string;
  /** Path template of client_spiffe_id, e.g. "/ns/{name}/poller-agent". */
  client_spiffe_id?: string;
  /** Path template of downstream.spiffe_id, e.g. "/ns/{name}/poller-nested-spire". */
  downstream_spiffe_id?: string;
  /** Selector types the downstream entry may use; default ["unix"]. */
  selector_types?: string[];
  allow_admin?: boolean;
  allow_dns_names?: boolean;
  allow_federates_with?: boolean;
  allow_store_svid?: boolean;
}

export interface BrokerFileConfig {
  trust_domain?: string;
  /** host:port of the HTTPS listener. */
  listen?: string;
  /** Plain HTTP, only on a loopback listen address (tests, a TLS-terminating sidecar on the same host). */
  allow_http?: boolean;
  tls?: { cert_file?: string; key_file?: string };
  log_level?: LogLevel;
  spire?: {
    socket_path?: string;
    timeout_seconds?: number;
    prune_stale?: boolean;
    /** How long after its token's expiry an entry whose agent never attested counts as stale. */
    prune_grace_seconds?: number;
  };
  auth?: {
    users_file?: string;
    api_keys_file?: string;
    jwt_key_file?: string;
    access_token_ttl_seconds?: number;
    refresh_token_ttl_seconds?: number;
  };
  policy?: {
    default_ttl_seconds?: number;
    max_ttl_seconds?: number;
    templates?: BrokerFileTemplate[];
  };
  rate_limit?: { per_caller_per_minute?: number; global_per_minute?: number; global_burst?: number };
  audit?: { file?: string; max_bytes?: number; keep?: number };
}

// SPIRE keeps join token TTLs in int32 seconds (CreateJoinTokenRequest.ttl).
const MAX_TTL = 2_147_483_647;

const TEMPLATE_CHECK: Check<string> = {
  test: (s) => templateProblem(s) === undefined,
  expected:
    'a SPIFFE ID path template such as "/ns/{name}/poller-nested-spire" (whole-segment placeholders, not under /spire)',
};

const SELECTOR_TYPE_CHECK: Check<string> = {
  test: (s) => /^[A-Za-z0-9_-]+$/.test(s),
  expected: 'a selector type such as "unix" (letters, digits, "-" and "_")',
};

const path = str(ABSOLUTE_PATH_CHECK);

/** Decodes parsed JSON into the file schema, reporting unknown keys and bad values to the reader. */
export const decodeBrokerFile: Decoder<BrokerFileConfig> = obj<BrokerFileConfig>({
  trust_domain: str(TRUST_DOMAIN_CHECK),
  listen: str(LISTEN_CHECK),
  allow_http: bool,
  tls: obj({ cert_file: path, key_file: path }),
  log_level: str(oneOf(LOG_LEVELS)) as Decoder<LogLevel>,
  spire: obj({
    socket_path: path,
    timeout_seconds: positiveSeconds,
    prune_stale: bool,
    prune_grace_seconds: int(0, 86_400),
  }),
  auth: obj({
    users_file: path,
    api_keys_file: path,
    jwt_key_file: path,
    access_token_ttl_seconds: int(60, 86_400),
    refresh_token_ttl_seconds: int(60, 30 * 86_400),
  }),
  policy: obj({
    default_ttl_seconds: int(1, MAX_TTL),
    max_ttl_seconds: int(1, MAX_TTL),
    templates: list(
      obj<BrokerFileTemplate>({
        name: str(NAME_CHECK),
        client_spiffe_id: str(TEMPLATE_CHECK),
        downstream_spiffe_id: str(TEMPLATE_CHECK),
        selector_types: list(str(SELECTOR_TYPE_CHECK), { nonEmpty: true }),
        allow_admin: bool,
        allow_dns_names: bool,
        allow_federates_with: bool,
        allow_store_svid: bool,
      }),
      { nonEmpty: true },
    ),
  }),
  rate_limit: obj({
    per_caller_per_minute: int(1, 10_000),
    global_per_minute: int(1, 100_000),
    global_burst: int(1, 100_000),
  }),
  audit: obj({ file: path, max_bytes: int(4096, 1024 ** 3), keep: int(0, 100) }),
});
