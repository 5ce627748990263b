import { existsSync, mkdirSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../../src/spire/proto.js';
import { SIM_VERSION } from '../common/cli.js';
import { probeUnix } from '../common/dial.js';
import { recordEvent } from '../common/events.js';
import { Faults, Stats, startControlServer } from '../common/faults.js';
import { goRpcError } from '../common/grpc.js';
import { HealthChecker } from '../common/health.js';
import { Lifecycle, setUmask } from '../common/lifecycle.js';
import { createLog, type Log } from '../common/log.js';
import { CaManager } from './ca.js';
import type { ServerConfig } from './config.js';
import { DataStore, DataStoreError } from './datastore.js';
import { listenAndServe } from './endpoints.js';
import { PluginError, ServerKeyManager } from './keys.js';
import { upstreamMinter } from './upstream.js';

// logrus's Level.String for the configured log_level.
const levelName = (l: string) => ({ warn: 'warning' })[l.toLowerCase()] ?? l.toLowerCase();

/** The "server" check (server.go CheckHealth): GetBundle over the server's own admin socket. */
async function tryGetBundle(socket: string): Promise<string | undefined> {
  const client = new services.bundle(`unix:${socket}`, grpc.credentials.createInsecure());
  try {
    await callUnary(client, 'GetBundle', {}, { deadline: new Date(Date.now() + 5_000) });
    return undefined;
  } catch (err) {
    const e = err as grpc.ServiceError;
    const desc = e.code === grpc.status.UNAVAILABLE ? await probeUnix(socket) : undefined;
    return `unable to fetch bundle: ${desc ? `rpc error: code = Unavailable desc = ${desc}` : goRpcError(e)}`;
  } finally {
    client.close();
  }
}

function healthChecks(config: ServerConfig, log: Log): HealthChecker {
  const checker = new HealthChecker(config.health, log);
  const ok = async () => ({ live: true, ready: true, liveDetails: {}, readyDetails: {} });
  checker.addCheck('catalog.datastore', ok);
  checker.addCheck('server.ca', ok);
  checker.addCheck('server.ca.rotator', ok);
  checker.addCheck('server', async () => {
    const err = await tryGetBundle(config.socketPath);
    const details: Record<string, string> = err ? { get_bundle_err: err } : {};
    return { live: !err, ready: !err, liveDetails: details, readyDetails: details };
  });
  return checker;
}

/** The sql DataStore: opening a file that is unreadable or not a datastore is fatal (catalog.Load). */
function openDataStore(config: ServerConfig, log: Log): DataStore {
  const sqlLog = log.with({ subsystem_name: 'sql' });
  sqlLog.info('Opening SQL database', { database_type: 'sqlite3' });
  const isNew = !existsSync(config.datastorePath);
  const store = new DataStore(config.datastorePath);
  if (isNew) sqlLog.info('Initializing new database');
  return store;
}

/** `spire-server run` once the config is loaded, in the order of pkg/server/server.go run(). */
export async function runServer(config: ServerConfig): Promise<void> {
  const log = createLog(config.logFormat, config.logLevel);
  const life = new Lifecycle('spire-server', log);
  setUmask(log);
  const faults = new Faults();
  const stats = new Stats();
  await startControlServer(faults, stats);
  faults.armCrash(() => life.crash('simulated crash (crashAfterSeconds)', 2));
  log.info('Configured', {
    admin_ids: `[${config.adminIds.join(' ')}]`,
    data_dir: config.dataDir,
    launch_log_level: levelName(config.logLevel),
    version: SIM_VERSION,
  });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  let store: DataStore;
  let km: ServerKeyManager;
  try {
    store = openDataStore(config, log);
    km = ServerKeyManager.load(config.keysPath);
  } catch (err) {
    if (err instanceof PluginError) {
      log.error('Failed to configure plugin', {
        error: err.detail,
        external: false,
        plugin_name: err.plugin.name,
        plugin_type: err.plugin.type,
        subsystem_name: 'catalog',
      });
    } else if (!(err instanceof DataStoreError)) throw err;
    return life.crash((err as Error).message);
  }
  const mint = config.upstream ? upstreamMinter(config, config.upstream, log) : undefined;
  const ca = await CaManager.start(config, store, km, log, mint).catch((err: Error) =>
    life.crash(err.message),
  );
  ca.runRotator();
  const endpoints = await listenAndServe({ config, store, ca, log, faults, stats }).catch((err: Error) =>
    life.crash(err.message),
  );
  recordEvent('spire-server', 'ready');
  // The health listener starts only once the endpoints listen (server.go WaitForListening).
  const health = healthChecks(config, log);
  await health.listenAndServe();
  life.running(() => {
    endpoints.stop();
    health.close();
    ca.stop();
    life.stopped();
  });
}
