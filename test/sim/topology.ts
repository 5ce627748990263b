import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../src/spire/proto.js';
import { freePort, type Proc, SIM_BIN, spawnProc, waitForHttp } from './launch.js';

/** A simulated SPIRE server started in a folder of its own. */
export interface SimServer {
  proc: Proc;
  dir: string;
  trustDomain: string;
  port: number;
  healthPort: number;
  socket: string;
  /** PEM roots the server wrote at start (what `spire-server bundle show` prints). */
  bundlePath: string;
}

export interface ServerOptions {
  name?: string;
  trustDomain?: string;
  env?: NodeJS.ProcessEnv;
  keyManager?: 'disk' | 'memory';
  /** Nested role: UpstreamAuthority "spire" through this agent's Workload API. */
  upstream?: { server: SimServer; workloadSocket: string };
  extraServerHcl?: string;
  /** Resolve once both API listeners are up (default), or right after spawning. */
  waitReady?: boolean;
}

/** Writes server.conf and starts `spire-server run`. */
export async function startServer(dir: string, opts: ServerOptions = {}): Promise<SimServer> {
  const td = opts.trustDomain ?? 'example.org';
  mkdirSync(dir, { recursive: true });
  const [port, healthPort] = [await freePort(), await freePort()];
  const socket = join(dir, 'api.sock');
  const km =
    opts.keyManager === 'memory'
      ? 'KeyManager "memory" { plugin_data {} }'
      : `KeyManager "disk" { plugin_data { keys_path = "${join(dir, 'data', 'keys.json')}" } }`;
  const upstream = opts.upstream
    ? `UpstreamAuthority "spire" { plugin_data {
    server_address = "127.0.0.1"
    server_port = "${opts.upstream.server.port}"
    workload_api_socket = "${opts.upstream.workloadSocket}"
  } }`
    : '';
  const conf = `server {
  bind_address = "127.0.0.1"
  bind_port = "${port}"
  socket_path = "${socket}"
  trust_domain = "${td}"
  data_dir = "${join(dir, 'data')}"
  log_level = "DEBUG"
  ${opts.extraServerHcl ?? ''}
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "${join(dir, 'data', 'datastore.sqlite3')}" } }
  ${km}
  NodeAttestor "join_token" { plugin_data {} }
  ${upstream}
}
health_checks {
  listener_enabled = true
  bind_address = "127.0.0.1"
  bind_port = "${healthPort}"
}
`;
  const confPath = join(dir, 'server.conf');
  writeFileSync(confPath, conf);
  const proc = spawnProc(
    opts.name ?? 'spire-server',
    join(SIM_BIN, 'spire-server'),
    ['run', '-config', confPath],
    opts.env,
  );
  if (opts.waitReady !== false) await proc.waitFor(/msg="Starting Server APIs".*network=unix/);
  return {
    proc,
    dir,
    trustDomain: td,
    port,
    healthPort,
    socket,
    bundlePath: join(dir, 'data', 'bundle.pem'),
  };
}

/** A simulated SPIRE agent. */
export interface SimAgent {
  proc: Proc;
  dir: string;
  socket: string;
  healthPort: number;
  confPath: string;
}

export interface AgentOptions {
  name?: string;
  keyManager?: 'disk' | 'memory';
  /** Passed as `-joinToken` (tests of the simulator only; the daemon never puts a token in argv). */
  joinToken?: string;
  joinTokenFile?: string;
  insecureBootstrap?: boolean;
  discoverWorkloadPath?: boolean;
  env?: NodeJS.ProcessEnv;
  extraAgentHcl?: string;
  /** Resolve once /ready answers 200 (default), or right after spawning. */
  waitReady?: boolean;
  healthPort?: number;
}

/** Writes agent.conf for `server` and starts `spire-agent run`. */
export async function startAgent(dir: string, server: SimServer, opts: AgentOptions = {}): Promise<SimAgent> {
  mkdirSync(dir, { recursive: true });
  const healthPort = opts.healthPort ?? (await freePort());
  const socket = join(dir, 'agent.sock');
  const km =
    opts.keyManager === 'memory'
      ? 'KeyManager "memory" { plugin_data {} }'
      : `KeyManager "disk" { plugin_data { directory = "${join(dir, 'data')}" } }`;
  const trust = opts.insecureBootstrap
    ? 'insecure_bootstrap = true'
    : `trust_bundle_path = "${server.bundlePath}"`;
  const conf = `agent {
  data_dir = "${join(dir, 'data')}"
  server_address = "127.0.0.1"
  server_port = ${server.port}
  socket_path = "${socket}"
  trust_domain = "${server.trustDomain}"
  ${trust}
  ${opts.joinTokenFile ? `join_token_file = "${opts.joinTokenFile}"` : ''}
  ${opts.extraAgentHcl ?? ''}
}
plugins {
  NodeAttestor "join_token" { plugin_data {} }
  ${km}
  WorkloadAttestor "unix" { plugin_data { discover_workload_path = ${opts.discoverWorkloadPath ? 'true' : 'false'} } }
}
health_checks {
  listener_enabled = true
  bind_address = "127.0.0.1"
  bind_port = "${healthPort}"
}
`;
  const confPath = join(dir, 'agent.conf');
  writeFileSync(confPath, conf);
  const args = ['run', '-config', confPath];
  if (opts.joinToken) args.push('-joinToken', opts.joinToken);
  const proc = spawnProc(opts.name ?? 'spire-agent', join(SIM_BIN, 'spire-agent'), args, opts.env);
  if (opts.waitReady !== false) {
    await Promise.race([
      waitForHttp(`http://127.0.0.1:${healthPort}/ready`),
      proc.exited.then(() => {
        throw new Error(`${proc.name} exited before ready:\n${proc.lines.join('\n')}`);
      }),
    ]);
  }
  return { proc, dir, socket, healthPort, confPath };
}

function adminClients(socket: string) {
  const creds = grpc.credentials.createInsecure();
  return {
    agent: new services.agent(`unix:${socket}`, creds),
    entry: new services.entry(`unix:${socket}`, creds),
  };
}

/** Mints a join token through the server's admin socket, as `spire-server token generate` does. */
export async function mintToken(
  server: SimServer,
  ttl = 600,
  agentId?: string,
): Promise<{ value: string; expires_at: number }> {
  const { agent, entry } = adminClients(server.socket);
  try {
    const agent_id = agentId
      ? { trust_domain: server.trustDomain, path: new URL(agentId).pathname }
      : undefined;
    return await callUnary(agent, 'CreateJoinToken', { ttl, agent_id });
  } finally {
    agent.close();
    entry.close();
  }
}

export interface EntrySpec {
  spiffeId: string;
  parentId: string;
  selectors: string[];
  downstream?: boolean;
  x509SvidTtl?: number;
}

const idMsg = (id: string) => {
  const u = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(id);
  return { trust_domain: u?.[1] ?? '', path: u?.[2] ?? '' };
};

/** BatchCreateEntry through the admin socket; returns each result's status code and entry id. */
export async function createEntries(
  server: SimServer,
  specs: EntrySpec[],
): Promise<{ code: number; id: string }[]> {
  const { agent, entry } = adminClients(server.socket);
  try {
    const entries = specs.map((s) => ({
      spiffe_id: idMsg(s.spiffeId),
      parent_id: idMsg(s.parentId),
      selectors: s.selectors.map((x) => {
        const i = x.indexOf(':');
        return { type: x.slice(0, i), value: x.slice(i + 1) };
      }),
      downstream: Boolean(s.downstream),
      x509_svid_ttl: s.x509SvidTtl ?? 0,
    }));
    const res = await callUnary<{ results: { status: { code: number }; entry: { id: string } | null }[] }>(
      entry,
      'BatchCreateEntry',
      { entries },
    );
    return res.results.map((r) => ({ code: r.status.code, id: r.entry?.id ?? '' }));
  } finally {
    agent.close();
    entry.close();
  }
}

export const joinTokenAgentId = (server: SimServer, token: string) =>
  `spiffe://${server.trustDomain}/spire/agent/join_token/${token}`;

/** The simulated ServiceRadar core admin API, in front of a simulated cluster server. */
export interface SimAdmin {
  proc: Proc;
  url: string;
}

/** Writes the admin API's config and starts `serviceradar-core`, resolving with its URL. */
export async function startAdmin(
  dir: string,
  server: SimServer,
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): Promise<SimAdmin> {
  mkdirSync(dir, { recursive: true });
  const confPath = join(dir, 'admin.json');
  writeFileSync(confPath, JSON.stringify(config), { mode: 0o600 });
  const proc = spawnProc(
    'serviceradar-core',
    join(SIM_BIN, 'serviceradar-core'),
    [
      '--listen',
      '127.0.0.1:0',
      '--config',
      confPath,
      '--spire-socket',
      server.socket,
      '--trust-domain',
      server.trustDomain,
    ],
    env,
  );
  const line = await proc.waitFor(/"msg":"listening"/);
  return { proc, url: (JSON.parse(line) as { url: string }).url };
}
