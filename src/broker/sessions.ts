// Login sessions: short-lived access tokens and longer refresh tokens, both JWTs signed with the broker's
// Ed25519 key (EdDSA; a PKCS#8 PEM file, 0600, e.g. `openssl genpkey -algorithm ed25519`). The role is not
// taken from the token: each request looks the user up in the current users file, so removing a user or
// changing a role takes effect at the next request.

import { createPrivateKey, createPublicKey, type KeyObject, randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { ConfigError } from '../config/errors.js';
import { readSecretFile } from '../token/secret-file.js';
import { rfc3339 } from './reply.js';

const ISSUER = 'poller-bootstrap-broker';
const AUDIENCE = 'join-token-broker';
const ALG = 'EdDSA';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  /** RFC 3339, when the access token expires. */
  expires_at: string;
}

export interface Sessions {
  issue(username: string): Promise<TokenPair>;
  /** The user name of a valid token of this kind, or null (bad signature, expired, other kind). */
  verify(token: string, kind: 'access' | 'refresh'): Promise<string | null>;
}

export interface SessionOptions {
  keyFile: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  now?: () => number;
}

/** Reads the signing key; a missing, unreadable, group-readable or non-Ed25519 file is a ConfigError. */
export async function loadSigningKey(keyFile: string): Promise<KeyObject> {
  const fail = (why: string) =>
    new ConfigError(keyFile, [{ key: 'auth.jwt_key_file', message: `auth.jwt_key_file: ${why}` }]);
  let pem: string | undefined;
  try {
    pem = await readSecretFile(keyFile, 'JWT key file', 'store');
  } catch (error) {
    throw fail((error as Error).message);
  }
  if (pem === undefined)
    throw fail(`${keyFile} does not exist (openssl genpkey -algorithm ed25519 -out ${keyFile})`);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw fail(`expected a PEM private key in ${keyFile}, got something else`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw fail(`expected an Ed25519 key in ${keyFile}, got ${key.asymmetricKeyType ?? 'a secret key'}`);
  }
  return key;
}

/** Issues and verifies session tokens with the key in `options.keyFile`. */
export async function createSessions(options: SessionOptions): Promise<Sessions> {
  const key = await loadSigningKey(options.keyFile);
  const publicKey = createPublicKey(key);
  const now = options.now ?? Date.now;
  const sign = (username: string, kind: 'access' | 'refresh', iat: number, exp: number) =>
    new SignJWT({ typ: kind })
      .setProtectedHeader({ alg: ALG, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(username)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key);
  return {
    async issue(username) {
      const iat = Math.floor(now() / 1000);
      const exp = iat + options.accessTtlSeconds;
      return {
        access_token: await sign(username, 'access', iat, exp),
        refresh_token: await sign(username, 'refresh', iat, iat + options.refreshTtlSeconds),
        expires_at: rfc3339(new Date(exp * 1000)),
      };
    },
    async verify(token, kind) {
      try {
        const { payload } = await jwtVerify(token, publicKey, {
          algorithms: [ALG],
          issuer: ISSUER,
          audience: AUDIENCE,
          currentDate: new Date(now()),
        });
        return payload.typ === kind && typeof payload.sub === 'string' ? payload.sub : null;
      } catch (error) {
        if (error instanceof errors.JOSEError) return null;
        throw error;
      }
    },
  };
}
