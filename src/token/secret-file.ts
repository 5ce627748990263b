import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TokenError, type TokenErrorSource } from './errors.js';

/**
 * Reads a secret file, refusing one that group or others can access; undefined when it is missing.
 * The mode is checked on the opened descriptor, so a swap between check and read cannot slip through.
 * `label` names the file in errors ("token file", "API key file"); the content never appears in them.
 */
export async function readSecretFile(
  path: string,
  label: string,
  source: TokenErrorSource,
): Promise<string | undefined> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileError(`cannot read ${label} ${path}`, path, source, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new TokenError(`${label} ${path} is not a regular file`, {
        code: 'io',
        source,
        retry: 'slow',
        path,
      });
    }
    const mode = st.mode & 0o777;
    if (mode & 0o077) {
      throw new TokenError(
        `${label} ${path} has mode ${octal(mode)}, so group or others can read it; expected 0600 (chmod 600 ${path})`,
        { code: 'insecure-file', source, retry: 'slow', path },
      );
    }
    return await fh.readFile('utf8');
  } catch (err) {
    throw err instanceof TokenError ? err : fileError(`cannot read ${label} ${path}`, path, source, err);
  } finally {
    await fh.close();
  }
}

/**
 * Writes a file with mode 0600 via a temporary sibling, fsync, rename and fsync of the directory. A file made
 * again at every start (a rendered config, a pid file) is `durable: false`: still whole or absent after a
 * crash (the rename), but not forced to disk, which costs a few milliseconds each.
 */
export async function writeSecretFile(
  path: string,
  data: string,
  { durable = true }: { durable?: boolean } = {},
): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data, 'utf8');
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  // The rename is durable only once the directory entry reaches the disk.
  if (durable) await syncDir(dir);
}

/** Flushes a directory's entries (after a rename or unlink) to disk. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A TokenError for a failed file operation; names the errno code, never the content. */
export function fileError(what: string, path: string, source: TokenErrorSource, err: unknown): TokenError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return new TokenError(`${what} (${code})`, { code: 'io', source, retry: 'slow', path, cause: err });
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
