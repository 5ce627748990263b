import { TokenError } from './errors.js';

/** How to authenticate; secrets are read from 0600 files at each use, so rotating a file needs no restart. */
export type AdminAuth =
  | { kind: 'api-key'; keyFile: string }
  | { kind: 'bearer'; tokenFile: string }
  | { kind: 'login'; username: string; passwordFile: string };

export interface AdminClientOptions {
  /** Base URL of ServiceRadar core, e.g. https://core.example:8090. */
  url: string;
  auth: AdminAuth;
  /** PEM bundle used instead of the system CAs. */
  caFile?: string;
  /** Allow http:// (tests, local development); the credential then travels in clear text. */
  allowHttp?: boolean;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** Whole exchange including the body. Default 30 s. */
  timeoutMs?: number;
  now?: () => number;
}

/** Validates the options (every problem at once) and returns the base URL, ending in a slash. */
export function checkAdminOptions(o: AdminClientOptions): URL {
  const problems: string[] = [];
  // Never echo a password written into the URL.
  const shown = JSON.stringify(o.url.replace(/\/\/[^/@]*@/, '//…@'));
  let url: URL | undefined;
  try {
    url = new URL(o.url);
  } catch {
    problems.push(`url: expected an absolute https:// URL, got ${shown}`);
  }
  if (url) {
    if (url.protocol === 'http:' && !o.allowHttp) {
      problems.push(
        `url: http:// would send the credential in clear text; use https:// (or allowHttp), got ${shown}`,
      );
    } else if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      problems.push(`url: expected an https:// URL, got ${shown}`);
    }
    if (url.username || url.password)
      problems.push('url: must not carry a user or password; use auth instead');
    if (url.search || url.hash) problems.push(`url: expected no query or fragment, got ${shown}`);
  }
  for (const key of ['connectTimeoutMs', 'timeoutMs'] as const) {
    const v = o[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0))
      problems.push(`${key}: expected a positive integer, got ${v}`);
  }
  if (o.auth.kind === 'login' && o.auth.username === '')
    problems.push('auth.username: expected a non-empty user name');
  if (problems.length > 0 || !url) {
    throw new TokenError(`admin API options are invalid:\n  ${problems.join('\n  ')}`, {
      code: 'config',
      source: 'admin-api',
      retry: 'never',
    });
  }
  // Keep a trailing slash so relative paths resolve under a base path (e.g. behind a proxy prefix).
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}
