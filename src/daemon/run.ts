// `poller-bootstrap run`: load config → prepare directories → token sources → daemon, then the daemon, the HTTP
// endpoints, the file watch, the identity refresh and the signal handlers run as tasks under one root signal.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageVersion } from '../cli/version.js';
import { type Layout, pathLayout } from '../config/layout.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { createAuditLog } from '../observability/audit.js';
import { HttpServerError, startHttpServer } from '../observability/http.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type Metrics, metricsRoute } from '../observability/metrics.js';
import { buildStatus, readiness } from '../observability/status.js';
import { resolveSpireVersion } from '../spire/binary-version.js';
import { formatSpireVersion } from '../spire/version.js';
import { stopOrphans } from '../supervisor/pidfiles.js';
import { loadBurnedTokens } from '../token/burned.js';
import { findSetpriv, processChildren } from './children.js';
import { Daemon } from './daemon.js';
import { prepareDirectories } from './directories.js';
import { lockStateDir } from './lock.js';
import { CHILDREN } from './machine.js';
import { createNotifier, type SystemdNotifier } from './notify.js';
import { createObserver, type Observer } from './observe.js';
import { EX_UNAVAILABLE, spireBinariesPresent } from './preflight.js';
import { aborted, runTasks, type Task } from './tasks.js';
import { buildTokenSources } from './token-sources.js';
import { watchInputs } from './watch.js';

/** The observer, plus systemd's STATUS= line on every phase change. */
function withNotifyStatus(observer: Observer, notifier: SystemdNotifier): Observer {
  return {
    ...observer,
    transition(before, after, event) {
      observer.transition(before, after, event);
      if (after.phase !== before.phase) void notifier.phase(after.phase);
    },
  };
}

/** SIGTERM/SIGINT abort the root; SIGHUP reloads. */
function signalTask(root: AbortController, reload: () => void, logger: Logger): Task {
  return async (signal) => {
    const onStop = (name: string) => {
      logger.info({ signal: name }, 'stopping');
      root.abort();
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', reload);
    await aborted(signal);
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', reload);
  };
}

/** Loads the config again; the daemon applies it, or keeps the running one and says why. */
function reloader(configPath: string, daemon: Daemon, metrics: Metrics, logger: Logger) {
  return () => {
    loadConfig(configPath, { env: process.env })
      .then(resolveSpireVersion)
      .then(
        (next) => {
          const restarted = daemon.reload(next);
          metrics.configReload('success');
          logger.info({ restarted }, 'configuration reloaded');
        },
        (err: Error) => {
          metrics.configReload('failure');
          daemon.reloadFailed(`configuration reload failed, keeping the running one: ${err.message}`);
        },
      );
  };
}

/** Runs the daemon until SIGTERM/SIGINT; a config error throws ConfigError (the CLI exits 78). */
export async function runDaemon({ configPath }: { configPath: string }): Promise<number> {
  const loaded = await loadConfig(configPath, { env: process.env });
  if (!spireBinariesPresent(loaded)) return EX_UNAVAILABLE;
  const config = await resolveSpireVersion(loaded);
  const logger = createLogger({ level: config.logLevel });
  const layout = pathLayout(config);
  await prepareDirectories(layout, config);
  // Before anything is spawned: one daemon per state directory, and nothing an earlier one left running.
  const lock = await lockStateDir(layout.stateDir);
  try {
    return await runLocked(configPath, config, layout, logger);
  } finally {
    await lock.release();
  }
}

async function runLocked(
  configPath: string,
  config: Config,
  layout: Layout,
  logger: Logger,
): Promise<number> {
  const version = packageVersion();
  const spireVersion = formatSpireVersion(config.spire.version);
  for (const orphan of await stopOrphans(layout.pidDir, config.supervision.stopGraceMs)) {
    logger.warn(orphan, `stopped the ${orphan.child} an earlier daemon left running (pid ${orphan.pid})`);
  }
  if (config.upstream.insecureBootstrap) {
    logger.warn('insecure_bootstrap: the upstream agent will not verify the SPIRE server on first contact');
  }
  const metrics = createMetrics({ version, spireVersion });
  metrics.tokenFilePresent(existsSync(layout.upstreamJoinTokenFile));
  const audit = createAuditLog({ path: join(layout.stateDir, 'audit.jsonl'), logger });
  const notifier = createNotifier({ log: logger });
  const observer = withNotifyStatus(createObserver(metrics, audit, config.trustDomain, Date.now()), notifier);
  const burned = await loadBurnedTokens(join(layout.stateDir, 'burned-tokens.json'), Date.now(), (m) =>
    logger.warn(m),
  );
  const tokens = await buildTokenSources(config, process.env, observer);
  const setpriv = findSetpriv();
  if (!setpriv)
    logger.warn(
      'setpriv --pdeathsig is not available: SPIRE children outlive a killed daemon until it restarts',
    );
  const children = processChildren(logger, config.supervision.stopGraceMs, setpriv);
  const daemon = new Daemon({
    config,
    layout,
    logger,
    notifier,
    sources: tokens.sources,
    burned,
    children,
    observer,
  });
  const reload = reloader(configPath, daemon, metrics, logger);
  const root = new AbortController();
  logger.info({ version, spireVersion, stateDir: layout.stateDir }, 'poller-bootstrap starting');
  try {
    await runTasks(
      {
        signals: signalTask(root, reload, logger),
        daemon: async (signal) => {
          daemon.start();
          await aborted(signal);
          daemon.stop();
          await daemon.stopped;
        },
        http: async (signal) => {
          const http = await startHttpServer({
            host: config.http.host,
            port: config.http.port,
            getStatus: () =>
              buildStatus({
                machine: daemon.state,
                pids: Object.fromEntries(CHILDREN.map((c) => [c, daemon.pid(c)])),
                identity: daemon.identities.all,
                version,
              }),
            isReady: () => readiness(daemon.state),
            extraRoutes: { '/metrics': metricsRoute(metrics) },
          });
          logger.info({ http: http.url }, 'serving status');
          await aborted(signal);
          await http.close();
        },
        watch: watchInputs(
          { config: configPath, tokenFile: config.token.file, trustBundle: config.upstream.trustBundlePath },
          {
            configChanged: reload,
            tokenFileArrived: () => {
              logger.info('a join token file arrived');
              daemon.inputChanged('token-file');
            },
            trustBundleChanged: () => {
              logger.info({ path: config.upstream.trustBundlePath }, 'trust bundle changed');
              daemon.inputChanged('trust-bundle');
            },
          },
          logger,
        ),
        identities: async (signal) => {
          daemon.identities.follow((child) => daemon.state.children[child].status === 'ready');
          await aborted(signal);
          daemon.identities.stop();
        },
      },
      root,
    );
  } catch (err) {
    logger.error({ err: err instanceof Error ? err.message : String(err) }, 'stopped on a failure');
    return err instanceof Error && err.cause instanceof HttpServerError ? 69 : 70;
  } finally {
    notifier.close();
    await tokens.close();
  }
  logger.info('stopped');
  return 0;
}
