// Pieces shared by the three SPIRE config renderers: version gates, join token keys, health checks.

import type { Config, Selector } from '../config/types.js';
import { attr, block, type HclNode } from './hcl.js';
import { formatSpireVersion, type SpireVersion, supportsJoinTokenFile } from './version.js';

/** How a rendered agent config carries its join token. */
export type JoinTokenRef =
  | { readonly kind: 'none' }
  | { readonly kind: 'file'; readonly path: string }
  /** A secret: the rendered text must then be written 0600 and never logged. */
  | { readonly kind: 'inline'; readonly token: string };

/** A renderer was asked for something the target SPIRE version would reject; a programming error. */
export class RenderError extends Error {
  override readonly name = 'RenderError';
  readonly key: string;
  readonly version: string;

  constructor(key: string, version: SpireVersion, message: string) {
    super(`cannot render ${key} for SPIRE ${formatSpireVersion(version)}: ${message}`);
    this.key = key;
    this.version = formatSpireVersion(version);
  }
}

export interface RenderOptions {
  /** The SPIRE version the config is for; defaults to config.spire.version (e.g. a detected binary version). */
  readonly version?: SpireVersion;
}

export function targetVersion(config: Config, options: RenderOptions | undefined): SpireVersion {
  return options?.version ?? config.spire.version;
}

/** Picks the token form the target accepts: join_token_file from 1.13.3 (no secret in the config), else inline. */
export function chooseJoinToken(version: SpireVersion, tokenFile: string, token: string): JoinTokenRef {
  return supportsJoinTokenFile(version) ? { kind: 'file', path: tokenFile } : { kind: 'inline', token };
}

// join_token and join_token_file are exclusive; the file form exists from 1.13.3 only (DESIGN §6).
export function joinTokenAttributes(ref: JoinTokenRef, version: SpireVersion): HclNode[] {
  if (ref.kind === 'none') return [];
  if (ref.kind === 'inline') return [attr('join_token', ref.token)];
  if (!supportsJoinTokenFile(version)) {
    throw new RenderError('join_token_file', version, 'join_token_file needs SPIRE 1.13.3 or later');
  }
  return [attr('join_token_file', ref.path)];
}

// SPIRE parses log levels with logrus, which wants its own names.
export function spireLogLevel(config: Config): string {
  return config.logLevel.toUpperCase();
}

/** The health listener the daemon probes; SPIRE wants bind_port as a string. */
export function healthChecks(port: number): HclNode {
  return block(
    'health_checks',
    [],
    [
      attr('listener_enabled', true),
      attr('bind_address', '127.0.0.1'),
      attr('bind_port', String(port)),
      attr('live_path', '/live'),
      attr('ready_path', '/ready'),
    ],
  );
}

/** `unix:path` and `unix:sha256` selectors only exist when the unix attestor discovers the workload's binary. */
export function needsWorkloadPath(selectors: readonly Selector[]): boolean {
  return selectors.some(
    (s) => s.type === 'unix' && (s.value.startsWith('path:') || s.value.startsWith('sha256:')),
  );
}

export function plugin(type: string, name: string, data: readonly HclNode[]): HclNode {
  return block(type, [name], [block('plugin_data', [], data)]);
}

export function workloadAttestorUnix(selectors: readonly Selector[]): HclNode {
  return plugin(
    'WorkloadAttestor',
    'unix',
    needsWorkloadPath(selectors) ? [attr('discover_workload_path', true)] : [],
  );
}
