// Value rules for configuration strings: trust domains, SPIFFE IDs, selectors, hosts, paths, URLs.

import { hasControlChar } from '../common/control-chars.js';
import { parseSpiffeId as parseSpiffeIdParts } from '../spire/spiffe-id.js';
import { parseSpireVersion } from '../spire/version.js';
import type { Check } from './decode.js';

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
const SELECTOR_TYPE = /^[A-Za-z0-9_-]+$/;

export interface SpiffeId {
  readonly trustDomain: string;
  readonly path: string;
}

/** Splits `spiffe://<trust domain>/<path>`; null unless it is a valid workload SPIFFE ID (non-empty path). */
export function parseSpiffeId(text: string): SpiffeId | null {
  const parsed = parseSpiffeIdParts(text);
  return 'problem' in parsed || parsed.path === '' ? null : parsed;
}

/** Splits `<host>:<port>` (IPv6 hosts in brackets); null if malformed or the port is not 1..65535. */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!match) return null;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (!isHost(host) || port < 1 || port > 65535) return null;
  return { host, port };
}

function isHost(text: string): boolean {
  return HOST_NAME.test(text) || (text.includes(':') && IPV6.test(text));
}

export const TRUST_DOMAIN_CHECK: Check<string> = {
  test: (s) => TRUST_DOMAIN.test(s),
  expected: 'a trust domain name (lowercase letters, digits, ".", "-" and "_")',
  schema: { pattern: '^[a-z0-9._-]+$' },
};

export const SPIFFE_ID_CHECK: Check<string> = {
  test: (s) => parseSpiffeId(s) !== null,
  expected: 'a SPIFFE ID "spiffe://<trust domain>/<path>"',
  schema: { pattern: '^spiffe://[a-z0-9._-]+/.+', maxLength: 2048 },
};

export const SELECTOR_CHECK: Check<string> = {
  test: (s) => {
    const colon = s.indexOf(':');
    return colon > 0 && colon < s.length - 1 && SELECTOR_TYPE.test(s.slice(0, colon));
  },
  expected: 'a selector "<type>:<value>", e.g. "unix:uid:0"',
  schema: { pattern: '^[A-Za-z0-9_-]+:.+' },
};

export const HOST_CHECK: Check<string> = { test: isHost, expected: 'a host name or IP address' };

export const ABSOLUTE_PATH_CHECK: Check<string> = {
  test: (s) => s.startsWith('/'),
  expected: 'an absolute path',
  schema: { pattern: '^/' },
};

export const LISTEN_CHECK: Check<string> = {
  test: (s) => parseHostPort(s) !== null,
  expected: 'an address "<host>:<port>"',
  schema: { pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^:\\[\\]]+):[0-9]{1,5}$' },
};

export const HTTP_URL_CHECK: Check<string> = {
  test: (s) => {
    try {
      const url = new URL(s);
      return (
        (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === ''
      );
    } catch {
      return false;
    }
  },
  expected: 'an https:// URL without credentials in it',
  schema: { format: 'uri', pattern: '^https?://' },
};

export const NAME_CHECK: Check<string> = {
  test: (s) => /^[a-z0-9][a-z0-9_-]*$/.test(s),
  expected: 'a name of lowercase letters, digits, "-" and "_"',
  schema: { pattern: '^[a-z0-9][a-z0-9_-]*$' },
};

// systemd credential names are file names inside $CREDENTIALS_DIRECTORY.
export const CREDENTIAL_NAME_CHECK: Check<string> = {
  test: (s) => !s.includes('/') && s !== '.' && s !== '..',
  expected: 'a credential name (a file name, without "/")',
};

export const USERNAME_CHECK: Check<string> = {
  test: (s) => s.trim() === s,
  expected: 'a user name without leading or trailing spaces',
};

export const VERSION_CHECK: Check<string> = {
  test: (s) => s === 'auto' || parseSpireVersion(s) !== null,
  expected: 'a SPIRE version "<major>.<minor>.<patch>", e.g. "1.13.3", or "auto" (ask spire.agent_path)',
  schema: { pattern: '^(auto|v?[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?)$' },
};

/** `NAME=value` for a SPIRE child's environment; one line, a POSIX variable name. */
export const ENV_ASSIGNMENT_CHECK: Check<string> = {
  test: (s) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(s) && !hasControlChar(s),
  expected: 'a "NAME=value" environment assignment on one line',
  schema: { pattern: '^[A-Za-z_][A-Za-z0-9_]*=' },
};

// A POSIX group name (useradd's rules) or a numeric gid.
export const GROUP_CHECK: Check<string> = {
  test: (s) => /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(s) || /^\d{1,10}$/.test(s),
  expected: 'a group name or a numeric gid',
};

export function oneOf<T extends string>(values: readonly T[]): Check<string> {
  return {
    schema: { enum: [...values] },
    test: (s) => (values as readonly string[]).includes(s),
    expected: `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`,
  };
}
