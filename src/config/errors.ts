// The configuration domain's one error type, carrying every problem found.
import { EXIT } from '../common/exit-codes.js';

/** sysexits EX_CONFIG: the CLI exits with this when the configuration is invalid. */
export const EXIT_CONFIG = EXIT.config;

export interface ConfigIssue {
  /** The key as the user wrote it: a dotted JSON path (`upstream.server_port`) or an environment variable. */
  readonly key: string;
  /** The full sentence, starting with the key. */
  readonly message: string;
}

/** Thrown by the loader; `issues` lists every problem, sorted as found. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly exitCode = EXIT_CONFIG;
  readonly source: string | null;
  readonly issues: readonly ConfigIssue[];

  constructor(source: string | null, issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    const where = source === null ? 'configuration' : `configuration ${source}`;
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super(`invalid ${where} (${count}):\n${issues.map((i) => `  - ${i.message}`).join('\n')}`, options);
    this.source = source;
    this.issues = Object.freeze([...issues]);
  }
}

const MAX_SHOWN = 120;

/** Shows a bad value the way the user wrote it (JSON), shortened; `nothing` when absent. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 3)}...` : text;
}

/** The standard sentence: names the key, says what is expected, echoes what was given. */
export function expectedMessage(key: string, expected: string, value: unknown): string {
  return `${key}: expected ${expected}, got ${showValue(value)}`;
}
