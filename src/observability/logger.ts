// The daemon's structured logger: JSON lines on stdout (journald and container runtimes collect them), with every
// secret-bearing field censored before it is serialised.
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

import type { LogLevel } from './log-levels.js';

export { LOG_LEVELS, type LogLevel } from './log-levels.js';
export type { Logger };

const SECRET_KEYS = [
  'token',
  'joinToken',
  'join_token',
  'apiKey',
  'api_key',
  'authorization',
  'Authorization',
  'password',
  'bearer',
  'access_token',
  'accessToken',
  'refresh_token',
  'secret',
  'x-api-key',
  'X-API-Key',
];

// Bracket notation keeps hyphenated keys (x-api-key) valid paths.
const key = (name: string): string => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : `["${name}"]`);
const join = (prefix: string, name: string): string => {
  const k = key(name);
  return k.startsWith('[') ? `${prefix}${k}` : `${prefix}.${k}`;
};

/**
 * Every path pino censors: each secret key at the top level and one or two levels down (`*.token`,
 * `*.*.token`), which covers `headers.authorization`, `req.headers.authorization` and `fields.token`.
 */
export const REDACT_PATHS: readonly string[] = Object.freeze(
  SECRET_KEYS.flatMap((name) => [key(name), join('*', name), join('*.*', name)]),
);

export const REDACT_CENSOR = '[REDACTED]';

export interface LoggerConfig {
  level: LogLevel;
  /** Where JSON lines go; stdout when absent. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

/** Builds the daemon's root logger; children come from `logger.child({...})`. */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level: config.level,
    redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR },
    // journald already records the pid and host; a readable level and ISO time help `journalctl -o cat`.
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return config.destination === undefined ? pino(options) : pino(options, config.destination);
}
