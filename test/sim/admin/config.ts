// The simulated admin API's config file: who may log in, which API keys exist, and how core is set up.

export interface SimUser {
  username: string;
  password: string;
  roles: string[];
}

export interface AdminConfig {
  users: SimUser[];
  /** Core compares X-API-Key with one configured key and attaches no user, so roles are never consulted. */
  apiKeys: string[];
  /** Core's fallback RBAC on /api/admin/*: the `admin` role is required and an API key alone has no user. */
  rbac: boolean;
  jwtTtlSeconds: number;
  integrationEnabled: boolean;
  defaultTokenTtlSeconds: number;
  /** Name of the response field carrying the join token's agent ID (`spiffe_id` in an older core plan). */
  parentField: 'parent_spiffe_id' | 'spiffe_id';
  throttle: { maxRequests: number; perSeconds: number } | undefined;
}

const TOP_KEYS = [
  'api_keys',
  'default_token_ttl_seconds',
  'integration_enabled',
  'jwt_ttl_seconds',
  'parent_field',
  'rbac',
  'throttle',
  'users',
];

/** One message per problem in an admin simulator config, all reported together. */
export class AdminConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid admin simulator config:\n  ${problems.join('\n  ')}`);
    this.name = 'AdminConfigError';
    this.problems = problems;
  }
}

const show = (v: unknown) => `${JSON.stringify(v) ?? String(v)} (${Array.isArray(v) ? 'array' : typeof v})`;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownKeys(obj: Record<string, unknown>, allowed: string[], where: string, out: string[]): void {
  const extra = Object.keys(obj)
    .filter((k) => !allowed.includes(k))
    .sort();
  if (extra.length > 0) out.push(`${where}: unknown keys ${extra.map((k) => `\`${k}\``).join(', ')}`);
}

function int(
  obj: Record<string, unknown>,
  key: string,
  where: string,
  min: number,
  dflt: number,
  out: string[],
) {
  const v = obj[key];
  if (v === undefined) return dflt;
  if (typeof v === 'number' && Number.isInteger(v) && v >= min) return v;
  out.push(`Expected \`${where}${key}\` to be an integer >= ${min}, got ${show(v)}`);
  return dflt;
}

function bool(obj: Record<string, unknown>, key: string, dflt: boolean, out: string[]): boolean {
  const v = obj[key];
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  out.push(`Expected \`${key}\` to be a boolean, got ${show(v)}`);
  return dflt;
}

function str(obj: Record<string, unknown>, key: string, where: string, out: string[]): string {
  const v = obj[key];
  if (typeof v === 'string' && v !== '') return v;
  out.push(`Expected \`${where}.${key}\` to be a non-empty string, got ${show(v)}`);
  return '';
}

function strings(obj: Record<string, unknown>, key: string, where: string, out: string[]): string[] {
  const v = obj[key];
  if (v === undefined) return [];
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  out.push(`Expected \`${where}.${key}\` to be an array of strings, got ${show(v)}`);
  return [];
}

function list<T>(
  obj: Record<string, unknown>,
  key: string,
  out: string[],
  item: (v: unknown, w: string) => T,
) {
  const v = obj[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    out.push(`Expected \`${key}\` to be an array, got ${show(v)}`);
    return [];
  }
  return v.map((entry, i) => item(entry, `${key}[${i}]`));
}

function user(v: unknown, where: string, out: string[]): SimUser {
  if (!isObject(v)) {
    out.push(`Expected \`${where}\` to be an object, got ${show(v)}`);
    return { username: '', password: '', roles: [] };
  }
  unknownKeys(v, ['password', 'roles', 'username'], where, out);
  return {
    username: str(v, 'username', where, out),
    password: str(v, 'password', where, out),
    roles: strings(v, 'roles', where, out),
  };
}

function apiKey(v: unknown, where: string, out: string[]): string {
  if (!isObject(v)) {
    out.push(`Expected \`${where}\` to be an object, got ${show(v)}`);
    return '';
  }
  unknownKeys(v, ['key', 'roles'], where, out);
  strings(v, 'roles', where, out);
  return str(v, 'key', where, out);
}

function throttle(obj: Record<string, unknown>, out: string[]): AdminConfig['throttle'] {
  const v = obj.throttle;
  if (v === undefined) return undefined;
  if (!isObject(v)) {
    out.push(`Expected \`throttle\` to be an object, got ${show(v)}`);
    return undefined;
  }
  unknownKeys(v, ['max_requests', 'per_seconds'], 'throttle', out);
  return {
    maxRequests: int(v, 'max_requests', 'throttle.', 1, 1, out),
    perSeconds: int(v, 'per_seconds', 'throttle.', 1, 1, out),
  };
}

/** Checks a parsed config file and fills defaults; every problem is collected before throwing. */
export function parseAdminConfig(input: unknown): AdminConfig {
  const out: string[] = [];
  if (!isObject(input))
    throw new AdminConfigError([`Expected the config to be a JSON object, got ${show(input)}`]);
  unknownKeys(input, TOP_KEYS, 'config', out);
  const parentField = input.parent_field ?? 'parent_spiffe_id';
  if (parentField !== 'parent_spiffe_id' && parentField !== 'spiffe_id') {
    out.push(`Expected \`parent_field\` to be "parent_spiffe_id" or "spiffe_id", got ${show(parentField)}`);
  }
  const config: AdminConfig = {
    users: list(input, 'users', out, (v, w) => user(v, w, out)),
    apiKeys: list(input, 'api_keys', out, (v, w) => apiKey(v, w, out)),
    rbac: bool(input, 'rbac', true, out),
    // 0 is allowed on purpose: every bearer issued is already expired, for re-login tests.
    jwtTtlSeconds: int(input, 'jwt_ttl_seconds', '', 0, 3600, out),
    integrationEnabled: bool(input, 'integration_enabled', true, out),
    defaultTokenTtlSeconds: int(input, 'default_token_ttl_seconds', '', 1, 900, out),
    parentField: parentField === 'spiffe_id' ? 'spiffe_id' : 'parent_spiffe_id',
    throttle: throttle(input, out),
  };
  if (out.length > 0) throw new AdminConfigError(out);
  return config;
}
