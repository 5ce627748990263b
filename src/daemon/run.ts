// `poller-bootstrap run`: load config → prepare directories → token sources → daemon → HTTP → signals and
// watches → wait for the stop. Returns the exit code.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { watch } from 'chokidar';
import { packageVersion } from '../cli/version.js';
import { pathLayout } from '../config/layout.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { createAuditLog } from '../observability/audit.js';
import { startHttpServer } from '../observability/http.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, metricsRoute } from '../observability/metrics.js';
import { buildStatus, readiness } from '../observability/status.js';
import { createTokenStore } from '../token/store.js';
import { Daemon } from './daemon.js';
import { prepareDirectories } from './directories.js';
import { CHILDREN } from './machine.js';
import { createNotifier } from './notify.js';
import { createObserver } from './observe.js';
import { EX_UNAVAILABLE, spireBinariesPresent } from './preflight.js';
import { buildTokenSources } from './token-sources.js';

const IDENTITY_REFRESH_MS = 60_000;

function statusOf(daemon: Daemon, version: string) {
  const children = CHILDREN.map((name) => {
    const s = daemon.children[name].state;
    return {
      name,
      status: s.status,
      pid: s.pid ?? null,
      restarts: s.restarts,
      since: s.startedAt?.getTime() ?? null,
    };
  });
  return buildStatus({ machine: daemon.state, children, identity: daemon.identity, version });
}

/** Watches what can unblock or change the bootstrap: the token drop-in folder, the config and the trust bundle. */
function watchInputs(config: Config, configPath: string, daemon: Daemon, reload: () => void, logger: Logger) {
  const tokenDir = dirname(config.token.file);
  const watcher = watch(
    [tokenDir, configPath, ...(config.upstream.trustBundlePath ? [config.upstream.trustBundlePath] : [])],
    {
      ignoreInitial: true,
      depth: 0,
      awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 25 },
    },
  );
  watcher.on('all', (event, path) => {
    if (path === configPath) return reload();
    if (path === config.token.file && (event === 'add' || event === 'change')) {
      logger.info('a join token file arrived');
      return daemon.poke();
    }
    if (path === config.upstream.trustBundlePath) {
      logger.info({ path }, 'trust bundle changed');
      daemon.poke();
    }
  });
  watcher.on('error', (err) => logger.warn({ err: String(err) }, 'file watch failed'));
  return watcher;
}

/** Runs the daemon until SIGTERM/SIGINT; a config error throws ConfigError (the CLI exits 78). */
export async function runDaemon({ configPath }: { configPath: string }): Promise<number> {
  const config = await loadConfig(configPath, { env: process.env });
  if (!spireBinariesPresent(config)) return EX_UNAVAILABLE;
  const logger = createLogger({ level: config.logLevel });
  const version = packageVersion();
  const layout = pathLayout(config);
  await prepareDirectories(layout, config);
  if (config.upstream.insecureBootstrap) {
    logger.warn('insecure_bootstrap: the upstream agent will not verify the SPIRE server on first contact');
  }
  const metrics = createMetrics({ version, spireVersion: config.spire.version });
  metrics.tokenFilePresent(existsSync(layout.upstreamJoinTokenFile));
  const audit = createAuditLog({ path: join(layout.stateDir, 'audit.jsonl'), logger });
  const observer = createObserver(metrics, audit, config.trustDomain, Date.now());
  const store = createTokenStore({ path: layout.upstreamJoinTokenFile });
  const tokens = await buildTokenSources(config, store, process.env, observer);
  const notifier = createNotifier({ log: logger });
  const daemon = new Daemon({ config, layout, logger, notifier, sources: tokens.sources, observer });
  const http = await startHttpServer({
    host: config.http.host,
    port: config.http.port,
    getStatus: () => statusOf(daemon, version),
    isReady: () => readiness(daemon.state),
    extraRoutes: { '/metrics': metricsRoute(metrics) },
  });
  // SVIDs rotate at half-life; the expiry gauges must follow them or the expiry alert would fire falsely.
  const refresh = setInterval(() => void daemon.refreshIdentities(), IDENTITY_REFRESH_MS);

  const reload = () => {
    loadConfig(configPath, { env: process.env })
      .then((next) => daemon.reload(next))
      .then((restarted) => logger.info({ restarted }, 'configuration reloaded'))
      .catch((err: Error) =>
        logger.error({ err: err.message }, 'configuration reload failed; keeping the running one'),
      );
  };
  const watcher = watchInputs(config, configPath, daemon, reload, logger);
  const onStop = (signal: string) => {
    logger.info({ signal }, 'stopping');
    daemon.stop();
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', reload);

  logger.info(
    { version, spireVersion: config.spire.version, http: http.url, stateDir: layout.stateDir },
    'poller-bootstrap starting',
  );
  daemon.start();
  await daemon.stopped;

  clearInterval(refresh);
  process.off('SIGTERM', onStop);
  process.off('SIGINT', onStop);
  process.off('SIGHUP', reload);
  await watcher.close();
  await http.close();
  tokens.close();
  logger.info('stopped');
  return 0;
}
