import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
  confPath: string;
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
  /** bind_port; a free port by default. */
  port?: number;
}

/** Writes server.conf and starts `spire-server run`. */
export async function startServer(dir: string, opts: ServerOptions = {}): Promise<SimServer> {
  const td = opts.trustDomain ?? 'example.org';
  mkdirSync(dir, { recursive: true });
  const [port, healthPort] = [opts.port ?? (await freePort()), await freePort()];
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
  const server = {
    dir,
    trustDomain: td,
    port,
    healthPort,
    socket,
    bundlePath: join(dir, 'data', 'bundle.pem'),
    confPath,
  };
  return { ...server, proc: await spawnServer(confPath, opts) };
}

async function spawnServer(confPath: string, opts: ServerOptions): Promise<Proc> {
  const proc = spawnProc(
    opts.name ?? 'spire-server',
    join(SIM_BIN, 'spire-server'),
    ['run', '-config', confPath],
    opts.env,
  );
  if (opts.waitReady !== false) await proc.waitFor(/msg="Starting Server APIs".*network=unix/);
  return proc;
}

/** Stops a server and starts it again with the same server.conf (same ports, data_dir, keys). */
export async function restartServer(server: SimServer, opts: ServerOptions = {}): Promise<SimServer> {
  await server.proc.stop();
  return { ...server, proc: await spawnServer(server.confPath, opts) };
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
  /** server_address; 127.0.0.1 by default. */
  serverAddress?: string;
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
  server_address = "${opts.serverAddress ?? '127.0.0.1'}"
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

export {
  createEntries,
  deleteEntries,
  type EntrySpec,
  joinTokenAgentId,
  type ListedEntry,
  listEntries,
  mintToken,
} from './registration.js';

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
