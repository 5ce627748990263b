// `poller-bootstrap render`: the three SPIRE configs from the current config, printed or written to a directory.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH } from '../config/defaults.js';
import { type Layout, pathLayout } from '../config/layout.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { resolveSpireVersion } from '../spire/binary-version.js';
import {
  type JoinTokenRef,
  renderDownstreamAgentConfig,
  renderNestedServerConfig,
  renderUpstreamAgentConfig,
} from '../spire/render.js';
import { formatSpireVersion, type SpireVersion, supportsJoinTokenFile } from '../spire/version.js';
import { type CliIo, EXIT } from './io.js';
import { lineDiff } from './line-diff.js';

export interface RenderedFile {
  /** Where the daemon writes it (the layout's config dir). */
  readonly path: string;
  readonly text: string;
}

// No token is read here: before 1.13.3 the token can only be inline, which render never prints. `held` is what
// the daemon writes while it holds no token (its steady state).
function tokenRef(version: SpireVersion, path: string, held = true): JoinTokenRef {
  return held && supportsJoinTokenFile(version) ? { kind: 'file', path } : { kind: 'none' };
}

/**
 * Renders upstream agent, nested server and downstream agent configs, in start order, without secrets; with
 * `tokens: false` as the daemon has them once both tokens are consumed.
 */
export function renderAll(
  config: Config,
  layout: Layout = pathLayout(config),
  tokens = true,
): RenderedFile[] {
  const { version } = config.spire;
  return [
    {
      path: layout.upstreamAgent.configFile,
      text: renderUpstreamAgentConfig(
        config,
        layout,
        tokenRef(version, layout.upstreamJoinTokenFile, tokens),
      ),
    },
    { path: layout.nestedServer.configFile, text: renderNestedServerConfig(config, layout) },
    {
      path: layout.downstreamAgent.configFile,
      text: renderDownstreamAgentConfig(config, layout, {
        joinToken: tokenRef(version, layout.downstreamAgent.joinTokenFile, tokens),
        trustBundlePath: layout.downstreamAgent.trustBundleFile,
      }),
    },
  ];
}

/** Runs `render`; argument errors throw (parseArgs), config errors throw ConfigError. */
export async function renderCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      out: { type: 'string', short: 'o' },
      check: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  // Without --config a missing default file means "environment and defaults only" (a Compose setup).
  const config = await resolveSpireVersion(
    await loadConfig(values.config ?? DEFAULT_CONFIG_PATH, {
      env: io.env,
      optional: values.config === undefined,
    }),
  );
  if (values.check) return checkRendered(config, values.out, io);
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

/**
 * `render --check`: exit 1 with a line diff for each file on disk that differs from the rendering (in --out DIR,
 * else the daemon's own files, compared as it writes them once it holds no token).
 */
async function checkRendered(config: Config, out: string | undefined, io: CliIo): Promise<number> {
  const files = renderAll(config, pathLayout(config), out !== undefined);
  let differ = 0;
  for (const file of files) {
    const path = out === undefined ? file.path : join(out, basename(file.path));
    const onDisk = await readFile(path, 'utf8').catch(() => undefined);
    if (onDisk === file.text) continue;
    differ++;
    io.stdout(
      onDisk === undefined
        ? `${path}: missing\n`
        : `--- ${path} (on disk)\n+++ rendered\n${lineDiff(onDisk, file.text).join('\n')}\n`,
    );
  }
  if (differ === 0) io.stdout(`${files.length} files up to date\n`);
  return differ === 0 ? EXIT.ok : 1;
}
