import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type Proc, SIM_BIN, spawnProc, waitForHttp } from '../sim/launch.js';
import { type SimAdmin, type SimServer, startAdmin, startServer } from '../sim/topology.js';

/** The compiled daemon, run exactly as systemd would run it. */
export const DAEMON = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url)).replace(
  /\/dist\/dist\//,
  '/dist/',
);

// Attestation retries and agent syncs 20x faster than SPIRE's real timings; behaviour is otherwise unchanged.
export const FAST_SIM = ['SIM_TIME_SCALE=0.05'];
export const ADMIN_PASSWORD = 'e2e-admin-password-9f2c';
export const uid = process.getuid?.() ?? 0;

/** A cluster SPIRE server and admin API, and a daemon config pointing at them. */
export interface Env {
  dir: string;
  server: SimServer;
  admin: SimAdmin;
  configPath: string;
  config: Record<string, unknown>;
  httpUrl: string;
}

/** How the simulators themselves start: the admin API's config file and the cluster server's environment. */
export interface SimOptions {
  /** Replaces the admin API's config (one admin user `edge-bootstrap` by default). */
  adminConfig?: Record<string, unknown>;
  /** Added to the cluster server's environment (e.g. SIM_FAULTS). */
  serverEnv?: NodeJS.ProcessEnv;
  /** A running cluster server to enrol into (several pollers, or a broker in front of it); else a new one. */
  cluster?: SimServer;
}

export async function makeEnv(
  dir: string,
  overrides: (c: Record<string, unknown>) => void = () => {},
  adminEnv = {},
  sims: SimOptions = {},
): Promise<Env> {
  mkdirSync(dir, { recursive: true });
  const server =
    sims.cluster ??
    (await startServer(join(dir, 'cluster'), { env: { SIM_TIME_SCALE: '0.05', ...sims.serverEnv } }));
  const admin = await startAdmin(
    join(dir, 'core'),
    server,
    sims.adminConfig ?? {
      users: [{ username: 'edge-bootstrap', password: ADMIN_PASSWORD, roles: ['admin'] }],
    },
    adminEnv,
  );
  const passwordFile = join(dir, 'admin-password');
  writeFileSync(passwordFile, ADMIN_PASSWORD, { mode: 0o600 });
  const [http, nested, h1, h2, h3] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const run = join(dir, 'run');
  const config: Record<string, unknown> = {
    trust_domain: server.trustDomain,
    state_dir: join(dir, 'state'),
    run_dir: run,
    log_level: 'debug',
    upstream: { server_address: '127.0.0.1', server_port: server.port, trust_bundle_path: server.bundlePath },
    upstream_agent: { socket_path: join(run, 'upstream', 'api.sock'), health_port: h1 },
    nested_server: {
      bind_address: '127.0.0.1',
      bind_port: nested,
      socket_path: join(run, 'server', 'api.sock'),
      health_port: h2,
    },
    downstream_agent: { socket_path: join(run, 'downstream', 'api.sock'), health_port: h3 },
    admin_api: { url: admin.url, allow_http: true, username: 'edge-bootstrap', password_file: passwordFile },
    token: { sources: ['file', 'admin-api'], file: join(run, 'upstream-join-token') },
    spire: {
      agent_path: join(SIM_BIN, 'spire-agent'),
      server_path: join(SIM_BIN, 'spire-server'),
      version: '1.13.3',
      child_env: FAST_SIM,
    },
    downstream: {
      spiffe_id: `spiffe://${server.trustDomain}/ns/edge/poller-nested-spire`,
      selectors: [`unix:uid:${uid}`],
    },
    workloads: [
      {
        name: 'poller',
        spiffe_id: `spiffe://${server.trustDomain}/services/poller`,
        selectors: [`unix:uid:${uid}`],
      },
      {
        name: 'agent',
        spiffe_id: `spiffe://${server.trustDomain}/services/agent`,
        selectors: [`unix:uid:${uid}`, 'unix:gid:4242'],
      },
    ],
    http: { listen: `127.0.0.1:${http}` },
  };
  overrides(config);
  const configPath = join(dir, 'poller-bootstrap.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return { dir, server, admin, configPath, config, httpUrl: `http://127.0.0.1:${http}` };
}

/** Starts `poller-bootstrap run --config …` as its own process; `command` replaces `node DAEMON` (packaged). */
export function startDaemon(
  env: Env,
  extraEnv: NodeJS.ProcessEnv = {},
  command: readonly string[] = [process.execPath, DAEMON],
): Proc {
  const [file = process.execPath, ...args] = command;
  return spawnProc('poller-bootstrap', file, [...args, 'run', '--config', env.configPath], extraEnv);
}

/** Waits until /readyz answers 200, failing early if the daemon exits. */
export async function waitReady(env: Env, daemon: Proc, timeoutMs = 45_000): Promise<void> {
  await Promise.race([
    waitForHttp(`${env.httpUrl}/readyz`, 200, timeoutMs),
    daemon.exited.then((e) => {
      throw new Error(`daemon exited (${e.code}) before ready:\n${daemon.lines.slice(-40).join('\n')}`);
    }),
  ]);
}

export async function adminStats(env: Env): Promise<Record<string, number>> {
  return (await (await fetch(`${env.admin.url}/_sim/stats`)).json()) as Record<string, number>;
}

/** Where the leak scan looks for a test's daemon (src: test/e2e/secrets.ts). */
export function leakScan(env: Env, daemon: Proc) {
  return {
    daemon,
    httpUrl: env.httpUrl,
    dir: env.dir,
    written: [env.config.state_dir as string, env.config.run_dir as string],
  };
}
