// The stored forms of the broker's secrets. Passwords: scrypt, memory-hard, in PHC string format
// (`$scrypt$ln=15,r=8,p=1$<salt>$<hash>`, base64 without padding). API keys: random strings of at least 32
// characters, so a SHA-256 digest (`$sha256$<hex>`) is as strong as the key and lets a request be checked in
// microseconds without trying every stored key through a slow KDF.

import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import type { Check } from '../config/decode.js';

export const MIN_API_KEY_LENGTH = 32;
// N = 2^15, r = 8, p = 1: 32 MiB and about 0.1 s a check (golang.org/x/crypto/scrypt's recommendation for
// interactive logins); p = 3 would triple the CPU of every login, also of attempts with unknown names.
const DEFAULT = { ln: 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

const SCRYPT =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{22,88})\$([A-Za-z0-9+/]{43,88})$/;
const SHA256 = /^\$sha256\$([0-9a-f]{64})$/;

interface ScryptParams {
  ln: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function parseScrypt(stored: string): ScryptParams | null {
  const m = SCRYPT.exec(stored);
  if (!m) return null;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds keep a config file from making each login take seconds or gigabytes.
  if (ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) return null;
  return {
    ln,
    r,
    p,
    salt: Buffer.from(m[4] as string, 'base64'),
    hash: Buffer.from(m[5] as string, 'base64'),
  };
}

function derive(secret: string, salt: Buffer, params: { ln: number; r: number; p: number }, length: number) {
  const N = 2 ** params.ln;
  return new Promise<Buffer>((resolve, reject) =>
    scryptCallback(
      secret,
      salt,
      length,
      { N, r: params.r, p: params.p, maxmem: 256 * N * params.r },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

/** The stored form of a password. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, DEFAULT, KEY_BYTES);
  return `$scrypt$ln=${DEFAULT.ln},r=${DEFAULT.r},p=${DEFAULT.p}$${b64(salt)}$${b64(hash)}`;
}

// Checked against when the user is unknown, so that an unknown name costs as long as a wrong password.
const DUMMY = { ...DEFAULT, salt: randomBytes(SALT_BYTES), hash: randomBytes(KEY_BYTES) };

/** Whether `password` matches the stored form; `stored` undefined still spends the time of one check. */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const params = (stored === undefined ? null : parseScrypt(stored)) ?? DUMMY;
  const derived = await derive(password, params.salt, params, params.hash.length);
  return timingSafeEqual(derived, params.hash) && params !== DUMMY;
}

/** The stored form of an API key. */
export function hashApiKey(key: string): string {
  return `$sha256$${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** The digest to compare with each stored `$sha256$` form (see apiKeyMatches). */
export function apiKeyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Constant-time comparison of a presented key's digest with one stored form. */
export function apiKeyMatches(digest: Buffer, stored: string): boolean {
  const m = SHA256.exec(stored);
  return m !== null && timingSafeEqual(digest, Buffer.from(m[1] as string, 'hex'));
}

/** Why a secret cannot be stored in this form, or undefined. Never quotes the secret. */
export function secretProblem(secret: string, kind: 'password' | 'api-key'): string | undefined {
  if (secret === '') return 'is empty';
  if (/[\r\n]/.test(secret)) return 'has more than one line';
  if (kind === 'api-key') {
    if (/\s/.test(secret)) return 'contains whitespace';
    if (secret.length < MIN_API_KEY_LENGTH) {
      return `is ${secret.length} characters long; an API key needs at least ${MIN_API_KEY_LENGTH} random characters (e.g. openssl rand -hex 32)`;
    }
  }
  return undefined;
}

export const PASSWORD_HASH_CHECK: Check<string> = {
  test: (s) => parseScrypt(s) !== null,
  expected: 'a password hash "$scrypt$ln=…,r=…,p=…$<salt>$<hash>" (poller-bootstrap broker hash)',
};

export const API_KEY_HASH_CHECK: Check<string> = {
  test: (s) => SHA256.test(s),
  expected: 'an API key hash "$sha256$<64 hex>" (poller-bootstrap broker hash --api-key)',
};
