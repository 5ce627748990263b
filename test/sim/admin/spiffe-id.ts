import type { SpiffeIdProto } from './spire.js';

// go-spiffe's spiffeid.FromString, with its error reasons, because core passes them on in its 502 messages.

const TD_CHARS = /^[a-z0-9._-]+$/;
const SEGMENT_CHARS = /^[a-zA-Z0-9._-]+$/;

/** Parses a SPIFFE ID into its proto form, or returns go-spiffe's reason for rejecting it. */
export function parseSpiffeId(id: string): SpiffeIdProto | string {
  if (id === '') return 'cannot be empty';
  if (!id.startsWith('spiffe://')) return 'scheme is missing or invalid';
  const rest = id.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const td = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (td === '') return 'trust domain is missing';
  if (!TD_CHARS.test(td)) {
    return 'trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores';
  }
  if (path !== '') {
    if (path.endsWith('/')) return 'path cannot have a trailing slash';
    for (const segment of path.slice(1).split('/')) {
      if (segment === '') return 'path cannot contain empty segments';
      if (segment === '.' || segment === '..') return 'path cannot contain dot segments';
      if (!SEGMENT_CHARS.test(segment)) {
        return 'path segment characters are limited to letters, numbers, dots, dashes, and underscores';
      }
    }
  }
  return { trust_domain: td, path };
}
