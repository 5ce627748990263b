// Who may call the broker: users (for POST /auth/login) and API keys, each with a role and optionally the
// templates it may use, in two JSON files (0600; reloaded on SIGHUP or an edit). Only hashes are stored.

import { NAME_CHECK, oneOf, USERNAME_CHECK } from '../config/checks.js';
import { type Decoder, list, obj, Reader, str } from '../config/decode.js';
import { ConfigError } from '../config/errors.js';
import { readSecretFile } from '../token/secret-file.js';
import type { BrokerConfig } from './config.js';
import { API_KEY_HASH_CHECK, PASSWORD_HASH_CHECK } from './hash.js';

/** admin may mint join tokens (core's RBAC on /api/admin/*); viewer may log in but not mint. */
export const ROLES = ['admin', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** An authenticated caller: a user (login, then bearer JWT) or an API key. */
export interface Principal {
  readonly kind: 'user' | 'api-key';
  readonly name: string;
  readonly role: Role;
  /** Template names this caller may use; null: every template. */
  readonly templates: readonly string[] | null;
}

export interface UserRecord extends Principal {
  readonly passwordHash: string;
}

export interface ApiKeyRecord extends Principal {
  readonly hash: string;
}

export interface Credentials {
  readonly users: ReadonlyMap<string, UserRecord>;
  readonly apiKeys: readonly ApiKeyRecord[];
}

interface FileUser {
  name?: string;
  password_hash?: string;
  role?: Role;
  templates?: string[];
}
interface FileKey {
  name?: string;
  hash?: string;
  role?: Role;
  templates?: string[];
}

const role = str(oneOf(ROLES)) as Decoder<Role>;
const templates = list(str(NAME_CHECK));
const decodeUsers = obj<{ users?: FileUser[] }>({
  users: list(
    obj<FileUser>({ name: str(USERNAME_CHECK), password_hash: str(PASSWORD_HASH_CHECK), role, templates }),
  ),
});
const decodeKeys = obj<{ api_keys?: FileKey[] }>({
  api_keys: list(obj<FileKey>({ name: str(NAME_CHECK), hash: str(API_KEY_HASH_CHECK), role, templates })),
});

type Entry = { name?: string; role?: Role; templates?: string[]; password_hash?: string; hash?: string };

/** Checks the fields every record needs and the template names it refers to; returns the complete ones. */
function complete<T extends Entry>(
  items: T[],
  where: string,
  secretKey: 'password_hash' | 'hash',
  known: ReadonlySet<string>,
  reader: Reader,
): T[] {
  const seen = new Set<string>();
  return items.filter((item, i) => {
    const at = `${where}[${i}]`;
    let ok = true;
    for (const key of ['name', secretKey, 'role'] as const) {
      if (item[key] === undefined) {
        if (!reader.reported(`${at}.${key}`)) reader.expected(`${at}.${key}`, 'a value', undefined);
        ok = false;
      }
    }
    if (item.name !== undefined && seen.has(item.name)) {
      reader.expected(`${at}.name`, `a name no other entry of ${where} has`, item.name);
      ok = false;
    }
    if (item.name !== undefined) seen.add(item.name);
    for (const [j, t] of (item.templates ?? []).entries()) {
      if (!known.has(t)) {
        reader.expected(
          `${at}.templates[${j}]`,
          `one of the policy.templates names (${[...known].join(', ')})`,
          t,
        );
        ok = false;
      }
    }
    return ok;
  });
}

async function readJson(path: string, label: string): Promise<unknown> {
  let text: string | undefined;
  try {
    text = await readSecretFile(path, label, 'store');
  } catch (error) {
    throw new ConfigError(path, [{ key: path, message: `${path}: ${(error as Error).message}` }]);
  }
  if (text === undefined) throw new ConfigError(path, [{ key: path, message: `${path}: no such file` }]);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [
      { key: path, message: `${path}: expected JSON, got a syntax error: ${(error as Error).message}` },
    ]);
  }
}

function check(path: string, reader: Reader): void {
  const issues = reader.issues();
  if (issues.length > 0) throw new ConfigError(path, issues);
}

/** Reads both files (when configured); throws ConfigError naming every problem of a file. */
export async function loadCredentials(config: BrokerConfig): Promise<Credentials> {
  const known = new Set(config.policy.templates.map((t) => t.name));
  const users = new Map<string, UserRecord>();
  const apiKeys: ApiKeyRecord[] = [];
  const { usersFile, apiKeysFile } = config.auth;
  if (usersFile) {
    const reader = new Reader();
    const file = decodeUsers(await readJson(usersFile, 'users file'), '', reader) ?? {};
    for (const u of complete(file.users ?? [], 'users', 'password_hash', known, reader)) {
      const name = u.name as string;
      users.set(name, {
        kind: 'user',
        name,
        role: u.role as Role,
        templates: u.templates ?? null,
        passwordHash: u.password_hash as string,
      });
    }
    check(usersFile, reader);
  }
  if (apiKeysFile) {
    const reader = new Reader();
    const file = decodeKeys(await readJson(apiKeysFile, 'API keys file'), '', reader) ?? {};
    for (const k of complete(file.api_keys ?? [], 'api_keys', 'hash', known, reader)) {
      apiKeys.push({
        kind: 'api-key',
        name: k.name as string,
        role: k.role as Role,
        templates: k.templates ?? null,
        hash: k.hash as string,
      });
    }
    check(apiKeysFile, reader);
  }
  return { users, apiKeys };
}
