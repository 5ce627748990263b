// The sd-notify addon (sd-notify.c): sends systemd notifications from the daemon's own PID, so the unit can say
// NotifyAccess=main. The single executable carries it as an asset; a dlopen needs a file, so it is written to a
// fresh private folder under the temp dir (systemd: PrivateTmp), loaded, and the folder removed at once.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sea from 'node:sea';

/** The addon's functions; errors are errno values, never exceptions. */
export interface SdNotifyAddon {
  /** One datagram to a socket path ("@name" = abstract); 0 or the errno. */
  send(path: string, message: string): number;
  /** A non-blocking datagram socket bound at path, or -errno (tests stand in for systemd with it). */
  bind(path: string): number;
  /** The next queued datagram and its sender's PID (SCM_CREDENTIALS, as systemd reads it), or null. */
  receive(fd: number): { pid: number; message: string } | null;
  close(fd: number): void;
}

/** The asset key in the single executable (scripts/package/sea.ts embeds it under this name). */
export const ADDON_ASSET = 'sd-notify.node';

/** Loads the addon from a file. */
export function loadAddonFile(path: string): SdNotifyAddon {
  const module = { exports: {} as SdNotifyAddon };
  process.dlopen(module, path, constants.dlopen.RTLD_NOW);
  return module.exports;
}

function isSea(): boolean {
  try {
    return sea.isSea();
  } catch {
    return false;
  }
}

export type AddonLoad = { addon: SdNotifyAddon } | { addon: null; reason: string };

/** The embedded addon; outside the single executable (node dist/…) there is none. */
export function loadEmbeddedAddon(dir: string = tmpdir()): AddonLoad {
  if (!isSea()) return { addon: null, reason: 'not running as the single executable' };
  let folder: string | undefined;
  try {
    folder = mkdtempSync(join(dir, 'poller-bootstrap-notify-'));
    const file = join(folder, ADDON_ASSET);
    writeFileSync(file, new Uint8Array(sea.getAsset(ADDON_ASSET)), { mode: 0o500 });
    return { addon: loadAddonFile(file) };
  } catch (error) {
    // E.g. a temp dir mounted noexec: dlopen cannot map the file.
    return { addon: null, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
  }
}
