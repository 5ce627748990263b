// An append-only JSON-lines file, 0600, rotated by size (path.1 … path.N): the daemon's token audit trail and the
// broker's issuance audit both write through it. Appends are serialised, so lines never interleave and a file is
// never rotated twice.

import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface JsonlOptions {
  path: string;
  /** Rotate before a line would take the file past this size. Default 1 MiB. */
  maxBytes?: number;
  /** Rotated files kept (path.1 … path.N). Default 5. */
  keep?: number;
}

export interface JsonlFile {
  /** Appends one record as a line; rejects with the errno error when the write fails. */
  append(record: unknown): Promise<void>;
}

async function rotate(path: string, keep: number): Promise<void> {
  if (keep < 1) {
    await rm(path, { force: true });
    return;
  }
  await rm(`${path}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    await rename(`${path}.${i}`, `${path}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  await rename(path, `${path}.1`);
}

async function currentSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

async function appendLine(path: string, line: string, maxBytes: number, keep: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const size = await currentSize(path);
  if (size > 0 && size + Buffer.byteLength(line) > maxBytes) await rotate(path, keep);
  const fh = await open(path, 'a', 0o600);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'ENOTFILE' });
    // The mode given to open() only applies on creation; a file someone loosened is tightened again.
    if ((st.mode & 0o777) !== 0o600) await fh.chmod(0o600);
    await fh.appendFile(line, 'utf8');
  } finally {
    await fh.close();
  }
}

/** Opens (lazily: nothing is touched before the first append) a JSON-lines file at `options.path`. */
export function jsonlFile(options: JsonlOptions): JsonlFile {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const keep = options.keep ?? 5;
  let queue: Promise<void> = Promise.resolve();
  return {
    append(record) {
      const line = `${JSON.stringify(record)}\n`;
      const next = queue.then(() => appendLine(options.path, line, maxBytes, keep));
      // The queue goes on after a failure; the caller sees it through the promise it got.
      queue = next.catch(() => undefined);
      return next;
    },
  };
}
