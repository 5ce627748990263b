// `poller-bootstrap run`: load config → check the SPIRE binaries → prepare directories → take the state lock →
// answer /healthz at once → load and run the bootstrap (run-bootstrap.ts), which brings in gRPC, the file watcher
// and the rest only now. Returns the exit code.
import { packageVersion } from '../cli/version.js';
import { EXIT } from '../common/exit-codes.js';
import { pathLayout } from '../config/layout.js';
import { loadConfig } from '../config/load.js';
import { HttpServerError, startHttpServer } from '../observability/http.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics, metricsRoute } from '../observability/metrics.js';
import { resolveSpireVersion } from '../spire/binary-version.js';
import { formatSpireVersion } from '../spire/version.js';
import { prepareDirectories } from './directories.js';
import { lockStateDir } from './lock.js';
import { spireBinariesPresent } from './preflight.js';
import { statusSource } from './status-source.js';

/** Runs the daemon until SIGTERM/SIGINT; a config error throws ConfigError (the CLI exits 78). */
export async function runDaemon({ configPath }: { configPath: string }): Promise<number> {
  const loaded = await loadConfig(configPath, { env: process.env });
  if (!spireBinariesPresent(loaded)) return EXIT.unavailable;
  const config = await resolveSpireVersion(loaded);
  const logger = createLogger({ level: config.logLevel });
  const layout = pathLayout(config);
  await prepareDirectories(layout, config);
  // Before anything is spawned: one daemon per state directory.
  const lock = await lockStateDir(layout.stateDir);
  try {
    const version = packageVersion();
    const metrics = createMetrics({ version, spireVersion: formatSpireVersion(config.spire.version) });
    const status = statusSource(version);
    const http = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      getStatus: () => status.status(),
      isReady: () => status.readiness(),
      extraRoutes: { '/metrics': metricsRoute(metrics) },
    }).catch((err: unknown) => {
      if (!(err instanceof HttpServerError)) throw err;
      logger.error({ err: err.message }, 'cannot serve /healthz and /status');
      return null;
    });
    if (http === null) return EXIT.unavailable;
    logger.info({ http: http.url }, 'serving status');
    const { runBootstrap } = await import('./run-bootstrap.js');
    return await runBootstrap({ configPath, config, layout, logger, metrics, http, status });
  } finally {
    await lock.release();
  }
}
