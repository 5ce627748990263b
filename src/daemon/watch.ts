// Watches what can unblock or change the bootstrap: the config file, the token drop-in file and the trust
// bundle. Their folders are watched, not the files: editors and config management replace a file by deleting
// and re-creating it, which a watch on the file itself would not survive.
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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

const modeOf = (path: string) =>
  stat(path).then(
    (st) => st.mode & 0o7777,
    () => undefined,
  );

/**
 * Calls `onChange` when `file` changes mode, e.g. a token file refused as readable by others is made 0600.
 * chokidar reports a change only when the modification time moved or the file was not read since it was
 * written (its atime/mtime heuristic); a chmod moves neither, so the mode is compared on every raw event.
 * A file created or deleted is left to chokidar's own add event, which waits until it is fully written.
 */
function modeChanges(file: string, onChange: () => void) {
  let known: number | undefined;
  // Both the folder's and the file's own watcher report one chmod: look one event at a time.
  let queue = Promise.resolve();
  const check = async () => {
    const before = known;
    known = await modeOf(file);
    if (before !== undefined && known !== undefined && known !== before) onChange();
  };
  return {
    seed: async () => {
      known = await modeOf(file);
    },
    saw(name: string, details: unknown) {
      const watched = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
      if (typeof watched !== 'string') return;
      if (watched === file || join(watched, name) === file) queue = queue.then(check);
    },
  };
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
    const mode = modeChanges(paths.tokenFile, on.tokenFileArrived);
    watcher.on('ready', () => void mode.seed());
    watcher.on('raw', (_event, name, details) => mode.saw(name, details));
    watcher.on('error', (err) => logger.warn({ err: String(err) }, 'file watch failed'));
    await aborted(signal);
    await watcher.close();
  };
}
