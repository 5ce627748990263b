// The daemon's directories and their modes, made before anything starts:
// - state and run dirs and everything under them: 0700, the daemon's own (identity keys, join tokens, configs
//   that may carry an inline token, the upstream agent's and nested server's sockets);
// - the downstream agent's socket folder: 0750 and the configured group, so the poller (another process, maybe
//   another user) can connect. SPIRE makes the socket itself 0777 (agent endpoints: os.Chmod(…, os.ModePerm));
//   the folder is what decides who reaches it, and who gets which identity is then the entries' selectors.

import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../config/errors.js';
import type { Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';

export interface DirectorySpec {
  readonly path: string;
  readonly mode: number;
  /** Group to give the folder; null keeps the daemon's own. */
  readonly gid: number | null;
  /** False: only created when missing (a token folder may be a read-only secrets mount). */
  readonly enforce: boolean;
}

const GROUP_KEY = 'downstream_agent.socket_group';

/** A numeric gid as is, or a name looked up in the group file (system groups; no NSS lookups from Node). */
export function resolveGroup(spec: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(spec)) return Number(spec);
  let text = '';
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch {
    // An unreadable group file is reported as an unknown group below.
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === spec && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new ConfigError(null, [
    { key: GROUP_KEY, message: `${GROUP_KEY}: no group ${JSON.stringify(spec)} in ${groupFile}` },
  ]);
}

/** Every directory the daemon or SPIRE writes, with the mode and group each must have. Pure but for the group. */
export function directorySpecs(layout: Layout, config: Pick<Config, 'downstreamAgent'>): DirectorySpec[] {
  const own = (path: string): DirectorySpec => ({ path, mode: 0o700, gid: null, enforce: true });
  const group = config.downstreamAgent.socketGroup;
  return [
    own(layout.stateDir),
    own(layout.runDir),
    own(layout.configDir),
    own(layout.upstreamAgent.dataDir),
    own(layout.upstreamAgent.keysDir),
    own(layout.downstreamAgent.dataDir),
    own(layout.downstreamAgent.keysDir),
    own(layout.nestedServer.dataDir),
    own(dirname(layout.nestedServer.keysFile)),
    { path: dirname(layout.upstreamJoinTokenFile), mode: 0o700, gid: null, enforce: false },
    own(dirname(layout.upstreamAgent.socketPath)),
    own(dirname(layout.nestedServer.socketPath)),
    {
      path: dirname(layout.downstreamAgent.socketPath),
      mode: 0o750,
      gid: group === null ? null : resolveGroup(group),
      enforce: true,
    },
  ];
}

async function prepare(dir: DirectorySpec): Promise<void> {
  const created = await mkdir(dir.path, { recursive: true, mode: dir.mode });
  if (!dir.enforce && created === undefined) return;
  const now = await stat(dir.path);
  if (dir.gid !== null && now.gid !== dir.gid) {
    try {
      await chown(dir.path, -1, dir.gid);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ConfigError(null, [
        {
          key: GROUP_KEY,
          message: `${GROUP_KEY}: cannot give ${dir.path} group ${dir.gid} (${code}): the daemon's user must be a member (systemd: SupplementaryGroups=)`,
        },
      ]);
    }
  }
  // mkdir's mode is cut by the umask and leaves an existing folder as it was.
  if ((now.mode & 0o7777) !== dir.mode) await chmod(dir.path, dir.mode);
}

/** Creates the directories and sets their modes (and the socket folder's group); a bad group is a ConfigError. */
export async function prepareDirectories(
  layout: Layout,
  config: Pick<Config, 'downstreamAgent'>,
): Promise<void> {
  for (const dir of directorySpecs(layout, config)) await prepare(dir);
}
