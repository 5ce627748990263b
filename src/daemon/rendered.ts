// Renders a child's SPIRE config and writes it 0600 (an inline token may be in it), remembering what was written.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import {
  renderDownstreamAgentConfig,
  renderNestedServerConfig,
  renderUpstreamAgentConfig,
} from '../spire/render.js';
import type { JoinTokenRef } from '../spire/render-common.js';
import { writeSecretFile } from '../token/secret-file.js';
import type { Child } from './machine-types.js';

/** The config text of one child for a given token reference. */
export function renderFor(config: Config, layout: Layout, child: Child, token: JoinTokenRef): string {
  if (child === 'upstream-agent') return renderUpstreamAgentConfig(config, layout, token);
  if (child === 'nested-server') return renderNestedServerConfig(config, layout);
  return renderDownstreamAgentConfig(config, layout, {
    joinToken: token,
    trustBundlePath: layout.downstreamAgent.trustBundleFile,
  });
}

export function configPath(layout: Layout, child: Child): string {
  if (child === 'upstream-agent') return layout.upstreamAgent.configFile;
  if (child === 'nested-server') return layout.nestedServer.configFile;
  return layout.downstreamAgent.configFile;
}

/** Writes the child's config unless the same text is already there. */
export async function writeRendered(
  written: Map<Child, string>,
  config: Config,
  layout: Layout,
  child: Child,
  token: JoinTokenRef,
): Promise<void> {
  const text = renderFor(config, layout, child, token);
  if (written.get(child) === text) return;
  const path = configPath(layout, child);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Rendered again at every start: atomic, not forced to disk.
  await writeSecretFile(path, text, { durable: false });
  written.set(child, text);
}
