// `poller-bootstrap broker`: load config → credentials and signing key → SPIRE client → listen; then serve until
// SIGTERM/SIGINT, reloading the users and API keys files (and the TLS certificate) on SIGHUP or an edit.

import { packageVersion } from '../cli/version.js';
import { EXIT } from '../common/exit-codes.js';
import { aborted, runTasks, signalTask } from '../daemon/tasks.js';
import { watchFiles } from '../daemon/watch.js';
import { createLogger } from '../observability/logger.js';
import { createApp } from './app.js';
import { createBrokerAudit } from './audit.js';
import { type BrokerConfig, loadBrokerConfig } from './config.js';
import { type Credentials, loadCredentials } from './credentials.js';
import { createBrokerMetrics } from './metrics.js';
import { limiter } from './rate-limit.js';
import { type BrokerServer, startBrokerServer } from './server.js';
import { createSessions } from './sessions.js';
import { adminSocketSpire } from './spire.js';

async function listen(
  config: BrokerConfig,
  options: Omit<Parameters<typeof startBrokerServer>[0], 'host' | 'port' | 'tls'>,
) {
  try {
    return await startBrokerServer({
      ...options,
      host: config.listen.host,
      port: config.listen.port,
      tls: config.tls,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw Object.assign(new Error(`cannot listen on ${config.listen.host}:${config.listen.port} (${code})`), {
      exitCode: EXIT.unavailable,
    });
  }
}

/** Runs the broker until SIGTERM/SIGINT; a config or credentials problem throws ConfigError (exit 78). */
export async function runBroker({ configPath }: { configPath: string }): Promise<number> {
  const config = await loadBrokerConfig(configPath);
  let credentials: Credentials = await loadCredentials(config);
  const { auth } = config;
  const sessions = auth.jwtKeyFile
    ? await createSessions({
        keyFile: auth.jwtKeyFile,
        accessTtlSeconds: auth.accessTtlSeconds,
        refreshTtlSeconds: auth.refreshTtlSeconds,
      })
    : null;
  const logger = createLogger({ level: config.logLevel });
  const version = packageVersion();
  const metrics = createBrokerMetrics({ version });
  const audit = createBrokerAudit({
    path: config.audit.file,
    maxBytes: config.audit.maxBytes,
    keep: config.audit.keep,
    logger,
  });
  const spire = adminSocketSpire({
    socketPath: config.spire.socketPath,
    trustDomain: config.trustDomain,
    timeoutMs: config.spire.timeoutMs,
  });
  const handler = createApp({
    config,
    spire,
    audit,
    metrics,
    credentials: () => credentials,
    sessions,
    limiter: limiter(config.rateLimit.perCallerPerMinute, config.rateLimit.globalPerMinute, {
      burst: config.rateLimit.globalBurst,
    }),
    loginLimiter: limiter(config.rateLimit.perCallerPerMinute, null),
    socketPath: config.spire.socketPath,
    now: Date.now,
    warn: (fields, message) => logger.warn(fields, message),
  });
  let server: BrokerServer;
  try {
    server = await listen(config, {
      handler,
      logger,
      onDone: (route, seconds) => metrics.duration(route, seconds),
      // A request's SPIRE calls run in turn (mint, entry, pruning), each under spire.timeout_seconds: wait for about
      // three of them.
      drainMs: Math.max(10_000, 3 * config.spire.timeoutMs),
    });
  } catch (error) {
    spire.close();
    throw error;
  }
  if (!config.tls)
    logger.warn(
      { listen: server.url },
      'allow_http: serving plain HTTP on loopback; credentials travel unencrypted',
    );
  logger.info(
    { version, url: server.url, spireSocket: config.spire.socketPath, trustDomain: config.trustDomain },
    'join-token broker serving',
  );
  // The credentials and the TLS certificate are reloaded independently: a broken users file must not hold back
  // a renewed certificate, nor a bad certificate the credentials.
  const reload = () => {
    loadCredentials(config).then(
      (next) => {
        credentials = next;
        metrics.reload('success');
        logger.info({ users: next.users.size, apiKeys: next.apiKeys.length }, 'credentials reloaded');
      },
      (error: Error) => {
        metrics.reload('failure');
        logger.error({ err: error.message }, 'credentials reload failed, keeping the loaded ones');
      },
    );
    if (!config.tls) return;
    server.reloadTls().then(
      () => logger.info({ certFile: config.tls?.certFile }, 'TLS certificate reloaded'),
      (error: Error) =>
        logger.error({ err: error.message }, 'TLS certificate reload failed, keeping the loaded one'),
    );
  };
  const root = new AbortController();
  const files = [auth.usersFile, auth.apiKeysFile].filter((f): f is string => f !== null);
  try {
    await runTasks(
      {
        signals: signalTask(root, reload, logger),
        watch: watchFiles(files, { changed: reload }, logger),
        server: async (signal) => {
          await aborted(signal);
          await server.close();
        },
      },
      root,
    );
  } finally {
    spire.close();
  }
  logger.info('stopped');
  return 0;
}
