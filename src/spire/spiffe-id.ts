export interface SpiffeIdParts {
  trustDomain: string;
  /** With its leading slash; empty for a trust domain ID. */
  path: string;
}

// SPIFFE ID grammar (spiffe/spiffe SPIFFE-ID.md, go-spiffe spiffeid): lowercase scheme, trust domain of
// [a-z0-9._-], path segments of [A-Za-z0-9._-] that are neither empty nor '.' / '..'.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Splits a SPIFFE ID into trust domain and path, or says what is wrong with it. */
export function parseSpiffeId(id: string): SpiffeIdParts | { problem: string } {
  if (!id.startsWith('spiffe://')) return { problem: 'expected a SPIFFE ID starting with "spiffe://"' };
  if (id.length > 2048) return { problem: 'expected a SPIFFE ID of at most 2048 characters' };
  const rest = id.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (!TRUST_DOMAIN.test(trustDomain)) {
    return { problem: 'expected a trust domain of lowercase letters, digits, ".", "-" and "_"' };
  }
  if (path !== '') {
    for (const segment of path.slice(1).split('/')) {
      if (segment === '' || segment === '.' || segment === '..' || !SEGMENT.test(segment)) {
        return {
          problem:
            'expected path segments of letters, digits, ".", "-" and "_", without empty, "." or ".." segments',
        };
      }
    }
  }
  return { trustDomain, path };
}

/**
 * The spiffe:// URI SAN of a certificate, from Node's `subjectAltName` text (`URI:spiffe://…, DNS:…`), which
 * quotes a value that contains a separator.
 */
export function spiffeIdFromSan(san: string | undefined): string | undefined {
  for (const entry of (san ?? '').split(', ')) {
    if (!entry.startsWith('URI:')) continue;
    let uri = entry.slice(4);
    if (uri.startsWith('"')) {
      try {
        uri = JSON.parse(uri) as string;
      } catch {
        continue;
      }
    }
    if (uri.startsWith('spiffe://')) return uri;
  }
  return undefined;
}
