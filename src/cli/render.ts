// `poller-bootstrap render`: the three SPIRE configs from the current config, printed or written to a directory.

import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH } from '../config/defaults.js';
import { type Layout, pathLayout } from '../config/layout.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import {
  type JoinTokenRef,
  renderDownstreamAgentConfig,
  renderNestedServerConfig,
  renderUpstreamAgentConfig,
} from '../spire/render.js';
import { formatSpireVersion, type SpireVersion, supportsJoinTokenFile } from '../spire/version.js';
import { type CliIo, EXIT } from './io.js';

export interface RenderedFile {
  /** Where the daemon writes it (the layout's config dir). */
  readonly path: string;
  readonly text: string;
}

// No token is read here: before 1.13.3 the token can only be inline, which render never prints.
function tokenRef(version: SpireVersion, path: string): JoinTokenRef {
  return supportsJoinTokenFile(version) ? { kind: 'file', path } : { kind: 'none' };
}

/** Renders upstream agent, nested server and downstream agent configs, in start order, without secrets. */
export function renderAll(config: Config, layout: Layout = pathLayout(config)): RenderedFile[] {
  const { version } = config.spire;
  return [
    {
      path: layout.upstreamAgent.configFile,
      text: renderUpstreamAgentConfig(config, layout, tokenRef(version, layout.upstreamJoinTokenFile)),
    },
    { path: layout.nestedServer.configFile, text: renderNestedServerConfig(config, layout) },
    {
      path: layout.downstreamAgent.configFile,
      text: renderDownstreamAgentConfig(config, layout, {
        joinToken: tokenRef(version, layout.downstreamAgent.joinTokenFile),
        trustBundlePath: layout.downstreamAgent.trustBundleFile,
      }),
    },
  ];
}

/** Runs `render`; argument errors throw (parseArgs), config errors throw ConfigError. */
export async function renderCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, out: { type: 'string', short: 'o' } },
    strict: true,
    allowPositionals: false,
  });
  // Without --config a missing default file means "environment and defaults only" (a Compose setup).
  const config = await loadConfig(values.config ?? DEFAULT_CONFIG_PATH, {
    env: io.env,
    optional: values.config === undefined,
  });
  const files = renderAll(config);
  const { version } = config.spire;
  if (!supportsJoinTokenFile(version)) {
    io.stderr(
      `note: SPIRE ${formatSpireVersion(version)} has no join_token_file; the agent configs carry no join token\n`,
    );
  }
  if (values.out === undefined) {
    io.stdout(files.map((f) => `# ${f.path}\n${f.text}`).join('\n'));
    return EXIT.ok;
  }
  await mkdir(values.out, { recursive: true });
  for (const file of files) {
    const target = join(values.out, basename(file.path));
    await writeFile(target, file.text, { mode: 0o644 });
    io.stdout(`wrote ${target}\n`);
  }
  return EXIT.ok;
}
