// Loads the runtime configuration: JSON file, then environment overrides, then defaults and validation.

import { readFile } from 'node:fs/promises';
import { crossCheck } from './cross.js';
import { Reader } from './decode.js';
import { fillDefaults } from './defaults.js';
import { checkEnv, type Env, overlayEnv } from './env.js';
import { ConfigError } from './errors.js';
import { decodeFile } from './schema.js';
import type { Config } from './types.js';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Builds the frozen config from parsed JSON and the environment; throws ConfigError listing every problem. */
export function parseConfig(fileRaw: unknown, env: Env = {}, source: string | null = null): Config {
  const { raw, labels } = overlayEnv(fileRaw, env);
  const reader = new Reader(labels);
  checkEnv(env, reader);
  const file = decodeFile(raw, '', reader) ?? {};
  const config = fillDefaults(file);
  crossCheck(file, config, reader);
  const issues = reader.issues();
  if (issues.length > 0) throw new ConfigError(source, issues);
  return deepFreeze(config);
}

/** Parses the file's JSON text; a syntax error is a ConfigError naming the file. */
export function parseConfigText(text: string, env: Env = {}, source: string | null = null): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const key = source ?? 'configuration';
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(
      source,
      [{ key, message: `${key}: expected JSON, got a syntax error: ${reason}` }],
      {
        cause: error,
      },
    );
  }
  return parseConfig(raw, env, source);
}

export interface LoadOptions {
  readonly env?: Env;
  /** When true a missing file means "environment and defaults only" (the default path may not exist). */
  readonly optional?: boolean;
}

/** Reads and parses the config file at `path`; secrets are not read here, only their file paths are kept. */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<Config> {
  const env = options.env ?? process.env;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && options.optional) return parseConfig({}, env, path);
    const reason = code === 'ENOENT' ? 'no such file' : (code ?? String(error));
    throw new ConfigError(path, [{ key: path, message: `${path}: cannot read the file (${reason})` }], {
      cause: error,
    });
  }
  return parseConfigText(text, env, path);
}
