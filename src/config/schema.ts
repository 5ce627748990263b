// The configuration file's schema: snake_case JSON keys, every field optional until defaults are applied.

import { LOG_LEVELS } from '../observability/log-levels.js';
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
import { annotate, bool, type Decoder, describe, int, list, obj, positiveSeconds, str } from './decode.js';
import {
  DEFAULT_CREDENTIAL_NAME,
  DEFAULT_HTTP_LISTEN,
  DEFAULT_JWT_TTL,
  DEFAULT_PORTS,
  DEFAULT_READY_TIMEOUT_SECONDS,
  DEFAULT_RUN_DIR,
  DEFAULT_SPIRE_SERVER_SOCKET,
  DEFAULT_SPIRE_VERSION,
  DEFAULT_STATE_DIR,
  DEFAULT_X509_TTL,
} from './defaults.js';
import type { FileChild, FileConfig, FileEntry } from './file-config.js';
import type { ConfigTokenSource, LogLevel } from './types.js';

export type { FileChild, FileConfig, FileEntry };

const MAX_PORT = 65535;
// SPIRE keeps TTLs in int32 seconds (types.Entry x509_svid_ttl / jwt_svid_ttl, CreateJoinTokenRequest.ttl).
const MAX_TTL = 2_147_483_647;

const path = str(ABSOLUTE_PATH_CHECK);
const port = int(1, MAX_PORT);
const ttl = int(1, MAX_TTL);
const selectors = list(str(SELECTOR_CHECK), { nonEmpty: true });

function uniqueList<T extends string>(item: Decoder<T>): Decoder<T[]> {
  const decode = list(item, { nonEmpty: true });
  const unique: Decoder<T[]> = (value, at, reader) => {
    const items = decode(value, at, reader);
    if (items && new Set(items).size !== items.length) {
      reader.expected(at, 'a list without repeated names', value);
      return undefined;
    }
    return items;
  };
  return annotate(unique, { ...decode.schema, uniqueItems: true });
}

const childFields = (name: string, healthPort: number) => ({
  socket_path: describe(`The ${name}'s socket (default under run_dir).`, path),
  health_port: describe(`Port of the ${name}'s SPIRE health listener on 127.0.0.1.`, port, healthPort),
  ready_timeout_seconds: describe(
    `How long the ${name} may take from start to ready before it is restarted and lastError says what it waits for.`,
    positiveSeconds,
    DEFAULT_READY_TIMEOUT_SECONDS,
  ),
});

const entryFields = (what: string) => ({
  spiffe_id: describe(`The SPIFFE ID of ${what}.`, str(SPIFFE_ID_CHECK)),
  selectors: describe(
    'Selectors "<type>:<value>", e.g. "unix:uid:0" or "unix:path:/opt/spire/bin/spire-server".',
    selectors,
  ),
  x509_svid_ttl_seconds: describe('Lifetime of its X509-SVIDs.', ttl, DEFAULT_X509_TTL),
  jwt_svid_ttl_seconds: describe('Lifetime of its JWT-SVIDs.', ttl, DEFAULT_JWT_TTL),
});

/** Decodes parsed JSON into the file schema, reporting unknown keys and bad values to the reader. */
export const decodeFile: Decoder<FileConfig> = annotate(
  obj<FileConfig>({
    trust_domain: describe(
      'The trust domain of the cluster SPIRE server (required).',
      str(TRUST_DOMAIN_CHECK),
    ),
    state_dir: describe(
      "Identity data: the agents' SVIDs and keys, the nested server's datastore, the audit trail.",
      path,
      DEFAULT_STATE_DIR,
    ),
    run_dir: describe(
      'Sockets, rendered SPIRE configs and the transient join token files.',
      path,
      DEFAULT_RUN_DIR,
    ),
    log_level: describe(
      'Log level of the daemon and its SPIRE children.',
      str(oneOf(LOG_LEVELS)) as Decoder<LogLevel>,
      'info',
    ),
    identity_safety_margin_seconds: describe(
      'An SVID expiring within this margin is reported as expiring (it is still used; SPIRE rotates it).',
      int(0, 86_400),
      300,
    ),
    upstream: describe(
      'The cluster SPIRE server the upstream agent joins.',
      annotate(
        obj({
          server_address: describe('Its host name or IP address (required).', str(HOST_CHECK)),
          server_port: describe('Its port.', port, DEFAULT_PORTS.upstreamServer),
          trust_bundle_path: describe('Its trust bundle (PEM), required unless insecure_bootstrap.', path),
          insecure_bootstrap: describe(
            'Join without verifying the server on first contact (not recommended).',
            bool,
            false,
          ),
        }),
        { required: ['server_address'] },
      ),
    ),
    upstream_agent: describe(
      'The upstream agent, which joins the cluster with a join token.',
      obj(childFields('upstream agent', DEFAULT_PORTS.upstreamAgentHealth)),
    ),
    nested_server: describe(
      'The nested SPIRE server, whose CA is signed through the upstream agent.',
      obj({
        bind_address: describe('Address the downstream agent reaches it on.', str(HOST_CHECK), '127.0.0.1'),
        bind_port: describe('Its agent port.', port, DEFAULT_PORTS.nestedServer),
        ca_ttl_seconds: describe("Lifetime of its CA (SPIRE ca_ttl; SPIRE's default 24 h when absent).", ttl),
        default_x509_svid_ttl_seconds: describe(
          'Default SVID lifetime (SPIRE default_x509_svid_ttl; 1 h when absent).',
          ttl,
        ),
        ...childFields('nested server', DEFAULT_PORTS.nestedServerHealth),
      }),
    ),
    downstream_agent: describe(
      "The downstream agent, which serves the poller's Workload API.",
      obj({
        ...childFields('downstream agent', DEFAULT_PORTS.downstreamAgentHealth),
        socket_group: describe(
          "Group given access to the Workload API socket's folder (a name or a gid; default the daemon's group).",
          str(GROUP_CHECK),
        ),
      }),
    ),
    admin_api: describe(
      'The admin API that mints join tokens (ServiceRadar core, or poller-bootstrap broker).',
      obj({
        url: describe('Its base URL (https).', str(HTTP_URL_CHECK)),
        ca_file: describe('PEM bundle to verify it with instead of the system CAs.', path),
        allow_http: describe('Allow http:// (the credential then travels in clear text).', bool, false),
        api_key_file: describe('A 0600 file holding an API key.', path),
        username: describe('A user to log in as (with password_file).', str(USERNAME_CHECK)),
        password_file: describe("A 0600 file holding the user's password.", path),
        bearer_token_file: describe('A 0600 file holding a bearer token.', path),
        connect_timeout_seconds: describe('Connection timeout.', positiveSeconds, 5),
        timeout_seconds: describe('Timeout of a whole request.', positiveSeconds, 30),
      }),
    ),
    spire_server: describe(
      "Direct mode: mint tokens through the cluster SPIRE server's admin socket.",
      obj({ socket_path: describe('Its admin socket.', path, DEFAULT_SPIRE_SERVER_SOCKET) }),
    ),
    token: describe(
      'Where join tokens come from, and how many may be used.',
      obj({
        sources: describe(
          'Tried in this order; the default is credentials and file, plus admin-api and spire-server when configured.',
          uniqueList(str(oneOf(CONFIG_TOKEN_SOURCES)) as Decoder<ConfigTokenSource>),
        ),
        credential_name: describe(
          'The systemd credential ($CREDENTIALS_DIRECTORY/<name>).',
          str(CREDENTIAL_NAME_CHECK),
          DEFAULT_CREDENTIAL_NAME,
        ),
        file: describe(
          'The token file (0600): dropped in by an operator, or written by the daemon (default <run_dir>/upstream-join-token).',
          path,
        ),
        ttl_seconds: describe('Lifetime asked for a minted token.', ttl, 900),
        max_per_hour: describe(
          'Tokens acquired or possibly minted per agent in any hour, at most.',
          int(1, 3600),
          6,
        ),
      }),
    ),
    spire: describe(
      'The SPIRE binaries and their release.',
      obj({
        agent_path: describe('spire-agent.', path, '/opt/spire/bin/spire-agent'),
        server_path: describe('spire-server.', path, '/opt/spire/bin/spire-server'),
        version: describe(
          'The SPIRE release the configs are rendered for, or "auto" to ask spire-agent -version.',
          str(VERSION_CHECK),
          DEFAULT_SPIRE_VERSION,
        ),
        child_env: describe(
          'Extra "NAME=value" environment for the SPIRE children (they get only PATH otherwise).',
          list(str(ENV_ASSIGNMENT_CHECK)),
        ),
      }),
    ),
    downstream: describe(
      "The nested server's downstream entry on the cluster server, parented to the upstream agent.",
      obj(entryFields('the nested server')),
    ),
    workloads: describe(
      'The workload entries on the nested server, parented to the downstream agent (default: poller and agent as root).',
      list(
        obj<FileEntry>({ name: describe('A name for it.', str(NAME_CHECK)), ...entryFields('the workload') }),
      ),
    ),
    http: describe(
      '/healthz, /readyz, /status and /metrics.',
      obj({ listen: describe('host:port, loopback only.', str(LISTEN_CHECK), DEFAULT_HTTP_LISTEN) }),
    ),
  }),
  { required: ['trust_domain', 'upstream'] },
);
