// `poller-bootstrap status`: reads a running daemon's GET /status and prints a summary or the JSON.

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH, DEFAULT_HTTP_LISTEN } from '../config/defaults.js';
import { loadConfig } from '../config/load.js';
import { type CliIo, EXIT, reason, UsageError } from './io.js';

const TIMEOUT_MS = 5_000;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));

/** The human summary of a status document; tolerant of missing fields (older or newer daemons). */
export function formatStatus(status: Json): string {
  const lines = [
    `phase:      ${str(status.phase)} since ${str(status.since)}${status.ready === true ? ' (ready)' : ' (not ready)'}`,
  ];
  const pending = isObject(status.pending) ? status.pending : null;
  if (pending) {
    const what = pending.child ?? pending.agent ?? (isObject(pending.step) ? pending.step.name : undefined);
    lines.push(
      `waiting:    ${str(pending.timer)}${what ? ` (${str(what)})` : ''} until ${str(pending.dueAt)}`,
    );
  }
  const children = Array.isArray(status.children) ? status.children.filter(isObject) : [];
  lines.push('children:');
  if (children.length === 0) lines.push('  none');
  for (const c of children) {
    lines.push(
      `  ${str(c.name).padEnd(17)} ${str(c.status).padEnd(9)} pid ${str(c.pid)}  restarts ${str(c.restarts)}  since ${str(c.startedAt ?? c.since)}`,
    );
  }
  const identity = isObject(status.identity) ? Object.entries(status.identity) : [];
  lines.push('identity:');
  if (identity.length === 0) lines.push('  none');
  for (const [role, id] of identity) {
    const svid = isObject(id) ? id : {};
    const spiffeId = svid.spiffeId === undefined || svid.spiffeId === null ? '' : `${str(svid.spiffeId)}  `;
    const judged = svid.status === undefined || svid.status === null ? '' : ` (${str(svid.status)})`;
    lines.push(`  ${role.padEnd(17)} ${spiffeId}expires ${str(svid.expiresAt)}${judged}`);
  }
  const lastError = isObject(status.lastError) ? status.lastError : null;
  const code = lastError?.code === undefined ? '' : `[${str(lastError.code)}] `;
  lines.push(
    `last error: ${lastError ? `${code}${str(lastError.message)} (at ${str(lastError.at)})` : 'none'}`,
  );
  if (typeof lastError?.hint === 'string') lines.push(`  fix:      ${lastError.hint}`);
  lines.push(`version:    ${str(status.version)}`);
  return `${lines.join('\n')}\n`;
}

function statusUrl(base: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new UsageError('status', `--url: expected an http:// URL, got ${JSON.stringify(base)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError('status', `--url: expected an http:// URL, got ${JSON.stringify(base)}`);
  }
  return new URL('/status', url);
}

/**
 * Where the daemon of this configuration listens: its http.listen. Without --config and without the default
 * file (a Compose setup configured by environment), the default address or POLLER_BOOTSTRAP_HTTP_LISTEN.
 */
async function daemonUrl(configPath: string | undefined, io: CliIo): Promise<string> {
  if (configPath === undefined && !existsSync(DEFAULT_CONFIG_PATH)) {
    return `http://${io.env.POLLER_BOOTSTRAP_HTTP_LISTEN || DEFAULT_HTTP_LISTEN}`;
  }
  const config = await loadConfig(configPath ?? DEFAULT_CONFIG_PATH, { env: io.env });
  const { host, port } = config.http;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function cause(error: unknown): string {
  const inner = error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined) : undefined;
  return inner?.code ?? (inner instanceof Error ? inner.message : reason(error));
}

/** Runs `status`: 0 with the document printed, 69 when the daemon cannot be reached or answers badly. */
export async function statusCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      url: { type: 'string', short: 'u' },
      config: { type: 'string', short: 'c' },
    },
    strict: true,
    allowPositionals: false,
  });
  const url = statusUrl(values.url ?? (await daemonUrl(values.config, io)));
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    io.stderr(`poller-bootstrap: cannot reach the daemon at ${url.href}: ${cause(error)}\n`);
    return EXIT.unavailable;
  }
  if (response.status !== 200) {
    io.stderr(`poller-bootstrap: ${url.href} answered HTTP ${response.status}\n`);
    return EXIT.unavailable;
  }
  const body: unknown = await response.json().catch(() => null);
  if (!isObject(body)) {
    io.stderr(`poller-bootstrap: ${url.href} did not answer with a status document\n`);
    return EXIT.unavailable;
  }
  io.stdout(values.json ? `${JSON.stringify(body, null, 2)}\n` : formatStatus(body));
  return EXIT.ok;
}
