import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../../src/spire/proto.js';
import { handleVersion, parseFlags, SIM_VERSION } from '../common/cli.js';
import { Faults, Stats, startControlServer } from '../common/faults.js';
import { bind } from '../common/grpc.js';
import { startHealth } from '../common/health.js';
import { createLog } from '../common/log.js';
import { describe } from '../common/x509.js';
import { attestWithRetry, bootstrapRoots } from './attest.js';
import { SvidCache } from './cache.js';
import { type AgentConfig, ConfigError, loadAgentConfig } from './config.js';
import { recoverSvid } from './identity.js';
import { KeyStore } from './keys.js';
import { loadAgentData, saveAgentData } from './storage.js';
import { workloadService } from './workload-api.js';

const RUN_FLAGS = [
  'config',
  'dataDir',
  'joinToken',
  'joinTokenFile',
  'logFile',
  'logFormat',
  'logLevel',
  'serverAddress',
  'serverPort',
  'trustDomain',
  'trustBundle',
  'trustBundleUrl',
  'trustBundleFormat',
  'rebootstrapMode',
  'rebootstrapDelay',
  'socketPath',
];
const RUN_BOOLEANS = [
  'allowUnauthenticatedVerifiers',
  'insecureBootstrap',
  'retryBootstrap',
  'expandEnv',
  'logSourceLocation',
];

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function loadConfig(flags: Map<string, string>): AgentConfig {
  try {
    return loadAgentConfig(flags);
  } catch (err) {
    if (err instanceof ConfigError && err.unknown) {
      createLog(undefined, undefined).error('Unknown configuration detected', {
        keys: err.unknown.keys.join(','),
        section: err.unknown.section,
      });
    }
    return fail((err as Error).message);
  }
}

async function run(flags: Map<string, string>): Promise<void> {
  const config = loadConfig(flags);
  const log = createLog(config.logFormat, config.logLevel);
  const faults = new Faults();
  const stats = new Stats();
  await startControlServer(faults, stats);
  faults.armCrash(() => {
    log.error('Agent crashed', { error: 'simulated crash (crashAfterSeconds)' });
    process.exit(2);
  });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  log.info('Starting agent', { data_dir: config.dataDir, version: SIM_VERSION });
  let ready = false;
  const healthServer = await startHealth(config.health, () => ({
    live: true,
    ready,
    checks: {
      agent: ready ? ({} as Record<string, string>) : { make_new_x509_err: 'workload api is unavailable' },
    },
  }));

  const keys = new KeyStore(config.keysDir);
  const data = loadAgentData(config.dataDir);
  let identity = recoverSvid(data, keys, log);
  let bundle = data.bundle;
  const attestor = log.with({ subsystem_name: 'attestor' });
  if (identity) {
    attestor.info('SVID loaded', { spiffe_id: describe(identity.svid[0] as Buffer).spiffeId });
  } else {
    attestor.info('SVID is not found. Starting node attestation');
    try {
      const roots = data.bundle.length ? data.bundle : bootstrapRoots(config, log);
      const done = await attestWithRetry(config, roots, log);
      keys.putAgentKey(done.key);
      saveAgentData(config.dataDir, {
        svid: done.svid,
        bundle: done.bundle,
        reattestable: done.reattestable,
      });
      identity = { svid: done.svid, key: done.key };
      bundle = done.bundle;
      attestor.info('Node attestation was successful', {
        reattestable: done.reattestable,
        spiffe_id: describe(done.svid[0] as Buffer).spiffeId,
      });
    } catch (err) {
      log.error('Agent crashed', { error: (err as Error).message });
      process.exit(1);
    }
  }

  const cache = new SvidCache(config, { ...identity, bundle }, log);
  await cache.start();
  const server = new grpc.Server();
  server.addService(
    services.workload.service,
    workloadService({ cache, discoverWorkloadPath: config.discoverWorkloadPath, log, faults, stats }),
  );
  server.addService(services.health.service, {
    Check: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { status: 'SERVING' }),
  });
  mkdirSync(dirname(config.socketPath), { recursive: true, mode: 0o755 });
  rmSync(config.socketPath, { force: true });
  await bind(server, `unix:${config.socketPath}`, grpc.ServerCredentials.createInsecure());
  log.info('Starting Workload and SDS APIs', {
    address: config.socketPath,
    network: 'unix',
    subsystem_name: 'endpoints',
  });
  ready = true;
  if (healthServer) {
    const h = config.health ?? {};
    log.info('Serving health checks', {
      address: `${h.bind_address ?? 'localhost'}:${h.bind_port ?? '80'}`,
      subsystem_name: 'health',
    });
  }

  const stop = () => {
    log.info('Stopping Workload and SDS APIs', { subsystem_name: 'endpoints' });
    cache.stop();
    server.forceShutdown();
    healthServer?.close();
    rmSync(config.socketPath, { force: true });
    log.info('Agent stopped gracefully');
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function healthcheck(flags: Map<string, string>): Promise<void> {
  const socket = flags.get('socketPath') ?? '/tmp/spire-agent/public/api.sock';
  const client = new services.health(`unix:${socket}`, grpc.credentials.createInsecure());
  try {
    const res = await callUnary<{ status: string }>(
      client,
      'Check',
      {},
      { deadline: new Date(Date.now() + 5000) },
    );
    if (res.status !== 'SERVING') fail(`Agent is unhealthy: agent returned status "${res.status}"`);
    process.stdout.write('Agent is healthy.\n');
  } catch {
    fail('Agent is unhealthy: unable to determine health');
  } finally {
    client.close();
  }
}

async function main(argv: string[]): Promise<void> {
  handleVersion(argv);
  const [command, ...args] = argv;
  try {
    if (command === 'run') return await run(parseFlags(args, RUN_BOOLEANS, RUN_FLAGS).flags);
    if (command === 'healthcheck')
      return await healthcheck(parseFlags(args, ['shallow', 'verbose'], ['socketPath']).flags);
  } catch (err) {
    fail((err as Error).message);
  }
  fail(
    'Usage: spire-agent [--version] <command> [<args>]\n\nAvailable commands are:\n    healthcheck\n    run',
    127,
  );
}

void main(process.argv.slice(2));
