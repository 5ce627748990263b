// Who is calling: `Authorization: Bearer <jwt>` from POST /auth/login, or an API key in `X-API-Key` or
// `Authorization: Bearer <key>`. Unlike ServiceRadar core (DESIGN §7), an API key carries a role of its own, so
// a key with the admin role passes /api/admin/*.

import type { IncomingHttpHeaders } from 'node:http';
import type { Credentials, Principal } from './credentials.js';
import { apiKeyDigest, apiKeyMatches } from './hash.js';
import type { Sessions } from './sessions.js';

export type AuthMethod = 'bearer' | 'api-key' | 'none';

/** A refused request, answered as core's auth layer did: 401 with one of its three messages, 403 for a role. */
export interface AuthDenial {
  readonly status: 401 | 403;
  readonly message: string;
  readonly rule: 'unauthenticated' | 'role';
}

export type AuthResult =
  | { readonly ok: true; readonly principal: Principal; readonly method: Exclude<AuthMethod, 'none'> }
  | { readonly ok: false; readonly method: AuthMethod; readonly denial: AuthDenial };

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const unauthenticated = (message: string): AuthDenial => ({ status: 401, message, rule: 'unauthenticated' });

function byApiKey(key: string, creds: Credentials): Principal | undefined {
  const digest = apiKeyDigest(key);
  // Every stored key is compared, so the time taken does not tell which one came close.
  let found: Principal | undefined;
  for (const record of creds.apiKeys) {
    if (apiKeyMatches(digest, record.hash) && !found) found = record;
  }
  return found;
}

function withoutSecret(p: Principal): Principal {
  return { kind: p.kind, name: p.name, role: p.role, templates: p.templates };
}

/** Authenticates a request's headers against the current credentials. */
export async function authenticate(
  headers: IncomingHttpHeaders,
  creds: Credentials,
  sessions: Sessions | null,
): Promise<AuthResult> {
  const authorization = headers.authorization ?? '';
  const bearer = /^Bearer +(\S+)$/i.exec(authorization)?.[1];
  if (bearer !== undefined && JWT_SHAPE.test(bearer)) {
    const name = sessions ? await sessions.verify(bearer, 'access') : null;
    const user = name === null ? undefined : creds.users.get(name);
    if (!user) return { ok: false, method: 'bearer', denial: unauthenticated('Invalid bearer token') };
    return { ok: true, principal: withoutSecret(user), method: 'bearer' };
  }
  const headerKey = headers['x-api-key'];
  const key = bearer ?? (typeof headerKey === 'string' ? headerKey : undefined);
  if (key !== undefined) {
    const found = byApiKey(key, creds);
    if (!found) return { ok: false, method: 'api-key', denial: unauthenticated('Invalid API key') };
    return { ok: true, principal: withoutSecret(found), method: 'api-key' };
  }
  return { ok: false, method: 'none', denial: unauthenticated('Authentication required') };
}

/** core's RBACMiddleware("admin") on /api/admin/*, now met by API keys too; undefined when allowed. */
export function requireAdmin(principal: Principal): AuthDenial | undefined {
  if (principal.role === 'admin') return undefined;
  return {
    status: 403,
    message: `insufficient permissions: ${principal.kind === 'user' ? 'user' : 'API key'} ${JSON.stringify(principal.name)} has role ${JSON.stringify(principal.role)}, minting join tokens needs "admin"`,
    rule: 'role',
  };
}
