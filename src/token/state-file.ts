// A small JSON document the daemon keeps in its state directory across restarts (0600, write-then-rename):
// read once at start, a missing file being an empty start and an unreadable one reported; writes one after
// another, a failed one not stopping the next.
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeSecretFile } from './secret-file.js';

export interface StateFile {
  /** The parsed document, or undefined when there is none or it cannot be read (reported by `onProblem`). */
  read(): Promise<unknown>;
  write(value: unknown): Promise<void>;
  /** The last write, settled or not. */
  written(): Promise<void>;
}

export function stateFile(path: string, onProblem: (message: string) => void = () => {}): StateFile {
  let writing: Promise<void> = Promise.resolve();
  return {
    async read() {
      try {
        return JSON.parse(await readFile(path, 'utf8')) as unknown;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          onProblem(
            `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'not JSON'}); starting empty`,
          );
        }
        return undefined;
      }
    },
    write(value) {
      const text = `${JSON.stringify(value, null, 1)}\n`;
      writing = writing
        .catch(() => undefined)
        .then(() => mkdir(dirname(path), { recursive: true, mode: 0o700 }))
        .then(() => writeSecretFile(path, text));
      return writing;
    },
    written: () => writing,
  };
}
