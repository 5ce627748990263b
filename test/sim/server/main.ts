import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../../src/spire/proto.js';
import { handleVersion, parseFlags } from '../common/cli.js';
import { Faults, Stats, startControlServer } from '../common/faults.js';
import { bind, rpcError } from '../common/grpc.js';
import { startHealth } from '../common/health.js';
import { createLog } from '../common/log.js';
import { spiffeServerCredentials } from '../common/tls.js';
import { toPem } from '../common/x509.js';
import { agentService } from './agent-api.js';
import { type CaState, loadOrCreateCA, rootCA } from './ca.js';
import { ConfigError, loadServerConfig, type ServerConfig } from './config.js';
import { DataStore } from './datastore.js';
import { entryService } from './entry-api.js';
import { authorizedFor, bundleService, svidService } from './svid-api.js';
import { upstreamCA } from './upstream.js';

const usage =
  'Usage: spire-server [--version] <command> [<args>]\n\nAvailable commands are:\n    bundle show\n    healthcheck\n    run\n';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function loadConfig(flags: Map<string, string>): ServerConfig {
  const path = flags.get('config') ?? 'conf/server/server.conf';
  try {
    const config = loadServerConfig(path);
    if (flags.has('serverPort')) config.bindPort = Number(flags.get('serverPort'));
    if (flags.has('socketPath')) config.socketPath = flags.get('socketPath') as string;
    return config;
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

const READY_CHECKS = { 'catalog.datastore': {}, server: {}, 'server.ca': {}, 'server.ca.rotator': {} };

const health: grpc.UntypedServiceImplementation = {
  Check: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { status: 'SERVING' }),
};

async function run(flags: Map<string, string>): Promise<void> {
  const config = loadConfig(flags);
  const log = createLog(config.logFormat, config.logLevel);
  const faults = new Faults();
  const stats = new Stats();
  await startControlServer(faults, stats);
  faults.armCrash(() => {
    log.error('Server crashed', { error: 'simulated crash (crashAfterSeconds)' });
    process.exit(2);
  });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  log.info('Starting server', {
    data_dir: config.dataDir,
    version: process.env.SPIRE_SIM_VERSION ?? '1.13.3',
  });
  let ready = false;
  const healthServer = await startHealth(config.health, () => ({
    live: true,
    ready,
    checks: ready ? READY_CHECKS : {},
  }));
  if (healthServer)
    log.info('Serving health checks', {
      address: `${config.health?.bind_address ?? 'localhost'}:${config.health?.bind_port ?? '80'}`,
      subsystem_name: 'health',
    });

  const store = new DataStore(config.datastorePath);
  let ca: CaState;
  try {
    // A nested server always asks upstream for a fresh intermediate at start (see the simulator notes).
    const up = config.upstream;
    ca = up
      ? await loadOrCreateCA({ ...config, keysPath: undefined }, () => upstreamCA(config, up, log))
      : await loadOrCreateCA(config, () => rootCA(config));
  } catch (err) {
    log.error('Fatal run error', { error: (err as Error).message });
    log.error('Server crashed', { error: (err as Error).message });
    process.exit(1);
  }
  const caNow = () => ca;
  const td = config.trustDomain;
  const agent = agentService({ config, store, ca: caNow, log, faults, stats });
  const entry = entryService({ config, store, faults, stats });
  const svid = svidService({ config, store, ca: caNow, stats });
  const bundle = bundleService({ config, ca: caNow });

  // Admin socket: local callers are trusted with every API, as SPIRE's UDS listener is.
  const local = new grpc.Server();
  local.addService(services.agent.service, agent);
  local.addService(services.entry.service, entry);
  local.addService(services.bundle.service, bundle);
  local.addService(services.health.service, health);
  // TCP: agents attest, sync and mint; admin calls need an admin SVID, which the simulator never issues.
  const denied = (_c: unknown, cb: grpc.sendUnaryData<unknown>) =>
    cb(rpcError(grpc.status.PERMISSION_DENIED, 'authorization denied for method'));
  const remote = new grpc.Server();
  remote.addService(services.agent.service, {
    AttestAgent: agent.AttestAgent as grpc.UntypedHandleCall,
    CreateJoinToken: denied,
  });
  remote.addService(services.entry.service, {
    ListEntries: denied,
    BatchCreateEntry: denied,
    BatchUpdateEntry: denied,
    BatchDeleteEntry: denied,
    GetAuthorizedEntries: async (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<unknown>) => {
      stats.inc('get_authorized_entries');
      const entries = await authorizedFor(call, ca, store, td);
      if (!entries) return cb(rpcError(grpc.status.PERMISSION_DENIED, 'caller is not an attested agent'));
      cb(null, { entries });
    },
  });
  remote.addService(services.svid.service, svid);
  remote.addService(services.bundle.service, bundle);
  const tlsCreds = spiffeServerCredentials(ca.roots, ca.tls.certChainPem, ca.tls.keyPem);
  try {
    const port = await bind(remote, `${config.bindAddress}:${config.bindPort}`, tlsCreds);
    log.info('Starting Server APIs', {
      address: `${config.bindAddress}:${port}`,
      network: 'tcp',
      subsystem_name: 'endpoints',
    });
    mkdirSync(dirname(config.socketPath), { recursive: true, mode: 0o750 });
    rmSync(config.socketPath, { force: true });
    await bind(local, `unix:${config.socketPath}`, grpc.ServerCredentials.createInsecure());
    log.info('Starting Server APIs', {
      address: config.socketPath,
      network: 'unix',
      subsystem_name: 'endpoints',
    });
  } catch (err) {
    log.error('Fatal run error', { error: (err as Error).message });
    log.error('Server crashed', { error: (err as Error).message });
    process.exit(1);
  }
  ready = true;
  const stop = (signal: string) => {
    log.info('Stopping Server APIs', { signal, subsystem_name: 'endpoints' });
    remote.forceShutdown();
    local.forceShutdown();
    healthServer?.close();
    rmSync(config.socketPath, { force: true });
    log.info('Server stopped gracefully');
    process.exit(0);
  };
  process.once('SIGTERM', () => stop('terminated'));
  process.once('SIGINT', () => stop('interrupt'));
}

async function bundleShow(flags: Map<string, string>): Promise<void> {
  const socket = flags.get('socketPath') ?? '/tmp/spire-server/private/api.sock';
  const client = new services.bundle(`unix:${socket}`, grpc.credentials.createInsecure());
  try {
    const b = await callUnary<{ x509_authorities: { asn1: Buffer }[] }>(client, 'GetBundle', {});
    process.stdout.write(b.x509_authorities.map((a) => toPem(a.asn1)).join(''));
  } catch (err) {
    fail(`Error: ${(err as grpc.ServiceError).details ?? (err as Error).message}`);
  } finally {
    client.close();
  }
}

async function healthcheck(flags: Map<string, string>): Promise<void> {
  const socket = flags.get('socketPath') ?? '/tmp/spire-server/private/api.sock';
  const client = new services.health(`unix:${socket}`, grpc.credentials.createInsecure());
  try {
    const res = await callUnary<{ status: string }>(
      client,
      'Check',
      {},
      { deadline: new Date(Date.now() + 5000) },
    );
    if (res.status !== 'SERVING') fail(`Error: server is unhealthy: server returned status "${res.status}"`);
    process.stdout.write('Server is healthy.\n');
  } catch {
    fail('Error: server is unhealthy: unable to determine health');
  } finally {
    client.close();
  }
}

async function main(argv: string[]): Promise<void> {
  handleVersion(argv);
  const [command, ...args] = argv;
  try {
    if (command === 'run') {
      const { flags } = parseFlags(
        args,
        ['expandEnv', 'logSourceLocation'],
        [
          'config',
          'bindAddress',
          'serverPort',
          'dataDir',
          'logFile',
          'logFormat',
          'logLevel',
          'trustDomain',
          'socketPath',
        ],
      );
      return await run(flags);
    }
    if (command === 'healthcheck') {
      return await healthcheck(parseFlags(args, ['shallow', 'verbose'], ['socketPath']).flags);
    }
    if (command === 'bundle' && args[0] === 'show') {
      return await bundleShow(parseFlags(args.slice(1), [], ['socketPath', 'format']).flags);
    }
  } catch (err) {
    fail((err as Error).message);
  }
  process.stderr.write(usage);
  process.exit(127);
}

void main(process.argv.slice(2));
