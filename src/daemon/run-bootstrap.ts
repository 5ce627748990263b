// The bootstrap proper, loaded once the daemon already answers /healthz: orphans stopped, token sources, the
// daemon, then the daemon, the file watch, the identity refresh and the signal handlers run as tasks under one
// root signal; the HTTP server (started by run.ts) is closed with them.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageVersion } from '../cli/version.js';
import { EXIT } from '../common/exit-codes.js';
import type { Layout } from '../config/layout.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { createAuditLog } from '../observability/audit.js';
import type { HttpServerHandle } from '../observability/http.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { buildStatus, readiness } from '../observability/status.js';
import { resolveSpireVersion } from '../spire/binary-version.js';
import { formatSpireVersion } from '../spire/version.js';
import { stopOrphans } from '../supervisor/pidfiles.js';
import { loadBurnedTokens } from '../token/burned.js';
import { loadMintLog } from '../token/mint-log.js';
import { findSetpriv, processChildren } from './children.js';
import { Daemon } from './daemon.js';
import { AGENTS, CHILDREN } from './machine.js';
import { createNotifier, type SystemdNotifier } from './notify.js';
import { createObserver, type Observer } from './observe.js';
import type { StatusSource } from './status-source.js';
import { aborted, runTasks, signalTask } from './tasks.js';
import { buildTokenSources } from './token-sources.js';
import { watchInputs } from './watch.js';

export interface Started {
  configPath: string;
  config: Config;
  layout: Layout;
  logger: Logger;
  metrics: Metrics;
  http: HttpServerHandle;
  status: StatusSource;
}

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

/** Runs the bootstrap until SIGTERM/SIGINT; resolves to the exit code. */
export async function runBootstrap({
  configPath,
  config,
  layout,
  logger,
  metrics,
  http,
  status,
}: Started): Promise<number> {
  const version = packageVersion();
  const spireVersion = formatSpireVersion(config.spire.version);
  for (const orphan of await stopOrphans(layout.pidDir, config.supervision.stopGraceMs)) {
    logger.warn(orphan, `stopped the ${orphan.child} an earlier daemon left running (pid ${orphan.pid})`);
  }
  if (config.upstream.insecureBootstrap) {
    logger.warn('insecure_bootstrap: the upstream agent will not verify the SPIRE server on first contact');
  }
  metrics.tokenFilePresent(existsSync(layout.upstreamJoinTokenFile));
  const audit = createAuditLog({ path: join(layout.stateDir, 'audit.jsonl'), logger });
  const notifier = createNotifier({ log: logger });
  const observer = withNotifyStatus(createObserver(metrics, audit, config.trustDomain, Date.now()), notifier);
  const burned = await loadBurnedTokens(join(layout.stateDir, 'burned-tokens.json'), Date.now(), (m) =>
    logger.warn(m),
  );
  const mints = await loadMintLog(join(layout.stateDir, 'token-mints.json'), AGENTS, Date.now(), (m) =>
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
    mints,
    children,
    observer,
  });
  status.set({
    status: () =>
      buildStatus({
        machine: daemon.state,
        pids: Object.fromEntries(CHILDREN.map((c) => [c, daemon.pid(c)])),
        identity: daemon.identities.all,
        version,
      }),
    readiness: () => readiness(daemon.state),
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
    return EXIT.internal;
  } finally {
    notifier.close();
    await tokens.close();
  }
  logger.info('stopped');
  return EXIT.ok;
}
