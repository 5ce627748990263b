// Watches files that can unblock or change a running process: the daemon's config, token drop-in file and trust
// bundle; the broker's credential files. Their folders are watched, not the files: editors and config management
// replace a file by deleting and re-creating it, which a watch on the file itself would not survive.
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { watch } from 'chokidar';
import type { Logger } from '../observability/logger.js';
import { aborted, type Task } from './tasks.js';

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

/**
 * A task: calls `changed(path)` when one of `files` is written, replaced or created, until `signal` aborts.
 * `raw` sees chokidar's raw events (for what its own events miss).
 */
export function watchFiles(
  files: readonly string[],
  on: { changed(path: string): void; ready?(): void; raw?(name: string, details: unknown): void },
  logger: Logger,
): Task {
  return async (signal) => {
    if (files.length === 0) return aborted(signal);
    const wanted = new Set(files);
    const dirs = new Set(files.map((f) => dirname(f)));
    const watcher = watch([...dirs], {
      ignoreInitial: true,
      depth: 0,
      ignored: (path: string) => !wanted.has(path) && !dirs.has(path),
      awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 25 },
    });
    watcher.on('all', (event, path) => {
      if ((event === 'add' || event === 'change') && wanted.has(path)) on.changed(path);
    });
    if (on.ready) watcher.on('ready', on.ready);
    if (on.raw) {
      const raw = on.raw;
      watcher.on('raw', (_event, name, details) => raw(name, details));
    }
    watcher.on('error', (err) => logger.warn({ err: String(err) }, 'file watch failed'));
    await aborted(signal);
    await watcher.close();
  };
}

/** A task: watches the daemon's inputs until `signal` aborts. */
export function watchInputs(paths: WatchedInputs, on: InputHandlers, logger: Logger): Task {
  const mode = modeChanges(paths.tokenFile, on.tokenFileArrived);
  const files = [paths.config, paths.tokenFile, ...(paths.trustBundle ? [paths.trustBundle] : [])];
  return watchFiles(
    [...new Set(files)],
    {
      changed(path) {
        if (path === paths.config) on.configChanged();
        if (path === paths.tokenFile) on.tokenFileArrived();
        if (path === paths.trustBundle) on.trustBundleChanged();
      },
      ready: () => void mode.seed(),
      raw: (name, details) => mode.saw(name, details),
    },
    logger,
  );
}
