// Watches what can unblock or change the bootstrap: the config file, the token drop-in file and the trust
// bundle. Their folders are watched, not the files: editors and config management replace a file by deleting
// and re-creating it, which a watch on the file itself would not survive.
import { dirname } from 'node:path';
import { watch } from 'chokidar';
import type { Logger } from '../observability/logger.js';
import { aborted } from './tasks.js';

export interface WatchedInputs {
  config: string;
  tokenFile: string;
  trustBundle: string | null;
}

export interface InputHandlers {
  configChanged(): void;
  tokenFileArrived(): void;
  trustBundleChanged(): void;
}

/** A task: watches until `signal` aborts. */
export function watchInputs(paths: WatchedInputs, on: InputHandlers, logger: Logger) {
  return async (signal: AbortSignal): Promise<void> => {
    const files = new Set([paths.config, paths.tokenFile, ...(paths.trustBundle ? [paths.trustBundle] : [])]);
    const dirs = new Set([...files].map((f) => dirname(f)));
    const watcher = watch([...dirs], {
      ignoreInitial: true,
      depth: 0,
      ignored: (path: string) => !files.has(path) && !dirs.has(path),
      awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 25 },
    });
    watcher.on('all', (event, path) => {
      if (event !== 'add' && event !== 'change') return;
      if (path === paths.config) on.configChanged();
      if (path === paths.tokenFile) on.tokenFileArrived();
      if (path === paths.trustBundle) on.trustBundleChanged();
    });
    watcher.on('error', (err) => logger.warn({ err: String(err) }, 'file watch failed'));
    await aborted(signal);
    await watcher.close();
  };
}
