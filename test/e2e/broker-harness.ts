// The real `poller-bootstrap broker` process in front of a simulated cluster SPIRE server (its admin socket), with
// its users, API keys, signing key and config written as an operator would.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey, hashPassword } from '../../src/broker/hash.js';
import { selfSignedCert } from '../fixtures/tls.js';
import { freePort, type Proc, spawnProc } from '../sim/launch.js';
import { type SimServer, startServer } from '../sim/topology.js';
import { DAEMON } from './harness.js';

export const BROKER_PASSWORD = 'broker-e2e-password-5d1e';
export const VIEWER_PASSWORD = 'broker-e2e-viewer-password-77a0';
/** API keys by name: `admin-key` has the admin role, `viewer-key` the viewer role. */
export const API_KEYS = {
  'admin-key': 'k-admin-0f3b9c2e7d4a61580f3b9c2e7d4a6158',
  'viewer-key': 'k-viewer-9a8b7c6d5e4f30219a8b7c6d5e4f3021',
} as const;

export const DOWNSTREAM_TEMPLATE = '/ns/{name}/poller-nested-spire';

export interface Broker {
  proc: Proc;
  url: string;
  server: SimServer;
  dir: string;
  configPath: string;
  auditPath: string;
  jwtKeyPath: string;
  /** CA file for an HTTPS broker (its own self-signed certificate). */
  caFile: string | undefined;
  /** Join tokens the cluster server created so far. */
  tokensMinted(): Promise<number>;
  audit(): Record<string, unknown>[];
}

export interface BrokerOptions {
  /** Extra or replaced top-level config keys (deep keys are replaced whole). */
  config?: Record<string, unknown>;
  https?: boolean;
  /** Reuse a running cluster server (its control port must have been given by startClusterServer). */
  server?: { server: SimServer; controlPort: number };
}

/** A cluster SPIRE server with its control endpoint, for counting the tokens it mints. */
export async function startClusterServer(dir: string): Promise<{ server: SimServer; controlPort: number }> {
  const controlPort = await freePort();
  const server = await startServer(join(dir, 'cluster'), {
    env: { SIM_TIME_SCALE: '0.05', SIM_CONTROL_PORT: String(controlPort) },
  });
  return { server, controlPort };
}

/** Writes the broker's files and starts it; resolves once it serves. */
export async function startBroker(dir: string, options: BrokerOptions = {}): Promise<Broker> {
  mkdirSync(dir, { recursive: true });
  const cluster = options.server ?? (await startClusterServer(dir));
  const { server } = cluster;
  const jwtKeyPath = join(dir, 'jwt.key');
  // As docs/broker.md has the operator make it.
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', jwtKeyPath], { stdio: 'ignore' });
  chmodSync(jwtKeyPath, 0o600);
  const usersFile = join(dir, 'users.json');
  const users = [
    { name: 'edge-bootstrap', password_hash: await hashPassword(BROKER_PASSWORD), role: 'admin' },
    { name: 'auditor', password_hash: await hashPassword(VIEWER_PASSWORD), role: 'viewer' },
  ];
  writeFileSync(usersFile, JSON.stringify({ users }), { mode: 0o600 });
  const apiKeysFile = join(dir, 'api-keys.json');
  const apiKeys = [
    { name: 'admin-key', hash: hashApiKey(API_KEYS['admin-key']), role: 'admin', templates: ['poller'] },
    { name: 'viewer-key', hash: hashApiKey(API_KEYS['viewer-key']), role: 'viewer' },
  ];
  writeFileSync(apiKeysFile, JSON.stringify({ api_keys: apiKeys }), { mode: 0o600 });
  const port = await freePort();
  const auditPath = join(dir, 'state', 'audit.jsonl');
  const tls = options.https ? selfSignedCert(dir, 'join-token-broker') : undefined;
  const config: Record<string, unknown> = {
    trust_domain: server.trustDomain,
    listen: `127.0.0.1:${port}`,
    ...(tls ? { tls: { cert_file: tls.cert, key_file: tls.key } } : { allow_http: true }),
    log_level: 'debug',
    spire: { socket_path: server.socket },
    auth: { users_file: usersFile, api_keys_file: apiKeysFile, jwt_key_file: jwtKeyPath },
    policy: {
      templates: [
        {
          name: 'poller',
          client_spiffe_id: '/ns/{name}/poller-agent',
          downstream_spiffe_id: DOWNSTREAM_TEMPLATE,
        },
        { name: 'gateway', downstream_spiffe_id: '/gateways/{name}', allow_dns_names: true },
      ],
    },
    audit: { file: auditPath },
    ...options.config,
  };
  const configPath = join(dir, 'join-token-broker.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const proc = spawnProc('broker', process.execPath, [DAEMON, 'broker', '--config', configPath]);
  const line = await proc.waitFor(/"msg":"join-token broker serving"/);
  const url = (JSON.parse(line) as { url: string }).url;
  return {
    proc,
    url,
    server,
    dir,
    configPath,
    auditPath,
    jwtKeyPath,
    caFile: tls?.cert,
    async tokensMinted() {
      const stats = (await (await fetch(`http://127.0.0.1:${cluster.controlPort}/stats`)).json()) as Record<
        string,
        number
      >;
      return stats.join_tokens_created ?? 0;
    },
    audit() {
      try {
        return readFileSync(auditPath, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      } catch {
        return [];
      }
    },
  };
}

/** A downstream request body as the daemon sends it, for the site `name`. */
export function downstreamRequest(td: string, name: string, extra: Record<string, unknown> = {}) {
  return {
    ttl_seconds: 600,
    register_downstream: true,
    downstream: {
      spiffe_id: `spiffe://${td}/ns/${name}/poller-nested-spire`,
      selectors: ['unix:uid:0'],
      ...extra,
    },
  };
}

/** POSTs JSON to the broker (plain HTTP); returns status, headers and the parsed body. */
export async function post(
  broker: Broker,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${broker.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json, text };
}

/** Logs in as `username` and returns the access token. */
export async function login(broker: Broker, username: string, password: string): Promise<string> {
  const res = await post(broker, '/auth/login', { username, password });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${res.text}`);
  return res.json.access_token as string;
}
