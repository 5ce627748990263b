import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { services } from '../../../src/spire/proto.js';
import { atLeast, SIM_VERSION } from '../common/cli.js';
import { probeUnix } from '../common/dial.js';
import { recordEvent } from '../common/events.js';
import { Faults, Stats, startControlServer } from '../common/faults.js';
import { goListenError } from '../common/go-text.js';
import { bind, goDuration, scaled } from '../common/grpc.js';
import { HealthChecker } from '../common/health.js';
import { Lifecycle, setUmask } from '../common/lifecycle.js';
import { createLog, type Log } from '../common/log.js';
import { describe } from '../common/x509.js';
import { attestWithRetry, bootstrapBackoff, bootstrapRoots } from './attest.js';
import { SvidCache } from './cache.js';
import type { AgentConfig } from './config.js';
import { recoverSvid } from './identity.js';
import { KeyStore } from './keys.js';
import { loadAgentData, saveAgentData } from './storage.js';
import { workloadService } from './workload-api.js';

/** agent.go startHealthChecksTimeout: from 1.13 the listener starts when the APIs listen, or after 8 s. */
const START_HEALTH_TIMEOUT_MS = 8_000;

/** The "agent" check (agent.go CheckHealth): only an Unavailable Workload API fails it. */
function agentHealth(config: AgentConfig, log: Log, started: () => boolean): HealthChecker {
  const checker = new HealthChecker(config.health, log);
  checker.addCheck('agent', async () => {
    const down = (await probeUnix(config.socketPath)) !== undefined;
    const err: Record<string, string> = down ? { make_new_x509_err: 'workload api is unavailable' } : {};
    return {
      started: started(),
      ready: !down,
      live: !started() || !down,
      readyDetails: err,
      liveDetails: started() ? err : {},
    };
  });
  return checker;
}

/** newManager: the first sync is retried on the bootstrap backoff when bootstrap retries are on. */
async function initializeManager(cache: SvidCache, config: AgentConfig, log: Log): Promise<void> {
  const backoff = bootstrapBackoff();
  for (;;) {
    try {
      return await cache.initialize();
    } catch (err) {
      const wait = config.retryBootstrap ? backoff.next() : undefined;
      if (wait === undefined) throw err;
      log.warn('Failed to initialize manager', {
        error: (err as Error).message,
        retry_interval: goDuration(wait / 1000),
      });
      await new Promise((r) => setTimeout(r, scaled(wait)));
    }
  }
}

/** Serves the Workload API; a socket that cannot be bound ends the run (endpoints_posix.go createUDSListener). */
async function serveWorkloadApi(
  config: AgentConfig,
  cache: SvidCache,
  log: Log,
  faults: Faults,
  stats: Stats,
) {
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
  try {
    await bind(server, `unix:${config.socketPath}`, grpc.ServerCredentials.createInsecure());
  } catch (err) {
    const code = /listen (E[A-Z]+)/.exec((err as Error).message)?.[1];
    const text = goListenError('unix', config.socketPath, Object.assign(err as Error, { code }));
    throw new Error(`create UDS listener: ${text}`);
  }
  // Every local user may reach the Workload API (endpoints_posix.go createUDSListener).
  chmodSync(config.socketPath, 0o777);
  log.info('Starting Workload and SDS APIs', {
    address: config.socketPath,
    network: 'unix',
    subsystem_name: 'endpoints',
  });
  return server;
}

/** `spire-agent run` once the config is loaded, in the order of pkg/agent/agent.go Run. */
export async function runAgent(config: AgentConfig): Promise<void> {
  const log = createLog(config.logFormat, config.logLevel);
  const life = new Lifecycle('spire-agent', log);
  // LoadConfig's warnings come first, then prepareEndpoints tightens the umask (cmd/spire-agent/cli/run).
  for (const w of config.warnings) log.warn(w);
  setUmask(log);
  const faults = new Faults();
  const stats = new Stats();
  await startControlServer(faults, stats);
  faults.armCrash(() => life.crash('simulated crash (crashAfterSeconds)', 2));
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  log.info('Starting agent', { data_dir: config.dataDir, version: SIM_VERSION });

  let started = false;
  const health = agentHealth(config, log, () => started);
  let healthStarted = false;
  const startHealth = () => {
    if (healthStarted) return;
    healthStarted = true;
    void health.listenAndServe();
  };
  if (atLeast('1.13.0')) setTimeout(startHealth, scaled(START_HEALTH_TIMEOUT_MS)).unref();

  const keys = new KeyStore(config.keysDir);
  const data = loadAgentData(config.dataDir);
  let identity = recoverSvid(data, keys, log);
  let bundle = data.bundle;
  const attestor = log.with({ subsystem_name: 'attestor' });
  let reattestable = data.reattestable;
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
      reattestable = done.reattestable;
      attestor.info('Node attestation was successful', {
        reattestable: done.reattestable,
        spiffe_id: describe(done.svid[0] as Buffer).spiffeId,
      });
    } catch (err) {
      life.crash((err as Error).message);
    }
  }
  if (atLeast('1.15.3') && !reattestable && config.keyManager === 'memory') {
    log.warn(
      "Node attestation is not reattestable and the 'memory' key manager is in use; if the agent process is restarted, it will be unable to obtain a new SVID and will need to be manually evicted to be able to re-attest.",
    );
  }

  const svid = identity as { svid: Buffer[]; key: Buffer };
  const cache = new SvidCache(config, { ...svid, bundle }, log, (b) =>
    saveAgentData(config.dataDir, { svid: svid.svid, bundle: b, reattestable }),
  );
  await initializeManager(cache, config, log).catch((err: Error) => life.crash(err.message));
  const server = await serveWorkloadApi(config, cache, log, faults, stats).catch((err: Error) =>
    life.crash(err.message),
  );
  started = true;
  recordEvent('spire-agent', 'ready');
  // Up to 1.12 the listener is one more task started with the endpoints; from 1.13 it waits for them.
  startHealth();
  cache.run((error) => life.crash(error));
  life.running(() => {
    log.info('Stopping Workload and SDS APIs', { subsystem_name: 'endpoints' });
    cache.stop();
    server.forceShutdown();
    health.close();
    rmSync(config.socketPath, { force: true });
    life.stopped();
  });
}
