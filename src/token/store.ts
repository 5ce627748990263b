import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fingerprint } from './fingerprint.js';
import { fileError, readSecretFile, syncDir, writeSecretFile } from './secret-file.js';
import { checkToken } from './value.js';

// Layout: `<path>` holds the bare token, because SPIRE's `join_token_file` must contain only the token;
// `<path>.meta` (also 0600) holds {"fingerprint", "expires_at" (RFC 3339 or null)}. The meta file applies only
// while its fingerprint matches the token, so a token replaced by hand simply has an unknown expiry. The parent
// SPIFFE ID is not stored: it embeds the token itself (spiffe://<td>/spire/agent/join_token/<token>).

export interface TokenStoreOptions {
  /** The token file, e.g. /run/spire/nested/upstream-join-token. A missing directory is created 0700. */
  path: string;
}

export interface TokenToStore {
  token: string;
  expiresAt?: Date;
}

export interface StoredToken {
  token: string;
  fingerprint: string;
  /** Known only when the meta file belongs to this token. */
  expiresAt?: Date;
}

export interface TokenStore {
  readonly path: string;
  /** The stored token, or undefined when there is none. Throws when the file is readable by others. */
  read(): Promise<StoredToken | undefined>;
  write(token: TokenToStore): Promise<void>;
  /**
   * Deletes the token and its meta file; a missing file is fine. With `fingerprint`, a file that now holds another
   * token (an operator's, dropped in meanwhile) is left where it is.
   */
  consume(fingerprint?: string): Promise<void>;
}

/** The token file store: write-then-rename with mode 0600, refuse readable files, delete on consume. */
export function createTokenStore(options: TokenStoreOptions): TokenStore {
  const path = options.path;
  const metaPath = `${path}.meta`;
  return {
    path,
    async read() {
      const raw = await readSecretFile(path, 'token file', 'store');
      if (raw === undefined) return undefined;
      const token = checkToken(raw, 'store', `token file ${path}`);
      const fp = fingerprint(token);
      const expiresAt = await readMetaExpiry(metaPath, fp);
      return expiresAt ? { token, fingerprint: fp, expiresAt } : { token, fingerprint: fp };
    },
    async write({ token, expiresAt }) {
      const value = checkToken(token, 'store', 'the token to store');
      const meta = {
        fingerprint: fingerprint(value),
        expires_at: expiresAt ? expiresAt.toISOString() : null,
      };
      await step(`cannot create the directory of token file ${path}`, path, () =>
        mkdir(dirname(path), { recursive: true, mode: 0o700 }),
      );
      // Token first: a crash before the meta write leaves an old meta whose fingerprint no longer matches.
      await step(`cannot write token file ${path}`, path, () => writeSecretFile(path, value));
      await step(`cannot write token file ${metaPath}`, metaPath, () =>
        writeSecretFile(metaPath, `${JSON.stringify(meta)}\n`),
      );
    },
    async consume(expected) {
      if (expected !== undefined) {
        const held = await heldFingerprint(path);
        if (held !== undefined && held !== expected) return;
      }
      await step(`cannot delete token file ${path}`, path, () => rm(path, { force: true }));
      await step(`cannot delete token file ${metaPath}`, metaPath, () => rm(metaPath, { force: true }));
      await syncDir(dirname(path)).catch(() => undefined);
    },
  };
}

/** Whose token the file holds now, read whatever its mode: undefined for none, null for no token at all. */
async function heldFingerprint(path: string): Promise<string | null | undefined> {
  const raw = await readFile(path, 'utf8').catch(() => undefined);
  if (raw === undefined) return undefined;
  try {
    return fingerprint(checkToken(raw, 'store', `token file ${path}`));
  } catch {
    return null;
  }
}

async function readMetaExpiry(metaPath: string, fp: string): Promise<Date | undefined> {
  try {
    const meta = JSON.parse(
      (await readSecretFile(metaPath, 'token meta file', 'store')) ?? 'null',
    ) as unknown;
    if (typeof meta !== 'object' || meta === null) return undefined;
    const { fingerprint: metaFp, expires_at: at } = meta as Record<string, unknown>;
    if (metaFp !== fp || typeof at !== 'string') return undefined;
    const date = new Date(at);
    return Number.isNaN(date.getTime()) ? undefined : date;
  } catch {
    // An unreadable or malformed sidecar only means the expiry is unknown; SPIRE still enforces it.
    return undefined;
  }
}

async function step(what: string, path: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    throw fileError(what, path, 'store', err);
  }
}
