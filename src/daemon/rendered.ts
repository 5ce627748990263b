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
import type { Child } from './machine.js';

export interface RenderedFiles {
  config: Config;
  layout: Layout;
  /** The text last written per child, to tell whether a reload changed it. */
  last: Map<Child, string>;
}

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

/** Writes the child's config; returns true when the text differs from what was written before. */
export async function writeRendered(
  files: RenderedFiles,
  child: Child,
  token: JoinTokenRef,
): Promise<boolean> {
  const text = renderFor(files.config, files.layout, child, token);
  if (files.last.get(child) === text) return false;
  const path = configPath(files.layout, child);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeSecretFile(path, text);
  files.last.set(child, text);
  return true;
}
