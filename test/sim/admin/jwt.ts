import { createHmac, timingSafeEqual } from 'node:crypto';

/** The claims core puts in its HS256 tokens (pkg/core/auth/jwt.go), plus `refresh` to tell the pair apart. */
export interface Claims {
  user_id: string;
  email: string;
  provider: string;
  roles: string[];
  iat: number;
  exp: number;
  refresh?: boolean;
}

const b64 = (data: string | Buffer) => Buffer.from(data).toString('base64url');
const HEADER = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

function sign(input: string, secret: Buffer): string {
  return createHmac('sha256', secret).update(input).digest('base64url');
}

/** Signs claims as a compact HS256 JWT. */
export function signJwt(claims: Claims, secret: Buffer): string {
  const body = `${HEADER}.${b64(JSON.stringify(claims))}`;
  return `${body}.${sign(body, secret)}`;
}

/** The token's claims when its signature is ours and it has not expired (exp is exclusive, as golang-jwt). */
export function verifyJwt(token: string, secret: Buffer, nowSeconds: number): Claims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  const expected = Buffer.from(sign(`${header}.${payload}`, secret));
  const given = Buffer.from(signature);
  if (header !== HEADER || given.length !== expected.length || !timingSafeEqual(given, expected))
    return undefined;
  let claims: Claims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims;
  } catch {
    return undefined;
  }
  if (typeof claims.exp !== 'number' || nowSeconds >= claims.exp) return undefined;
  return claims;
}
